/*
 * fuzz_jsonv: request bodies through lib/jsonv.c, as http_body() takes them.
 *
 * Input: the raw body. It is parsed with jsonv_parse_object (the API's depth cap) and,
 * when it is an object, checked against copies of the handlers' field tables (they are
 * static inside api/h_*.c: keep these in step when a table changes). As in
 * h_push_subscribe, an accepted subscription's "keys" object is checked against the
 * second push table. Accepted bodies go through the getters and the value rules the
 * handlers apply next.
 *
 * Properties checked besides memory safety:
 *  - utf8_length accepts exactly what jansson accepts as a UTF-8 string, and counts the
 *    code points;
 *  - error field and detail are NUL-terminated valid UTF-8 (they are echoed in JSON), so
 *    problem_new() can carry them;
 *  - a body jsonv_check accepts has every required field with the declared type.
 */
#include "jsonv.h"
#include "problem.h"
#include "validate.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY_LIMIT 65536 /* config_defaults: api_body_limit */
#define JSON_DEPTH 16    /* api/http.h: HTTP_JSON_DEPTH */

#define fuzz_check(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Copies of the tables in api/h_*.c. */
static const struct jsonv_field accounts_create[] = {
    {"username", JV_STRING, 1, 0, 0, 0},
    {"password", JV_STRING, 1, 0, 0, 0},
    {"display_name", JV_STRING, 0, 0, 0, 1},
    JSONV_END,
};
static const struct jsonv_field sessions_create[] = {
    {"username", JV_STRING, 1, 0, 0, 0},
    {"password", JV_STRING, 1, 0, 0, 0},
    JSONV_END,
};
static const struct jsonv_field sessions_refresh[] = {
    {"refresh_token", JV_STRING, 1, 0, 0, 0},
    JSONV_END,
};
static const struct jsonv_field me_patch[] = {
    {"display_name", JV_STRING, 0, 0, 0, 0},
    {"dm_policy", JV_STRING, 0, 0, 0, 0},
    {"send_read_receipts", JV_BOOL, 0, 0, 0, 0},
    JSONV_END,
};
static const struct jsonv_field conversations_create[] = {
    {"kind", JV_STRING, 1, 0, 0, 0},
    {"user_id", JV_ID, 0, 0, 0, 0},
    {"title", JV_STRING, 0, 0, 0, 0},
    {"member_ids", JV_ARRAY, 0, 0, 0, 0},
    JSONV_END,
};
static const struct jsonv_field conversations_patch[] = {
    {"title", JV_STRING, 0, 0, 0, 0},
    {"muted_until", JV_STRING, 0, 0, 0, 1},
    JSONV_END,
};
static const struct jsonv_field conversations_decline[] = {
    {"block", JV_BOOL, 0, 0, 0, 0},
    JSONV_END,
};
static const struct jsonv_field members_add[] = {
    {"user_ids", JV_ARRAY, 1, 0, 0, 0},
    JSONV_END,
};
static const struct jsonv_field messages_send[] = {
    {"client_msg_id", JV_STRING, 1, 0, 0, 0},
    {"body", JV_STRING, 1, 0, 0, 0},
    {"reply_to", JV_ID, 0, 0, 0, 1},
    JSONV_END,
};
static const struct jsonv_field messages_edit[] = {
    {"body", JV_STRING, 1, 0, 0, 0},
    JSONV_END,
};
static const struct jsonv_field receipts_mark[] = {
    {"seq", JV_ID, 1, 0, 0, 0},
    JSONV_END,
};
static const struct jsonv_field media_create[] = {
    {"content_type", JV_STRING, 1, 1, 100, 0},
    {"size", JV_INT, 1, 0, 0, 0},
    {"filename", JV_STRING, 0, 0, 1024, 1},
    JSONV_END,
};
static const struct jsonv_field push_subscribe[] = {
    {"endpoint", JV_STRING, 1, 1, 2048, 0},
    {"keys", JV_OBJECT, 1, 0, 0, 0},
    {"expirationTime", JV_ANY, 0, 0, 0, 1},
    JSONV_END,
};
/* h_push_subscribe checks body.keys against this one in a second step. */
static const struct jsonv_field push_keys[] = {
    {"p256dh", JV_STRING, 1, 1, 200, 0},
    {"auth", JV_STRING, 1, 1, 100, 0},
    JSONV_END,
};
/* Not a handler's: every type and bound, so each branch of check_value is reachable. */
static const struct jsonv_field all_types[] = {
    {"s", JV_STRING, 0, 2, 5, 1}, {"m", JV_STRING, 0, 3, 0, 0}, {"i", JV_INT, 0, -5, 5, 0},
    {"d", JV_ID, 0, 0, 0, 1},     {"b", JV_BOOL, 0, 0, 0, 0},   {"a", JV_ARRAY, 0, 1, 3, 0},
    {"o", JV_OBJECT, 0, 0, 0, 1}, {"x", JV_ANY, 0, 0, 0, 0},    JSONV_END,
};

static const struct jsonv_field *const tables[] = {
    accounts_create,
    sessions_create,
    sessions_refresh,
    me_patch,
    conversations_create,
    conversations_patch,
    conversations_decline,
    members_add,
    messages_send,
    messages_edit,
    receipts_mark,
    media_create,
    all_types,
};

static int is_utf8_text(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    return n < cap && utf8_length(s, n) >= 0;
}

static void check_error(const struct jsonv_error *err)
{
    fuzz_check(is_utf8_text(err->field, sizeof err->field));
    fuzz_check(is_utf8_text(err->detail, sizeof err->detail));
    fuzz_check(err->detail[0] != '\0');
    /* What http_problem() does with it: both must survive as JSON strings. */
    json_t *p = problem_new(PROB_BAD_REQUEST, err->detail, err->field);
    fuzz_check(json_object_get(p, "detail") != NULL);
    if (err->field[0])
        fuzz_check(json_object_get(p, "field") != NULL);
    char *text = json_dumps(p, JSON_COMPACT | JSON_ENSURE_ASCII);
    fuzz_check(text != NULL);
    free(text);
    json_decref(p);
}

static int type_ok(enum jsonv_type t, const json_t *v)
{
    switch (t) {
    case JV_STRING:
        return json_is_string(v);
    case JV_INT:
        return json_is_integer(v);
    case JV_ID:
        return json_is_integer(v) && json_integer_value(v) >= 1;
    case JV_BOOL:
        return json_is_boolean(v);
    case JV_ARRAY:
        return json_is_array(v);
    case JV_OBJECT:
        return json_is_object(v);
    case JV_ANY:
        return 1;
    }
    return 0;
}

static void check_accepted(const json_t *obj, const struct jsonv_field *fields)
{
    for (const struct jsonv_field *f = fields; f->name; f++) {
        const json_t *v = json_object_get(obj, f->name);
        int present = jsonv_has(obj, f->name);
        if (f->required)
            fuzz_check(v != NULL && (present || !f->nullable));
        if (!present)
            continue;
        fuzz_check(type_ok(f->type, v));
        if (f->type == JV_STRING) {
            const char *s = jsonv_str(obj, f->name, NULL);
            fuzz_check(s != NULL && strlen(s) == json_string_length(v));
            long long cps = utf8_length(s, strlen(s));
            fuzz_check(cps >= 0);
            if (f->max > 0)
                fuzz_check(cps >= f->min && cps <= f->max);
            /* The value rules handlers apply to these fields next. */
            if (strcmp(f->name, "display_name") == 0)
                (void)validate_display_name(s);
            else if (strcmp(f->name, "body") == 0)
                (void)validate_body(s);
            else if (strcmp(f->name, "client_msg_id") == 0)
                (void)validate_uuid(s);
            else if (strcmp(f->name, "title") == 0)
                (void)validate_title(s);
            else if (strcmp(f->name, "muted_until") == 0)
                (void)validate_timestamp(s);
        } else if (f->type == JV_INT || f->type == JV_ID) {
            long long n = jsonv_int(obj, f->name, 0);
            if (f->type == JV_ID)
                fuzz_check(n >= 1);
            if (f->max > f->min)
                fuzz_check(n >= f->min && n <= f->max);
        }
    }
}

/* Independent count: code points are the bytes that are not continuation bytes. */
static long long count_starts(const uint8_t *d, size_t n)
{
    long long c = 0;
    for (size_t i = 0; i < n; i++)
        c += (d[i] & 0xC0) != 0x80;
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jsonv_error err;

    /* utf8_length against jansson's own UTF-8 check (json_stringn validates). */
    long long cps = utf8_length((const char *)data, size);
    json_t *js = json_stringn((const char *)data, size);
    fuzz_check((cps >= 0) == (js != NULL));
    if (cps >= 0)
        fuzz_check(cps == count_starts(data, size));
    json_decref(js);

    json_t *obj = jsonv_parse_object((const char *)data, size, BODY_LIMIT, JSON_DEPTH, &err);
    if (!obj) {
        check_error(&err);
        fuzz_check(!err.too_large || size > BODY_LIMIT);
        return 0;
    }
    fuzz_check(json_is_object(obj));
    fuzz_check(jsonv_depth(obj) <= JSON_DEPTH);
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        if (jsonv_check(obj, tables[t], &err) == 0)
            check_accepted(obj, tables[t]);
        else
            check_error(&err);
    }
    if (jsonv_check(obj, push_subscribe, &err) == 0) {
        const json_t *keys = json_object_get(obj, "keys");
        check_accepted(obj, push_subscribe);
        if (jsonv_check(keys, push_keys, &err) == 0)
            check_accepted(keys, push_keys);
        else
            check_error(&err);
    } else {
        check_error(&err);
    }
    json_decref(obj);
    return 0;
}

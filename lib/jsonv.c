/*
 * jsonv: bounded JSON parsing and field-table validation of request bodies.
 *
 * Owns nothing beyond the reference returned by jsonv_parse_object(). Error
 * details go into the caller's struct jsonv_error (fixed buffers, truncated and
 * kept valid UTF-8 so they can be echoed in JSON). Thread-safe: no shared state.
 */
#include "jsonv.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at u (avail bytes), or 0 if it is invalid. */
static size_t seq_len(const unsigned char *u, size_t avail)
{
    unsigned c = u[0];
    size_t len;
    unsigned long cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) { /* C0 and C1 could only start overlongs */
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((u[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (u[k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

long long utf8_length(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    long long count = 0;
    size_t i = 0;
    while (i < n) {
        size_t len = seq_len(u + i, n - i);
        if (len == 0)
            return -1;
        i += len;
        count++;
    }
    return count;
}

/*
 * Error texts are echoed to clients inside JSON, and jansson refuses invalid
 * UTF-8 strings, so anything cut mid-sequence by truncation becomes '?'.
 */
static void sanitize_utf8(char *s)
{
    unsigned char *u = (unsigned char *)s;
    size_t n = strlen(s);
    size_t i = 0;
    while (i < n) {
        size_t len = seq_len(u + i, n - i);
        if (len == 0) {
            u[i] = '?';
            len = 1;
        }
        i += len;
    }
}

static void set_detail(struct jsonv_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_detail(struct jsonv_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof err->detail, fmt, ap);
    va_end(ap);
    sanitize_utf8(err->detail);
}

static void copy_text(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap)
        n = cap - 1;
    memmove(dst, s, n);
    dst[n] = '\0';
    sanitize_utf8(dst);
}

static void fail(struct jsonv_error *err, const char *field, const char *detail)
{
    copy_text(err->field, sizeof err->field, field ? field : "");
    copy_text(err->detail, sizeof err->detail, detail);
}

int jsonv_depth(const json_t *v)
{
    int max = 0;
    if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child)
        {
            int d = jsonv_depth(child);
            if (d > max)
                max = d;
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
        {
            int d = jsonv_depth(child);
            if (d > max)
                max = d;
        }
        return max + 1;
    }
    return 0;
}

json_t *jsonv_parse_object(const char *buf, size_t len, size_t max_len, int max_depth,
                           struct jsonv_error *err)
{
    json_error_t jerr;
    json_t *root = NULL;

    memset(err, 0, sizeof *err);
    if (len > max_len) {
        err->too_large = 1;
        set_detail(err, "body is larger than %zu bytes", max_len);
        goto fail;
    }
    if (!buf || len == 0) {
        set_detail(err, "body is empty; expected a JSON object");
        goto fail;
    }
    /* No JSON_DECODE_ANY (top level must be a container), no JSON_ALLOW_NUL
     * ("\u0000" is refused), trailing data after the value is an error. */
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        set_detail(err, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                   jerr.text);
        goto fail;
    }
    if (!json_is_object(root)) {
        set_detail(err, "body must be a JSON object");
        goto fail;
    }
    if (jsonv_depth(root) > max_depth) {
        set_detail(err, "body is nested deeper than %d levels", max_depth);
        goto fail;
    }
    return root;

fail:
    json_decref(root);
    return NULL;
}

static const struct jsonv_field *find_field(const struct jsonv_field *fields, const char *key)
{
    for (const struct jsonv_field *f = fields; f->name; f++)
        if (strcmp(f->name, key) == 0)
            return f;
    return NULL;
}

static int check_string(const struct jsonv_field *f, const json_t *v, struct jsonv_error *err)
{
    const char *s = json_string_value(v);
    size_t bytes = json_string_length(v);
    if (strlen(s) != bytes) {
        fail(err, f->name, "must not contain NUL characters");
        return -1;
    }
    long long cps = utf8_length(s, bytes);
    if (cps < 0) {
        fail(err, f->name, "must be valid UTF-8");
        return -1;
    }
    if (f->max > 0 && (cps < f->min || cps > f->max)) {
        if (f->min > 0)
            set_detail(err, "must be between %lld and %lld characters long", f->min, f->max);
        else
            set_detail(err, "must be at most %lld characters long", f->max);
        copy_text(err->field, sizeof err->field, f->name);
        return -1;
    }
    if (f->max <= 0 && cps < f->min) {
        set_detail(err, "must be at least %lld characters long", f->min);
        copy_text(err->field, sizeof err->field, f->name);
        return -1;
    }
    return 0;
}

static int check_int(const struct jsonv_field *f, const json_t *v, struct jsonv_error *err)
{
    long long n = (long long)json_integer_value(v);
    if (f->type == JV_ID && n < 1) {
        fail(err, f->name, "must be a positive integer");
        return -1;
    }
    /* Bounds apply only when given: max > min. */
    if (f->max > f->min && (n < f->min || n > f->max)) {
        set_detail(err, "must be between %lld and %lld", f->min, f->max);
        copy_text(err->field, sizeof err->field, f->name);
        return -1;
    }
    return 0;
}

static int check_value(const struct jsonv_field *f, const json_t *v, struct jsonv_error *err)
{
    switch (f->type) {
    case JV_STRING:
        if (!json_is_string(v))
            goto wrong_type;
        return check_string(f, v, err);
    case JV_INT:
    case JV_ID:
        if (!json_is_integer(v))
            goto wrong_type;
        return check_int(f, v, err);
    case JV_BOOL:
        if (!json_is_boolean(v))
            goto wrong_type;
        return 0;
    case JV_ARRAY:
        if (!json_is_array(v))
            goto wrong_type;
        if (f->max > 0 &&
            ((long long)json_array_size(v) < f->min || (long long)json_array_size(v) > f->max)) {
            set_detail(err, "must have between %lld and %lld items", f->min, f->max);
            copy_text(err->field, sizeof err->field, f->name);
            return -1;
        }
        return 0;
    case JV_OBJECT:
        if (!json_is_object(v))
            goto wrong_type;
        return 0;
    case JV_ANY:
        return 0;
    }
    fail(err, f->name, "has an unsupported type in the field table");
    return -1;

wrong_type:
    switch (f->type) {
    case JV_STRING:
        fail(err, f->name, "must be a string");
        break;
    case JV_INT:
        fail(err, f->name, "must be an integer");
        break;
    case JV_ID:
        fail(err, f->name, "must be a positive integer");
        break;
    case JV_BOOL:
        fail(err, f->name, "must be a boolean");
        break;
    case JV_ARRAY:
        fail(err, f->name, "must be an array");
        break;
    default:
        fail(err, f->name, "must be an object");
        break;
    }
    return -1;
}

int jsonv_check(const json_t *obj, const struct jsonv_field *fields, struct jsonv_error *err)
{
    const char *key;
    json_t *v;

    memset(err, 0, sizeof *err);
    if (!json_is_object(obj)) {
        fail(err, "", "body must be a JSON object");
        return -1;
    }
    json_object_foreach((json_t *)obj, key, v)
    {
        if (!find_field(fields, key)) {
            fail(err, key, "unknown field");
            return -1;
        }
    }
    for (const struct jsonv_field *f = fields; f->name; f++) {
        v = json_object_get(obj, f->name);
        if (!v || (json_is_null(v) && f->nullable)) {
            if (f->required) {
                fail(err, f->name, "is required");
                return -1;
            }
            continue;
        }
        if (check_value(f, v, err) != 0)
            return -1;
    }
    return 0;
}

const char *jsonv_str(const json_t *obj, const char *key, const char *def)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : def;
}

long long jsonv_int(const json_t *obj, const char *key, long long def)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}

int jsonv_has(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return v != NULL && !json_is_null(v);
}

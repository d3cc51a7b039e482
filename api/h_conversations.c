/*
 * h_conversations: opening, listing, reading and changing conversations.
 *
 * POST /v1/conversations                  201 created | 200 existing direct | 400 | 403 | 404 | 422
 * GET  /v1/conversations?filter=&cursor=&limit=   200 ConversationPage | 400
 * GET  /v1/conversations/{id}             200 Conversation (with members) | 404
 * PATCH /v1/conversations/{id}            200 Conversation | 400 | 403 | 404 | 422
 * POST /v1/conversations/{id}/accept      200 Conversation | 404 | 409 (not a request)
 * POST /v1/conversations/{id}/decline     204 | 404 | 409
 *
 * The writes are PL/pgSQL functions (db/migrations/0003) returning a status
 * word; the shapes come from missive_conversation_view (0004).
 */
#include "handlers.h"

#include "access.h"
#include "validate.h"

#include <stdlib.h>
#include <string.h>

/* Answers status with the conversation as the caller sees it. */
void h_answer_conversation(struct req *r, int status, long long id, int with_members)
{
    const char *p[3] = {access_itoa(r, id), access_itoa(r, r->user_id),
                        with_members ? "true" : "false"};
    PGresult *res = NULL;
    enum db_status st = db_exec(r->db, &res, "SELECT missive_conversation_view($1, $2, $3)", 3, p);

    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
        http_problem(r, PROB_NOT_FOUND, NULL, "There is no conversation %lld that you are in.", id);
    else
        http_text(r, status, "application/json", PQgetvalue(res, 0, 0),
                  (size_t)PQgetlength(res, 0, 0));
    PQclear(res);
}

static void open_direct(struct req *r, const json_t *body)
{
    long long target = jsonv_int(body, "user_id", 0);
    PGresult *res = NULL;
    enum db_status st;
    const char *p[2] = {access_itoa(r, r->user_id), access_itoa(r, target)};

    if (target < 1) {
        http_problem(r, PROB_BAD_REQUEST, "user_id",
                     "A direct conversation needs the other person's user_id.");
        return;
    }
    st = db_exec(r->db, &res, "SELECT status, conversation_id FROM missive_open_direct($1, $2)", 2,
                 p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    const char *s = PQgetvalue(res, 0, 0);
    long long id = PQgetisnull(res, 0, 1) ? 0 : strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    if (strcmp(s, "created") == 0)
        h_answer_conversation(r, 201, id, 1);
    else if (strcmp(s, "existing") == 0)
        h_answer_conversation(r, 200, id, 1);
    else if (strcmp(s, "self") == 0)
        http_problem(r, PROB_VALIDATION, "user_id", "You cannot open a conversation with yourself.");
    else if (strcmp(s, "no_user") == 0)
        http_problem(r, PROB_NOT_FOUND, "user_id", "There is no user %lld.", target);
    else if (strcmp(s, "blocked") == 0)
        http_problem(r, PROB_FORBIDDEN, "user_id",
                     "You cannot message this person: one of you has blocked the other.");
    else
        http_problem(r, PROB_FORBIDDEN, "user_id",
                     "This person does not accept conversations from you.");
    PQclear(res);
}

/* Copies a JSON array of ids into "{1,2,3}" text; -1 after answering on a bad element. */
static const char *id_array(struct req *r, const json_t *arr, const char *field)
{
    size_t i, n = json_array_size(arr);
    char *out = arena_alloc(r->arena, n * 21 + 3), *o = out;
    const json_t *v;

    *o++ = '{';
    json_array_foreach(arr, i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            http_problem(r, PROB_BAD_REQUEST, field, "'%s' must be an array of user ids.", field);
            return NULL;
        }
        o += sprintf(o, "%s%lld", i ? "," : "", (long long)json_integer_value(v));
    }
    *o++ = '}';
    *o = '\0';
    return out;
}

static void create_group(struct req *r, const json_t *body)
{
    const char *title = jsonv_str(body, "title", NULL);
    const json_t *ids = json_object_get(body, "member_ids");
    const char *idtext;
    PGresult *res = NULL;
    enum db_status st;
    long long max = r->app->cfg->group_max_members;

    if (!title || !validate_title(title)) {
        http_problem(r, PROB_VALIDATION, "title", "A group needs a title of 1 to 128 characters.");
        return;
    }
    if (jsonv_has(body, "user_id")) {
        http_problem(r, PROB_BAD_REQUEST, "user_id", "user_id is for direct conversations.");
        return;
    }
    if (ids && json_array_size(ids) >= (size_t)max) {
        http_problem(r, PROB_VALIDATION, "member_ids", "A group has at most %lld members.", max);
        return;
    }
    idtext = ids ? id_array(r, ids, "member_ids") : "{}";
    if (!idtext)
        return;
    const char *p[4] = {access_itoa(r, r->user_id), title, idtext, access_itoa(r, max)};
    st = db_exec(r->db, &res,
                 "SELECT status, conversation_id, bad_id FROM missive_create_group($1, $2, $3, $4)",
                 4, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    const char *s = PQgetvalue(res, 0, 0);
    if (strcmp(s, "created") == 0)
        h_answer_conversation(r, 201, strtoll(PQgetvalue(res, 0, 1), NULL, 10), 1);
    else if (strcmp(s, "no_user") == 0)
        http_problem(r, PROB_VALIDATION, "member_ids", "There is no user %s.", PQgetvalue(res, 0, 2));
    else if (strcmp(s, "blocked") == 0)
        http_problem(r, PROB_FORBIDDEN, "member_ids", "User %s cannot be added by you.",
                     PQgetvalue(res, 0, 2));
    else
        http_problem(r, PROB_VALIDATION, "member_ids", "A group has at most %lld members.", max);
    PQclear(res);
}

void h_conversations_create(struct req *r)
{
    static const struct jsonv_field fields[] = {
        {"kind", JV_STRING, 1, 0, 0, 0},
        {"user_id", JV_ID, 0, 0, 0, 0},
        {"title", JV_STRING, 0, 0, 0, 0},
        {"member_ids", JV_ARRAY, 0, 0, 0, 0},
        JSONV_END,
    };
    json_t *body = http_body(r, fields);
    const char *kind;

    if (!body)
        return;
    kind = jsonv_str(body, "kind", "");
    if (strcmp(kind, "direct") == 0) {
        if (jsonv_has(body, "title") || jsonv_has(body, "member_ids")) {
            http_problem(r, PROB_BAD_REQUEST, jsonv_has(body, "title") ? "title" : "member_ids",
                         "A direct conversation takes only user_id.");
            return;
        }
        open_direct(r, body);
    } else if (strcmp(kind, "group") == 0) {
        create_group(r, body);
    } else {
        http_problem(r, PROB_VALIDATION, "kind", "kind is \"direct\" or \"group\".");
    }
}

void h_conversations_list(struct req *r)
{
    int bad = 0;
    const char *filter = http_query(r, "filter", &bad), *cursor, *state = "active";
    long long limit, c_us = 0x7fffffffffffffffLL, c_id = 0x7fffffffffffffffLL;
    PGresult *res = NULL;
    enum db_status st;

    if (bad)
        return;
    cursor = http_query(r, "cursor", &bad);
    if (bad || http_query_int(r, "limit", 1, 100, 20, &limit) != 0)
        return;
    if (filter && strcmp(filter, "requests") == 0) {
        state = "request";
    } else if (filter && strcmp(filter, "all") != 0 && *filter) {
        http_problem(r, PROB_BAD_REQUEST, "filter", "filter is \"all\" or \"requests\".");
        return;
    }
    if (cursor && *cursor &&
        (sscanf(cursor, "%lld.%lld", &c_us, &c_id) != 2 || c_us < 0 || c_id < 1)) {
        http_problem(r, PROB_BAD_REQUEST, "cursor", "The cursor is not one this API gave out.");
        return;
    }
    const char *p[5] = {access_itoa(r, r->user_id), state, access_itoa(r, c_us),
                        access_itoa(r, c_id), access_itoa(r, limit + 1)};
    st = db_exec(r->db, &res,
                 "WITH page AS ("
                 "  SELECT c.id, (extract(epoch FROM c.last_activity_at) * 1000000)::bigint AS us"
                 "  FROM members m JOIN conversations c ON c.id = m.conversation_id"
                 "  WHERE m.user_id = $1 AND m.state = $2"
                 "  AND ((extract(epoch FROM c.last_activity_at) * 1000000)::bigint, c.id)"
                 "      < ($3::bigint, $4::bigint)"
                 "  ORDER BY 2 DESC, c.id DESC LIMIT $5)"
                 " SELECT missive_conversation_view(page.id, $1, false)::text, page.us, page.id"
                 " FROM page ORDER BY page.us DESC, page.id DESC",
                 5, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    int n = PQntuples(res), shown = n > limit ? (int)limit : n;
    size_t cap = 64;
    for (int i = 0; i < shown; i++)
        cap += (size_t)PQgetlength(res, i, 0) + 1;
    char *out = arena_alloc(r->arena, cap), *o = out;
    o += sprintf(o, "{\"conversations\":[");
    for (int i = 0; i < shown; i++) {
        if (i)
            *o++ = ',';
        memcpy(o, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
        o += PQgetlength(res, i, 0);
    }
    *o = '\0';
    const char *next = n > limit ? arena_sprintf(r->arena, "\"%s.%s\"", PQgetvalue(res, shown - 1, 1),
                                                 PQgetvalue(res, shown - 1, 2))
                                 : "null";
    char *text = arena_sprintf(r->arena, "%s],\"next_cursor\":%s}", out, next);
    http_text(r, 200, "application/json", text, strlen(text));
    PQclear(res);
}

void h_conversations_get(struct req *r)
{
    long long id;
    struct membership m;
    if (http_path_id(r, 0, "id", &id) != 0 || access_member(r, id, &m) != 0)
        return;
    h_answer_conversation(r, 200, id, 1);
}

void h_conversations_patch(struct req *r)
{
    static const struct jsonv_field fields[] = {
        {"title", JV_STRING, 0, 0, 0, 0},
        {"muted_until", JV_STRING, 0, 0, 0, 1},
        JSONV_END,
    };
    long long id;
    json_t *body;
    const char *title, *muted = NULL;
    int set_mute;
    PGresult *res = NULL;
    enum db_status st;

    if (http_path_id(r, 0, "id", &id) != 0 || !(body = http_body(r, fields)))
        return;
    title = jsonv_str(body, "title", NULL);
    set_mute = json_object_get(body, "muted_until") != NULL;
    if (set_mute)
        muted = jsonv_str(body, "muted_until", NULL); /* null unmutes */
    if (title && !validate_title(title)) {
        http_problem(r, PROB_VALIDATION, "title", "A title is 1 to 128 characters.");
        return;
    }
    if (muted && !validate_timestamp(muted)) {
        http_problem(r, PROB_VALIDATION, "muted_until",
                     "muted_until is an RFC 3339 date-time such as 2030-01-01T00:00:00Z, or null.");
        return;
    }
    const char *p[6] = {access_itoa(r, id), access_itoa(r, r->user_id), title ? "true" : "false",
                        title,          set_mute ? "true" : "false",  muted};
    st = db_exec(r->db, &res,
                 "SELECT missive_update_conversation($1, $2, $3, $4, $5, $6::timestamptz)", 6, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    const char *s = PQgetvalue(res, 0, 0);
    if (strcmp(s, "ok") == 0)
        h_answer_conversation(r, 200, id, 1);
    else if (strcmp(s, "not_found") == 0)
        http_problem(r, PROB_NOT_FOUND, NULL, "There is no conversation %lld that you are in.", id);
    else if (strcmp(s, "not_group") == 0)
        http_problem(r, PROB_VALIDATION, "title", "Only groups have titles.");
    else
        http_problem(r, PROB_FORBIDDEN, "title", "Only the group's owner and admins can rename it.");
    PQclear(res);
}

static void answer_request(struct req *r, int accept)
{
    static const struct jsonv_field fields[] = {
        {"block", JV_BOOL, 0, 0, 0, 0},
        JSONV_END,
    };
    long long id;
    int block = 0;
    PGresult *res = NULL;
    enum db_status st;

    if (http_path_id(r, 0, "id", &id) != 0)
        return;
    if (!accept && r->body_len > 0) {
        json_t *body = http_body(r, fields);
        if (!body)
            return;
        block = json_is_true(json_object_get(body, "block"));
    }
    const char *p[4] = {access_itoa(r, id), access_itoa(r, r->user_id), accept ? "true" : "false",
                        block ? "true" : "false"};
    st = db_exec(r->db, &res, "SELECT missive_answer_request($1, $2, $3, $4)", 4, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    const char *s = PQgetvalue(res, 0, 0);
    if (strcmp(s, "ok") == 0) {
        if (accept)
            h_answer_conversation(r, 200, id, 1);
        else
            http_empty(r, 204);
    } else if (strcmp(s, "not_request") == 0) {
        http_problem(r, PROB_CONFLICT, NULL, "This conversation is not a pending message request.");
    } else {
        http_problem(r, PROB_NOT_FOUND, NULL, "There is no conversation %lld that you are in.", id);
    }
    PQclear(res);
}

void h_conversations_accept(struct req *r)
{
    answer_request(r, 1);
}

void h_conversations_decline(struct req *r)
{
    answer_request(r, 0);
}

/*
 * h_users: the caller's own account and the user directory.
 *
 * GET /v1/me            200 User  401
 * PATCH /v1/me          200 User  400  401  422
 * GET /v1/users?q=&limit=&cursor=   200 UserPage  400  401
 * GET /v1/users/{id}    200 PublicUser  400  401  404
 */
#include "handlers.h"

#include "validate.h"

#include <stdlib.h>
#include <string.h>

json_t *h_user_json(const PGresult *res, int row, int full)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(strtoll(PQgetvalue(res, row, 0), NULL, 10)));
    json_object_set_new(o, "username", json_string(PQgetvalue(res, row, 1)));
    json_object_set_new(o, "display_name", json_string(PQgetvalue(res, row, 2)));
    if (full) {
        json_object_set_new(o, "created_at", json_string(PQgetvalue(res, row, 3)));
        json_object_set_new(o, "dm_policy", json_string(PQgetvalue(res, row, 4)));
        json_object_set_new(o, "send_read_receipts",
                            json_boolean(PQgetvalue(res, row, 5)[0] == 't'));
        json_object_set_new(o, "push_previews", json_boolean(PQgetvalue(res, row, 6)[0] == 't'));
    }
    return o;
}

static void answer_one(struct req *r, const char *sql, long long id, int full)
{
    char idtext[24];
    const char *p[1] = {idtext};
    PGresult *res = NULL;
    enum db_status st;

    snprintf(idtext, sizeof idtext, "%lld", id);
    st = db_exec(r->db, &res, sql, 1, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    if (PQntuples(res) == 0)
        http_problem(r, PROB_NOT_FOUND, NULL, "There is no user with this id.");
    else
        http_json(r, 200, h_user_json(res, 0, full));
    PQclear(res);
}

void h_me_get(struct req *r)
{
    answer_one(r, "SELECT " H_USER_COLUMNS " FROM users WHERE id = $1", r->user_id, 1);
}

void h_me_patch(struct req *r)
{
    static const struct jsonv_field fields[] = {
        {"display_name", JV_STRING, 0, 0, 0, 0},
        {"dm_policy", JV_STRING, 0, 0, 0, 0},
        {"send_read_receipts", JV_BOOL, 0, 0, 0, 0},
        {"push_previews", JV_BOOL, 0, 0, 0, 0},
        JSONV_END,
    };
    json_t *body = http_body(r, fields);
    const char *display, *policy;
    char idtext[24];
    PGresult *res = NULL;
    enum db_status st;

    if (!body)
        return;
    display = jsonv_str(body, "display_name", NULL);
    policy = jsonv_str(body, "dm_policy", NULL);
    if (policy && strcmp(policy, "anyone") != 0 && strcmp(policy, "groups") != 0 &&
        strcmp(policy, "nobody") != 0) {
        http_problem(r, PROB_VALIDATION, "dm_policy",
                     "dm_policy is \"anyone\", \"groups\" (people you share a group with) or "
                     "\"nobody\".");
        return;
    }
    if (display && !validate_display_name(display)) {
        http_problem(r, PROB_VALIDATION, "display_name",
                     "A display name is 1 to 64 characters with no control characters.");
        return;
    }
    snprintf(idtext, sizeof idtext, "%lld", r->user_id);
    const json_t *receipts = json_object_get(body, "send_read_receipts");
    const json_t *previews = json_object_get(body, "push_previews");
    const char *p[5] = {idtext, display, policy,
                        receipts ? (json_is_true(receipts) ? "true" : "false") : NULL,
                        previews ? (json_is_true(previews) ? "true" : "false") : NULL};
    st = db_exec(r->db, &res,
                 "UPDATE users SET display_name = coalesce($2, display_name),"
                 " dm_policy = coalesce($3, dm_policy),"
                 " send_read_receipts = coalesce($4::boolean, send_read_receipts),"
                 " push_previews = coalesce($5::boolean, push_previews), updated_at = now()"
                 " WHERE id = $1 RETURNING " H_USER_COLUMNS,
                 5, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    if (PQntuples(res) == 0)
        http_problem(r, PROB_NOT_FOUND, NULL, "The account no longer exists.");
    else
        http_json(r, 200, h_user_json(res, 0, 1));
    PQclear(res);
}

/* Usernames are [a-z0-9_.]; q and cursor are held to that alphabet, lower-cased. */
static char *username_like(struct arena *a, const char *s, size_t maxlen, int escape)
{
    size_t n = strlen(s);
    char *out, *o;
    if (n == 0 || n > maxlen)
        return NULL;
    out = o = arena_alloc(a, 2 * n + 2);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return NULL;
        if (escape && c == '_')
            *o++ = '\\';
        *o++ = c;
    }
    if (escape)
        *o++ = '%';
    *o = '\0';
    return out;
}

void h_users_search(struct req *r)
{
    int bad = 0;
    const char *q = http_query(r, "q", &bad), *cursor;
    const char *pattern = "%", *after = "";
    long long limit;
    char limtext[24];
    PGresult *res = NULL;
    enum db_status st;

    if (bad)
        return;
    cursor = http_query(r, "cursor", &bad);
    if (bad || http_query_int(r, "limit", 1, 100, 20, &limit) != 0)
        return;
    if (q && *q) {
        pattern = username_like(r->arena, q, 32, 1);
        if (!pattern) {
            /* Nothing can match a prefix outside the username alphabet. */
            json_t *page = json_pack("{s:[],s:n}", "users", "next_cursor");
            http_json(r, 200, page);
            return;
        }
    }
    if (cursor && *cursor) {
        after = username_like(r->arena, cursor, 32, 0);
        if (!after) {
            http_problem(r, PROB_BAD_REQUEST, "cursor", "The cursor is not one this API gave out.");
            return;
        }
    }
    snprintf(limtext, sizeof limtext, "%lld", limit + 1);
    const char *p[3] = {pattern, after, limtext};
    st = db_exec(r->db, &res,
                 "SELECT id, username, display_name FROM users"
                 " WHERE username LIKE $1 AND username > $2 ORDER BY username LIMIT $3",
                 3, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    int n = PQntuples(res), shown = n > limit ? (int)limit : n;
    json_t *users = json_array();
    for (int i = 0; i < shown; i++)
        json_array_append_new(users, h_user_json(res, i, 0));
    json_t *next = n > limit ? json_string(PQgetvalue(res, shown - 1, 1)) : json_null();
    http_json(r, 200, json_pack("{s:o,s:o}", "users", users, "next_cursor", next));
    PQclear(res);
}

void h_users_get(struct req *r)
{
    long long id;
    if (http_path_id(r, 0, "id", &id) != 0)
        return;
    answer_one(r, "SELECT id, username, display_name FROM users WHERE id = $1", id, 0);
}

/*
 * h_members: group membership.
 *
 * POST   /v1/conversations/{id}/members {user_ids}   200 Conversation | 400 | 403 | 404 | 422
 * DELETE /v1/conversations/{id}/members/{user_id}    204 | 400 | 403 | 404 | 409
 *
 * Owners and admins add; anyone may leave; admins remove members, only the owner
 * removes admins, nobody removes the owner (the owner leaving hands the group on).
 */
#include "handlers.h"

#include "access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void h_members_add(struct req *r)
{
    static const struct jsonv_field fields[] = {
        {"user_ids", JV_ARRAY, 1, 0, 0, 0},
        JSONV_END,
    };
    long long id, max = r->app->cfg->group_max_members;
    json_t *body;
    const json_t *ids, *v;
    size_t i, n;
    char *text, *o;
    PGresult *res = NULL;
    enum db_status st;

    if (http_path_id(r, 0, "id", &id) != 0 || !(body = http_body(r, fields)))
        return;
    ids = json_object_get(body, "user_ids");
    n = json_array_size(ids);
    if (n == 0 || n > (size_t)max) {
        http_problem(r, PROB_VALIDATION, "user_ids", "Add 1 to %lld users at a time.", max);
        return;
    }
    text = o = arena_alloc(r->arena, n * 21 + 3);
    *o++ = '{';
    json_array_foreach(ids, i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            http_problem(r, PROB_BAD_REQUEST, "user_ids", "user_ids must be an array of user ids.");
            return;
        }
        o += sprintf(o, "%s%lld", i ? "," : "", (long long)json_integer_value(v));
    }
    strcpy(o, "}");
    const char *p[4] = {access_itoa(r, id), access_itoa(r, r->user_id), text, access_itoa(r, max)};
    st = db_exec(r->db, &res, "SELECT status, bad_id FROM missive_add_members($1, $2, $3, $4)", 4,
                 p);
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
        http_problem(r, PROB_FORBIDDEN, NULL, "A direct conversation has no members to add.");
    else if (strcmp(s, "forbidden") == 0)
        http_problem(r, PROB_FORBIDDEN, NULL, "Only the group's owner and admins can add members.");
    else if (strcmp(s, "no_user") == 0)
        http_problem(r, PROB_VALIDATION, "user_ids", "There is no user %s.", PQgetvalue(res, 0, 1));
    else if (strcmp(s, "blocked") == 0)
        http_problem(r, PROB_FORBIDDEN, "user_ids", "User %s cannot be added by you.",
                     PQgetvalue(res, 0, 1));
    else
        http_problem(r, PROB_VALIDATION, "user_ids", "A group has at most %lld members.", max);
    PQclear(res);
}

void h_members_remove(struct req *r)
{
    long long id, target;
    PGresult *res = NULL;
    enum db_status st;

    if (http_path_id(r, 0, "id", &id) != 0 || http_path_id(r, 1, "user_id", &target) != 0)
        return;
    const char *p[3] = {access_itoa(r, id), access_itoa(r, r->user_id), access_itoa(r, target)};
    st = db_exec(r->db, &res, "SELECT missive_remove_member($1, $2, $3)", 3, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    const char *s = PQgetvalue(res, 0, 0);
    if (strcmp(s, "ok") == 0)
        http_empty(r, 204);
    else if (strcmp(s, "not_found") == 0)
        http_problem(r, PROB_NOT_FOUND, NULL, "There is no conversation %lld that you are in.", id);
    else if (strcmp(s, "no_member") == 0)
        http_problem(r, PROB_NOT_FOUND, "user_id", "User %lld is not a member of this group.",
                     target);
    else if (strcmp(s, "not_group") == 0)
        http_problem(r, PROB_CONFLICT, NULL,
                     "Nobody leaves a direct conversation; block the person instead.");
    else
        http_problem(r, PROB_FORBIDDEN, "user_id", "You cannot remove this member.");
    PQclear(res);
}

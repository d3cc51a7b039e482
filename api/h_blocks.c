/*
 * h_blocks: the caller's block list.
 *
 * PUT    /v1/blocks/{user_id}   204 | 400 | 404 | 422 (yourself)
 * DELETE /v1/blocks/{user_id}   204 | 400
 * GET    /v1/blocks             200 {"blocks":[{user, created_at}]}
 *
 * A block is one-way and silent: the blocked person is not told. Either side of
 * a block can no longer open or write in their direct conversation.
 */
#include "handlers.h"

#include "access.h"

void h_blocks_put(struct req *r)
{
    long long target;
    PGresult *res = NULL;
    enum db_status st;

    if (http_path_id(r, 0, "user_id", &target) != 0)
        return;
    if (target == r->user_id) {
        http_problem(r, PROB_VALIDATION, "user_id", "You cannot block yourself.");
        return;
    }
    const char *p[2] = {access_itoa(r, r->user_id), access_itoa(r, target)};
    st = db_exec(r->db, &res,
                 "WITH target AS (SELECT id FROM users WHERE id = $2),"
                 " ins AS (INSERT INTO blocks (blocker_id, blocked_id)"
                 "  SELECT $1, id FROM target ON CONFLICT DO NOTHING)"
                 " SELECT count(*) FROM target",
                 2, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    if (PQgetvalue(res, 0, 0)[0] == '0')
        http_problem(r, PROB_NOT_FOUND, "user_id", "There is no user %lld.", target);
    else
        http_empty(r, 204);
    PQclear(res);
}

void h_blocks_delete(struct req *r)
{
    long long target;
    enum db_status st;

    if (http_path_id(r, 0, "user_id", &target) != 0)
        return;
    const char *p[2] = {access_itoa(r, r->user_id), access_itoa(r, target)};
    st = db_exec(r->db, NULL, "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2", 2, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    http_empty(r, 204);
}

void h_blocks_list(struct req *r)
{
    const char *p[1] = {access_itoa(r, r->user_id)};
    PGresult *res = NULL;
    enum db_status st = db_exec(
        r->db, &res,
        "SELECT jsonb_build_object('blocks', coalesce(jsonb_agg(jsonb_build_object("
        "  'user', jsonb_build_object('id', u.id, 'username', u.username,"
        "                             'display_name', u.display_name),"
        "  'created_at', missive_ts(b.created_at)) ORDER BY b.created_at, u.id), '[]'::jsonb))"
        " FROM blocks b JOIN users u ON u.id = b.blocked_id WHERE b.blocker_id = $1",
        1, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    http_text(r, 200, "application/json", PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    PQclear(res);
}

/*
 * access: membership checks shared by the conversation handlers.
 */
#include "access.h"

#include <stdio.h>
#include <stdlib.h>

const char *access_itoa(struct req *r, long long v)
{
    return arena_sprintf(r->arena, "%lld", v);
}

int access_member(struct req *r, long long id, struct membership *out)
{
    const char *p[2] = {access_itoa(r, id), access_itoa(r, r->user_id)};
    PGresult *res = NULL;
    enum db_status st;
    int rc = -1;

    st = db_exec(r->db, &res,
                 "SELECT c.kind, m.role, m.state, m.joined_seq, c.last_seq"
                 " FROM members m JOIN conversations c ON c.id = m.conversation_id"
                 " WHERE m.conversation_id = $1 AND m.user_id = $2"
                 " AND m.state IN ('active', 'request')",
                 2, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        goto out;
    }
    if (PQntuples(res) == 0) {
        http_problem(r, PROB_NOT_FOUND, NULL, "There is no conversation %lld that you are in.", id);
        goto out;
    }
    snprintf(out->kind, sizeof out->kind, "%s", PQgetvalue(res, 0, 0));
    snprintf(out->role, sizeof out->role, "%s", PQgetvalue(res, 0, 1));
    snprintf(out->state, sizeof out->state, "%s", PQgetvalue(res, 0, 2));
    out->joined_seq = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    out->last_seq = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    rc = 0;
out:
    PQclear(res);
    return rc;
}

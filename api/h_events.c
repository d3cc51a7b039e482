/*
 * h_events: the caller's event stream by plain polling.
 *
 * GET /v1/events?cursor=POS&limit=N   200 {"events":[Event], "cursor": POS}  | 400
 *
 * Events come in pos order, only from conversations the caller belonged to at
 * each event's time (member_spans), and private events only to their user. The
 * returned cursor is the last pos given (or the one passed in when there is
 * nothing new), to pass back on the next call. Long-polling (timeout=) is
 * missive-sse's; with timeout absent or 0 both answer the same.
 */
#include "handlers.h"

#include "access.h"

#include <stdio.h>
#include <string.h>

/* The query both this handler and missive-sse use: $1 user, $2 cursor, $3 limit. */
#define EVENTS_SQL                                                                                \
    "SELECT e.pos, jsonb_build_object('pos', e.pos, 'type', e.type,"                              \
    "  'conversation_id', e.conversation_id, 'actor_id', e.actor_id,"                             \
    "  'created_at', missive_ts(e.created_at), 'data', e.payload)::text"                          \
    " FROM member_spans s"                                                                        \
    " JOIN events e ON e.conversation_id = s.conversation_id AND e.pos >= s.from_pos"             \
    "  AND (s.to_pos IS NULL OR e.pos <= s.to_pos)"                                               \
    " WHERE s.user_id = $1 AND e.pos > $2 AND (s.to_pos IS NULL OR s.to_pos > $2)"                \
    "  AND (e.only_user_id IS NULL OR e.only_user_id = $1)"                                       \
    " ORDER BY e.pos LIMIT $3"

void h_events_list(struct req *r)
{
    long long cursor, limit, timeout;
    PGresult *res = NULL;
    enum db_status st;

    if (http_query_int(r, "cursor", 0, 0x7fffffffffffffffLL, 0, &cursor) != 0 ||
        http_query_int(r, "limit", 1, 1000, 100, &limit) != 0 ||
        http_query_int(r, "timeout", 0, 60, 0, &timeout) != 0)
        return;
    const char *p[3] = {access_itoa(r, r->user_id), access_itoa(r, cursor), access_itoa(r, limit)};
    st = db_exec(r->db, &res, EVENTS_SQL, 3, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    int n = PQntuples(res);
    size_t cap = 96;
    for (int i = 0; i < n; i++)
        cap += (size_t)PQgetlength(res, i, 1) + 1;
    char *out = arena_alloc(r->arena, cap), *o = out;
    o += sprintf(o, "{\"events\":[");
    for (int i = 0; i < n; i++) {
        if (i)
            *o++ = ',';
        memcpy(o, PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1));
        o += PQgetlength(res, i, 1);
    }
    o += sprintf(o, "],\"cursor\":%s}", n ? PQgetvalue(res, n - 1, 0) : access_itoa(r, cursor));
    http_text(r, 200, "application/json", out, (size_t)(o - out));
    PQclear(res);
}

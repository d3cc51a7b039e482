/*
 * h_events: the caller's event stream by plain polling.
 *
 * GET /v1/events?cursor=POS&limit=N   200 {"events":[Event], "cursor": POS}  | 400
 *
 * Events come in pos order, only from conversations the caller belonged to at
 * each event's time (member_spans), and private events only to their user. The
 * returned cursor is the last pos given (or the one passed in when there is
 * nothing new), to pass back on the next call. missive_events_for (0005) is the
 * same query missive-sse replays with. Long-polling (timeout=) is
 * missive-sse's; with timeout absent or 0 both answer the same.
 */
#include "handlers.h"

#include "access.h"

#include <stdio.h>
#include <string.h>

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
    st = db_exec(r->db, &res, "SELECT pos, json FROM missive_events_for($1, $2, $3)", 3, p);
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

/*
 * sweep: housekeeping that nobody waits for. Spent or expired stream tickets,
 * and sessions that ended more than a day ago (with their refresh tokens).
 */
#include "job.h"

#include "log.h"

#include <stdlib.h>

int sweep_pass(const struct config *cfg, struct db *db)
{
    PGresult *r = NULL;
    int n = 0;
    (void)cfg;

    if (db_exec(db, &r,
                "WITH t AS (DELETE FROM stream_tickets WHERE expires_at < now() - interval '10 minutes'"
                "  RETURNING 1),"
                " s AS (DELETE FROM sessions WHERE (revoked_at < now() - interval '1 day'"
                "  OR expires_at < now() - interval '1 day')"
                "  AND NOT EXISTS (SELECT 1 FROM stream_tickets st WHERE st.session_id = sessions.id)"
                "  RETURNING 1)"
                " SELECT (SELECT count(*) FROM t) + (SELECT count(*) FROM s)",
                0, NULL) != DB_OK) {
        log_warn("sweep", "%s", db_last_error(db));
        return -1;
    }
    n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (n)
        log_info("sweep", "removed %d expired tickets and ended sessions", n);
    return 0; /* nothing to repeat at once */
}

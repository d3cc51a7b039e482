/*
 * sweep: housekeeping that nobody waits for. Spent or expired stream tickets,
 * sessions that ended more than a day ago (with their refresh tokens), and media
 * nobody can reach any more (see sweep_media).
 */
#include "job.h"

#include "log.h"
#include "storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Media rows claimed per statement, and at most this many batches per pass. */
#define MEDIA_BATCH 100
#define MEDIA_MAX_BATCHES 20
/* A ready media whose holding messages were all deleted goes after this grace,
 * counted from the last send that checked it (such a send may still be committing). */
#define MEDIA_ORPHAN_GRACE "10 minutes"

/*
 * Media objects, object first and row after:
 *   - pending (never sent) media older than media_abandon_after (a day);
 *   - ready media that no live message holds: held before but all holding messages
 *     deleted (after MEDIA_ORPHAN_GRACE), or never held (a send that checked it and
 *     then failed) after media_abandon_after.
 * Rows are first claimed (state 'deleting': invisible, cannot be attached), then
 * their objects deleted, then the rows. An object that fails to go keeps its row
 * in 'deleting', retried on the next pass, so nothing is leaked by a store outage
 * or a worker killed halfway. Returns the rows removed, or -1.
 */
static int sweep_media(const struct config *cfg, struct db *db)
{
    static struct storage *st; /* one per process; the worker is single-threaded */
    char err[256], secs[24], limit[16];
    int removed = 0;

    if (!st) {
        st = storage_new(cfg, err, sizeof err);
        if (!st) {
            log_error("sweep", "media storage: %s", err);
            return -1;
        }
    }
    snprintf(secs, sizeof secs, "%d", cfg->media_abandon_after);
    snprintf(limit, sizeof limit, "%d", MEDIA_BATCH);
    for (int batch = 0; batch < MEDIA_MAX_BATCHES; batch++) {
        const char *p[2] = {secs, limit};
        PGresult *r = NULL;
        if (db_exec(db, &r,
                    "UPDATE media SET state = 'deleting' WHERE id IN ("
                    " SELECT m.id FROM media m"
                    " WHERE m.state = 'deleting'"
                    "  OR (m.state = 'pending' AND m.created_at < now() - make_interval(secs => $1::int))"
                    "  OR (m.state = 'ready'"
                    "   AND NOT EXISTS (SELECT 1 FROM media_holders h JOIN messages msg"
                    "     ON msg.conversation_id = h.conversation_id AND msg.seq = h.seq"
                    "     WHERE h.media_id = m.id AND msg.deleted_at IS NULL)"
                    "   AND coalesce(m.checked_at, m.ready_at) < now() - CASE"
                    "     WHEN EXISTS (SELECT 1 FROM media_holders h WHERE h.media_id = m.id)"
                    "     THEN interval '" MEDIA_ORPHAN_GRACE "'"
                    "     ELSE make_interval(secs => $1::int) END)"
                    " ORDER BY m.id LIMIT $2::int FOR UPDATE SKIP LOCKED)"
                    " RETURNING id, storage_key",
                    2, p) != DB_OK) {
            log_warn("sweep", "media: %s", db_last_error(db));
            return -1;
        }
        int n = PQntuples(r), gone = 0;
        char *ids = calloc((size_t)n + 1, 24);
        if (!ids) {
            PQclear(r);
            return -1;
        }
        strcpy(ids, "{");
        for (int i = 0; i < n; i++) {
            const char *key = PQgetvalue(r, i, 1);
            if (storage_delete(st, key) != 0) {
                log_warn("sweep", "media %s: object %s not deleted; retrying next pass",
                         PQgetvalue(r, i, 0), key);
                continue;
            }
            if (gone++)
                strcat(ids, ",");
            strcat(ids, PQgetvalue(r, i, 0));
        }
        strcat(ids, "}");
        PQclear(r);
        r = NULL;
        if (gone) {
            const char *q[1] = {ids};
            if (db_exec(db, NULL, "DELETE FROM media WHERE id = ANY($1::bigint[]) AND state = 'deleting'",
                        1, q) != DB_OK) {
                log_warn("sweep", "media: %s", db_last_error(db));
                free(ids);
                return -1;
            }
            removed += gone;
        }
        free(ids);
        if (n < MEDIA_BATCH || gone == 0)
            break;
    }
    if (removed)
        log_info("sweep", "removed %d unreachable media (objects and rows)", removed);
    return removed;
}

int sweep_pass(const struct config *cfg, struct db *db)
{
    PGresult *r = NULL;
    int n = 0;

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
    if (sweep_media(cfg, db) < 0)
        return -1;
    return 0; /* nothing to repeat at once */
}

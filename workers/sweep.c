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
 * counted from the last send that checked it (such a send may still be committing).
 * The trigger in db/migrations/0007_media.sql queues it with the same delay. */
#define MEDIA_ORPHAN_GRACE "10 minutes"

/*
 * Which media are unreachable now: claims them (state 'deleting': invisible, cannot
 * be attached). Pending uploads older than media_abandon_after come from an index;
 * ready media only from the media_sweep queue (filled by sends and by message
 * deletes), so no pass ever scans all media. A due queue entry whose media is held
 * by a live message is dropped, one not yet old enough is put off. Returns the
 * number claimed, or -1.
 */
static int claim_media(const struct config *cfg, struct db *db)
{
    char secs[24], limit[16];
    const char *p[2] = {secs, limit};
    PGresult *r = NULL;
    int n;

    snprintf(secs, sizeof secs, "%d", cfg->media_abandon_after);
    snprintf(limit, sizeof limit, "%d", MEDIA_BATCH * 5);
    if (db_exec(db, &r,
                "WITH due AS ("
                "  SELECT s.media_id, m.state,"
                "   coalesce(m.checked_at, m.ready_at, m.created_at) + CASE"
                "    WHEN EXISTS (SELECT 1 FROM media_holders h WHERE h.media_id = m.id)"
                "    THEN interval '" MEDIA_ORPHAN_GRACE "'"
                "    ELSE make_interval(secs => $1::int) END AS deletable_at,"
                "   EXISTS (SELECT 1 FROM media_holders h JOIN messages msg"
                "     ON msg.conversation_id = h.conversation_id AND msg.seq = h.seq"
                "     WHERE h.media_id = m.id AND msg.deleted_at IS NULL) AS live"
                "  FROM media_sweep s JOIN media m ON m.id = s.media_id"
                "  WHERE s.due_at <= now() ORDER BY s.due_at LIMIT $2::int"
                "  FOR UPDATE OF s SKIP LOCKED),"
                " dropped AS (DELETE FROM media_sweep s USING due"
                "  WHERE s.media_id = due.media_id AND (due.live OR due.state <> 'ready'"
                "   OR due.deletable_at <= now())),"
                " later AS (UPDATE media_sweep s SET due_at = due.deletable_at FROM due"
                "  WHERE s.media_id = due.media_id AND NOT due.live AND due.state = 'ready'"
                "   AND due.deletable_at > now()),"
                " orphans AS (UPDATE media m SET state = 'deleting' FROM due"
                "  WHERE m.id = due.media_id AND NOT due.live AND due.state = 'ready'"
                "   AND due.deletable_at <= now() RETURNING 1),"
                " abandoned AS (UPDATE media SET state = 'deleting' WHERE id IN ("
                "  SELECT id FROM media WHERE state = 'pending'"
                "   AND created_at < now() - make_interval(secs => $1::int)"
                "  ORDER BY created_at LIMIT $2::int FOR UPDATE SKIP LOCKED) RETURNING 1)"
                " SELECT (SELECT count(*) FROM orphans) + (SELECT count(*) FROM abandoned)",
                2, p) != DB_OK) {
        log_warn("sweep", "media: %s", db_last_error(db));
        return -1;
    }
    n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/*
 * Media nobody can reach any more, object first and row after:
 *   - pending (never sent) media older than media_abandon_after (a day);
 *   - ready media that no live message holds: held before but all holding messages
 *     deleted (after MEDIA_ORPHAN_GRACE), or never held (a send that checked it and
 *     then failed) after media_abandon_after.
 * Claimed rows ('deleting') have their objects (the original and its thumbnail)
 * deleted, then the rows go. When an object cannot be deleted (store down) the
 * pass stops there: the rest stay claimed and are retried on the next pass, so a
 * store outage or a worker killed halfway leaks nothing and a pass never waits on
 * more than one timeout.
 * Returns the rows removed, or -1.
 */
static int sweep_media(const struct config *cfg, struct db *db)
{
    static struct storage *st; /* one per process; the worker is single-threaded */
    char err[256], limit[16];
    int removed = 0, failed = 0;

    if (!st) {
        st = storage_new(cfg, err, sizeof err);
        if (!st) {
            log_error("sweep", "media storage: %s", err);
            return -1;
        }
    }
    if (claim_media(cfg, db) < 0)
        return -1;
    snprintf(limit, sizeof limit, "%d", MEDIA_BATCH);
    for (int batch = 0; batch < MEDIA_MAX_BATCHES && !failed; batch++) {
        const char *p[1] = {limit};
        PGresult *r = NULL;
        if (db_exec(db, &r,
                    "SELECT id, storage_key, thumb_key FROM media WHERE state = 'deleting'"
                    " ORDER BY id LIMIT $1::int",
                    1, p) != DB_OK) {
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
            /* The original, then its thumbnail (thumb_key is recorded before the
             * thumbs job writes it, so one may be there whatever thumb_state says). */
            const char *keys[2] = {PQgetvalue(r, i, 1),
                                   PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2)};
            for (int k = 0; k < 2 && !failed; k++) {
                if (keys[k] && storage_delete(st, keys[k]) != 0) {
                    log_warn("sweep", "media %s: object %s not deleted; retrying on the next pass",
                             PQgetvalue(r, i, 0), keys[k]);
                    failed = 1;
                }
            }
            if (failed)
                break;
            if (gone++)
                strcat(ids, ",");
            strcat(ids, PQgetvalue(r, i, 0));
        }
        strcat(ids, "}");
        PQclear(r);
        if (gone) {
            const char *q[1] = {ids};
            if (db_exec(db, NULL,
                        "DELETE FROM media WHERE id = ANY($1::bigint[]) AND state = 'deleting'",
                        1, q) != DB_OK) {
                log_warn("sweep", "media: %s", db_last_error(db));
                free(ids);
                return -1;
            }
            removed += gone;
        }
        free(ids);
        if (n < MEDIA_BATCH)
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

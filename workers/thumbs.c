/*
 * thumbs: thumbnails of the images sent in messages (docs/media.md).
 *
 * A trigger (db/migrations/0010_thumbs.sql) marks an image thumb_state 'wanted'
 * when a send makes it ready, and NOTIFYs missive_thumbs. One pass:
 *   1. claim up to THUMBS_BATCH wanted rows (SKIP LOCKED): count an attempt and
 *      stamp thumb_tried_at, committed at once, so an image that crashes or hangs
 *      the worker is taken again only after THUMBS_RETRY_AFTER, and is marked
 *      failed after THUMBS_MAX_ATTEMPTS;
 *   2. for each: record a fresh random thumb_key, or keep the one an earlier
 *      attempt recorded (before the object exists, so the sweep always knows
 *      what to delete), read the original from the store,
 *      make the thumbnail (lib/thumb.c: libvips, refusing anything but the
 *      declared type within the limits), write it under thumb_key, and mark the
 *      row done. If the row was claimed by the sweep meanwhile, the new object is
 *      deleted again. An image that cannot be read is marked failed with the
 *      reason, for good. A store that cannot be reached stops the pass and gives
 *      the attempt back: the row is taken again on a later pass.
 * At most THUMBS_PER_PASS images per pass, so the other jobs of the process get
 * their turn; when more wait, next_ms asks to run again at once.
 *
 * Single-threaded like the rest of missive-worker; several workers may run at
 * once (claims are SKIP LOCKED and each row is finished with a guarded UPDATE).
 */
#include "job.h"

#include "log.h"
#include "storage.h"
#include "thumb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THUMBS_BATCH        "10"
#define THUMBS_PER_PASS     50
#define THUMBS_MAX_ATTEMPTS "3"
/* A claim older than this was abandoned (worker killed, or the image killed it):
 * longer than one image can take (THUMB_TIMEOUT_MS, and a GET and a PUT of at
 * most 300 s each). */
#define THUMBS_RETRY_AFTER "15 minutes"

static struct {
    struct storage *st;
    struct thumb *th;
    long next_ms; /* -1: nothing known to be waiting */
} T = {NULL, NULL, -1};

enum outcome { DONE, FAILED, GONE, STORE_DOWN, DB_DOWN };

int thumbs_init(const struct config *cfg)
{
    char err[256];

    T.st = storage_new(cfg, err, sizeof err);
    if (!T.st) {
        log_error("thumbs", "media storage: %s", err);
        return -1;
    }
    T.th = thumb_new(err, sizeof err);
    if (!T.th) {
        log_error("thumbs", "%s", err);
        storage_free(T.st);
        T.st = NULL;
        return -1;
    }
    return 0;
}

void thumbs_fini(void)
{
    thumb_free(T.th);
    storage_free(T.st);
    T.th = NULL;
    T.st = NULL;
}

long thumbs_next_ms(void)
{
    return T.next_ms;
}

/* Marks the row failed for good, with the reason (for operators). */
static enum outcome fail(struct db *db, const char *id, const char *why)
{
    const char *p[2] = {id, why};
    log_info("thumbs", "media %s: no thumbnail: %s", id, why);
    if (db_exec(db, NULL,
                "UPDATE media SET thumb_state = 'failed', thumb_error = left($2, 300)"
                " WHERE id = $1 AND thumb_state = 'wanted'",
                2, p) != DB_OK) {
        log_warn("thumbs", "media %s: %s", id, db_last_error(db));
        return DB_DOWN;
    }
    return FAILED;
}

/* Gives a claimed row back without counting the attempt: taken again next pass. */
static void release(struct db *db, const char *id)
{
    const char *p[1] = {id};
    if (db_exec(db, NULL,
                "UPDATE media SET thumb_attempts = greatest(thumb_attempts - 1, 0),"
                " thumb_tried_at = NULL WHERE id = $1 AND thumb_state = 'wanted'",
                1, p) != DB_OK)
        log_warn("thumbs", "media %s: %s", id, db_last_error(db));
}

/* The store did not answer: not the image's fault. */
static enum outcome store_down(struct db *db, const char *id)
{
    release(db, id);
    return STORE_DOWN;
}

/* Makes the thumbnail of one claimed row: id, storage_key, content_type, thumb_key. */
static enum outcome make_one(struct db *db, const char *id, const char *key, const char *ctype,
                             const char *old_thumb_key)
{
    char thumb_key[STORAGE_KEY_MAX + 1], why[256];
    struct thumb_image img = {NULL, 0, 0, 0};
    unsigned char *data = NULL;
    PGresult *r = NULL;
    size_t len = 0;
    enum outcome rc;
    int got;

    if (old_thumb_key && *old_thumb_key) {
        /* An earlier attempt recorded it and may have written it: reuse it. */
        snprintf(thumb_key, sizeof thumb_key, "%s", old_thumb_key);
    } else {
        const char *p[2] = {id, thumb_key};
        if (storage_new_key(THUMB_CONTENT_TYPE, thumb_key) != 0)
            return fail(db, id, "no key for " THUMB_CONTENT_TYPE);
        if (db_exec(db, &r,
                    "UPDATE media SET thumb_key = $2 WHERE id = $1 AND thumb_state = 'wanted'"
                    " AND state = 'ready' AND thumb_key IS NULL RETURNING 1",
                    2, p) != DB_OK) {
            log_warn("thumbs", "media %s: %s", id, db_last_error(db));
            return DB_DOWN;
        }
        int claimed = PQntuples(r) == 1;
        PQclear(r);
        r = NULL;
        if (!claimed)
            return GONE; /* swept, or finished by another worker */
    }

    got = storage_get(T.st, key, THUMB_MAX_INPUT, &data, &len);
    if (got < 0) {
        rc = store_down(db, id);
        goto out;
    }
    if (got == 1) {
        rc = fail(db, id, "the original is missing from the store");
        goto out;
    }
    if (got == 2) {
        rc = fail(db, id, "the original is too large to read");
        goto out;
    }
    if (thumb_make(T.th, data, len, ctype, &img, why, sizeof why) != 0) {
        rc = fail(db, id, why);
        goto out;
    }
    if (storage_put(T.st, thumb_key, THUMB_CONTENT_TYPE, img.data, img.len) != 0) {
        rc = store_down(db, id);
        goto out;
    }
    const char *p[2] = {id, thumb_key};
    if (db_exec(db, &r,
                "UPDATE media SET thumb_state = 'done', thumb_error = NULL"
                " WHERE id = $1 AND thumb_key = $2 AND thumb_state = 'wanted' AND state = 'ready'"
                " RETURNING 1",
                2, p) != DB_OK) {
        /* Recorded in thumb_key: the sweep removes it with the media if it stays. */
        log_warn("thumbs", "media %s: %s", id, db_last_error(db));
        rc = DB_DOWN;
        goto out;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        r = NULL;
        /* Another worker finished it (same key: keep it), or the sweep claimed the
         * media while we worked and may have deleted the key before we wrote it. */
        if (db_exec(db, &r,
                    "SELECT 1 FROM media WHERE id = $1 AND thumb_key = $2 AND state = 'ready'", 2,
                    p) != DB_OK) {
            log_warn("thumbs", "media %s: %s", id, db_last_error(db));
            rc = DB_DOWN;
            goto out;
        }
        if (PQntuples(r) == 0 && storage_delete(T.st, thumb_key) != 0)
            log_warn("thumbs", "media %s: thumbnail %s left in the store", id, thumb_key);
        rc = GONE;
        goto out;
    }
    log_debug("thumbs", "media %s: %dx%d thumbnail, %zu bytes", id, img.width, img.height, img.len);
    rc = DONE;
out:
    PQclear(r);
    free(img.data);
    free(data);
    return rc;
}

int thumbs_pass(const struct config *cfg, struct db *db)
{
    int done = 0, failed = 0, seen = 0, stop = 0;
    (void)cfg;

    T.next_ms = -1;
    while (!stop && seen < THUMBS_PER_PASS) {
        const char *p[2] = {THUMBS_BATCH, THUMBS_MAX_ATTEMPTS};
        PGresult *r = NULL;
        if (db_exec(db, &r,
                    "WITH c AS (SELECT id FROM media WHERE thumb_state = 'wanted'"
                    "  AND state = 'ready' AND (thumb_tried_at IS NULL"
                    "   OR thumb_tried_at < now() - interval '" THUMBS_RETRY_AFTER "')"
                    "  ORDER BY id LIMIT $1::int FOR UPDATE SKIP LOCKED),"
                    " given_up AS (UPDATE media m SET thumb_state = 'failed',"
                    "  thumb_error = 'gave up after ' || m.thumb_attempts || ' attempts'"
                    "  FROM c WHERE m.id = c.id AND m.thumb_attempts >= $2::int RETURNING m.id),"
                    " claimed AS (UPDATE media m SET thumb_attempts = m.thumb_attempts + 1,"
                    "  thumb_tried_at = now()"
                    "  FROM c WHERE m.id = c.id AND m.thumb_attempts < $2::int"
                    "  RETURNING m.id, m.storage_key, m.content_type, m.thumb_key)"
                    " SELECT id, storage_key, content_type, thumb_key,"
                    "  (SELECT count(*) FROM given_up) FROM claimed ORDER BY id",
                    2, p) != DB_OK) {
            log_warn("thumbs", "claim: %s", db_last_error(db));
            return -1;
        }
        int n = PQntuples(r);
        if (n > 0) /* (given up rows with none claimed go uncounted in the log) */
            failed += atoi(PQgetvalue(r, 0, 4));
        for (int i = 0; i < n; i++) {
            if (stop) {
                release(db, PQgetvalue(r, i, 0)); /* claimed, not started */
                continue;
            }
            seen++;
            switch (make_one(db, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                             PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3))) {
            case DONE:
                done++;
                break;
            case FAILED:
                failed++;
                break;
            case GONE:
                break;
            case STORE_DOWN:
                log_warn("thumbs", "the media store is unavailable; retrying on the next pass");
                stop = 1;
                break;
            case DB_DOWN:
                stop = 1;
                break;
            }
        }
        PQclear(r);
        if (n == 0)
            break;
        if (!stop && seen >= THUMBS_PER_PASS)
            T.next_ms = 0; /* more may wait: run again after the other jobs */
    }
    if (done || failed)
        log_info("thumbs", "thumbnails made: %d; images that could not be read: %d", done, failed);
    return done + failed;
}

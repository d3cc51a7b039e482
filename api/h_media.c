/*
 * h_media: presigned uploads and downloads; the bytes never pass through here.
 *
 * POST /v1/media                  201 MediaUpload | 400 | 401 | 413 | 415 | 422 | 429 | 503
 *                                 (429: rate_media per minute, or media_max_pending unsent)
 * GET  /v1/media/{id}?variant=    302 Location: presigned GET | 400 | 401 | 404 | 503
 *                                 (variant=thumb: the WebP preview the thumbs job of
 *                                 missive-worker made; 404 while there is none)
 * GET  /internal/media-auth       204 | 403   (nginx auth_request, local backend only)
 *
 * and media_check_for_send(), which the send path calls for a message's media_ids.
 *
 * An upload is a row in media (state pending) plus a presigned PUT bound to a
 * random key, the declared content type and the exact size. A send that names the
 * media checks the object in the store (HEAD) and marks it ready; the send batch
 * records which message holds it. Downloads are presigned GETs for the uploader
 * and for members who can see a message holding it (missive_media_visible).
 */
#include "handlers.h"

#include "access.h"
#include "log.h"
#include "storage.h"
#include "thumb.h" /* THUMB_CONTENT_TYPE only: libvips is the worker's */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MEDIA_PER_MESSAGE 10
#define FILENAME_MAX_BYTES 255

/* ---- helpers ---------------------------------------------------------------- */

/* RFC 3339 UTC with milliseconds, like every other timestamp of the API. */
static const char *rfc3339(struct req *r, time_t t)
{
    struct tm tm;
    char buf[40];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    return arena_strdup(r->arena, buf);
}

/* Length of the UTF-8 sequence at p (input is valid UTF-8: jansson checked it). */
static size_t utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* Bidirectional controls (U+202A..U+202E, U+2066..U+2069) that would let a name
 * read differently from what it is ("gpj.exe"). */
static int is_bidi_control(const unsigned char *p, size_t n)
{
    return n == 3 && p[0] == 0xE2 &&
           ((p[1] == 0x80 && p[2] >= 0xAA && p[2] <= 0xAE) ||
            (p[1] == 0x81 && p[2] >= 0xA6 && p[2] <= 0xA9));
}

/*
 * A display name from what the client sent: the last path component, without
 * control or bidi characters, trimmed, at most FILENAME_MAX_BYTES bytes (cut on a
 * character boundary), never empty or a dot name. Never used as a path.
 */
static char *sanitize_filename(struct req *r, const char *in, const char *ext)
{
    const char *base = in ? in : "";
    for (const char *p = base; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    size_t n = strlen(base), o = 0;
    char *out = arena_alloc(r->arena, n + 1);
    for (size_t i = 0; i < n;) {
        const unsigned char *p = (const unsigned char *)base + i;
        size_t len = utf8_len(*p);
        if (i + len > n)
            break;
        if ((len == 1 && (*p < 0x20 || *p == 0x7f)) || is_bidi_control(p, len) ||
            (len == 2 && p[0] == 0xC2 && p[1] < 0xA0)) { /* C1 controls */
            i += len;
            continue;
        }
        if (o + len > FILENAME_MAX_BYTES)
            break;
        memcpy(out + o, p, len);
        o += len;
        i += len;
    }
    out[o] = '\0';
    /* Trim spaces, and dots in front (no hidden or "..": it is a name, not a path). */
    char *s = out;
    while (*s == ' ' || *s == '.')
        s++;
    size_t m = strlen(s);
    while (m > 0 && s[m - 1] == ' ')
        s[--m] = '\0';
    if (m == 0)
        return arena_sprintf(r->arena, "file.%s", ext);
    return s;
}

/* "image/JPEG" -> "image/jpeg" in the arena; NULL if it has parameters or spaces. */
static char *normalize_type(struct req *r, const char *in)
{
    size_t n = strlen(in);
    char *out = arena_alloc(r->arena, n + 1);
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c && !(isalnum(c) || c == '/' || c == '.' || c == '+' || c == '-'))
            return NULL;
        out[i] = (char)tolower(c);
    }
    return out;
}

static const char *human_size(struct req *r, long long v)
{
    if (v >= 1024LL * 1024 * 1024 && v % (1024LL * 1024 * 1024) == 0)
        return arena_sprintf(r->arena, "%lld GiB", v / (1024LL * 1024 * 1024));
    if (v >= 1024LL * 1024 && v % (1024LL * 1024) == 0)
        return arena_sprintf(r->arena, "%lld MiB", v / (1024LL * 1024));
    if (v >= 1024 && v % 1024 == 0)
        return arena_sprintf(r->arena, "%lld KiB", v / 1024);
    return arena_sprintf(r->arena, "%lld bytes", v);
}

/* The thumbnail's display name: "beach.jpg" -> "beach.webp". */
static const char *thumb_filename(struct req *r, const char *filename)
{
    const char *dot = strrchr(filename, '.');
    size_t stem = dot && dot != filename ? (size_t)(dot - filename) : strlen(filename);
    return arena_sprintf(r->arena, "%.*s.%s", (int)stem, filename,
                         storage_ext_for_type(THUMB_CONTENT_TYPE));
}

/* ---- POST /v1/media ------------------------------------------------------------ */

void h_media_create(struct req *r)
{
    static const struct jsonv_field fields[] = {
        {"content_type", JV_STRING, 1, 1, 100, 0},
        {"size", JV_INT, 1, 0, 0, 0},
        {"filename", JV_STRING, 0, 0, 1024, 1},
        JSONV_END,
    };
    struct storage *st = r->app->storage;
    const struct config *cfg = r->app->cfg;
    char key[STORAGE_KEY_MAX + 1];
    json_t *body, *headers = NULL, *answer;
    const char *ctype_in, *ctype, *filename;
    long long size, max, id;
    PGresult *res = NULL;
    enum db_status dst;
    char *url = NULL;

    if (!(body = http_body(r, fields)))
        return;
    ctype_in = jsonv_str(body, "content_type", "");
    size = jsonv_int(body, "size", 0);
    ctype = normalize_type(r, ctype_in);
    max = ctype ? storage_max_size(st, ctype) : 0;
    if (!max) {
        http_problem(r, PROB_VALIDATION, "content_type",
                     "Uploads of this type are not accepted; allowed: %s.",
                     storage_allowed_types(st));
        return;
    }
    if (size < 1 || size > max) {
        http_problem(r, PROB_VALIDATION, "size",
                     "size is the exact length of the file in bytes: 1 to %lld (%s) for %s.", max,
                     human_size(r, max), ctype);
        return;
    }
    if (http_limit(r, "media", access_itoa(r, r->user_id), cfg->rate_media, 60) != 0)
        return;
    if (storage_new_key(ctype, key) != 0) {
        http_problem(r, PROB_INTERNAL, NULL, "An internal error occurred; nothing was changed.");
        return;
    }
    filename = sanitize_filename(r, jsonv_str(body, "filename", NULL), storage_ext_for_type(ctype));

    time_t now = time(NULL);
    long long exp = (long long)now + cfg->media_upload_ttl;
    url = storage_presign_put(st, key, ctype, size, cfg->media_upload_ttl, &headers);
    if (!url || !headers) {
        log_error("media_presign", "cannot presign an upload (check the storage settings)");
        http_problem(r, PROB_INTERNAL, NULL, "An internal error occurred; nothing was changed.");
        goto out;
    }

    const char *p[7] = {access_itoa(r, r->user_id), key, ctype, access_itoa(r, size), filename,
                        access_itoa(r, exp), access_itoa(r, cfg->media_max_pending)};
    dst = db_exec(r->db, &res,
                  "INSERT INTO media (owner_id, storage_key, content_type, size, filename,"
                  " upload_expires_at)"
                  " SELECT $1, $2, $3, $4, $5, to_timestamp($6)"
                  " WHERE (SELECT count(*) FROM media WHERE owner_id = $1 AND state = 'pending')"
                  " < $7::int"
                  " RETURNING id",
                  7, p);
    if (dst != DB_OK) {
        http_db_error(r, dst);
        goto out;
    }
    if (PQntuples(res) == 0) {
        http_header(r, "Retry-After", "600");
        http_problem(r, PROB_RATE_LIMITED, NULL,
                     "You have %d uploads that no message holds yet: send them first (unsent "
                     "uploads are removed after a day).",
                     cfg->media_max_pending);
        goto out;
    }
    id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    answer = json_pack("{s:I,s:{s:s,s:s,s:O,s:s}}", "media_id", (json_int_t)id, "upload", "method",
                       "PUT", "url", url, "headers", headers, "expires_at", rfc3339(r, (time_t)exp));
    http_header(r, "Location", arena_sprintf(r->arena, "/v1/media/%lld", id));
    http_json(r, 201, answer);
out:
    PQclear(res);
    json_decref(headers);
    free(url);
}

/* ---- GET /v1/media/{id} ------------------------------------------------------------- */

void h_media_get(struct req *r)
{
    struct storage *st = r->app->storage;
    long long id;
    int bad = 0, thumb = 0;
    const char *variant;
    PGresult *res = NULL;
    enum db_status dst;
    char *disposition = NULL, *url = NULL;

    if (http_path_id(r, 0, "id", &id) != 0)
        return;
    variant = http_query(r, "variant", &bad);
    if (bad)
        return;
    if (variant && strcmp(variant, "thumb") == 0) {
        thumb = 1;
    } else if (variant && strcmp(variant, "original") != 0) {
        http_problem(r, PROB_BAD_REQUEST, "variant", "variant is original (the default) or thumb.");
        return;
    }
    const char *p[2] = {access_itoa(r, id), access_itoa(r, r->user_id)};
    dst = db_exec(r->db, &res,
                  "SELECT storage_key, content_type, filename, thumb_state, thumb_key FROM media"
                  " WHERE id = $1 AND missive_media_visible($1, $2)",
                  2, p);
    if (dst != DB_OK) {
        http_db_error(r, dst);
        return;
    }
    if (PQntuples(res) == 0) {
        http_problem(r, PROB_NOT_FOUND, NULL, "There is no media %lld that you can see.", id);
        goto out;
    }
    const char *key = PQgetvalue(res, 0, 0), *ctype = PQgetvalue(res, 0, 1),
               *filename = PQgetvalue(res, 0, 2), *thumb_state = PQgetvalue(res, 0, 3);
    if (thumb && strcmp(thumb_state, "done") != 0) {
        /* The same answer to everyone who may see the media: no stranger gets here. */
        if (strcmp(thumb_state, "wanted") == 0)
            http_problem(r, PROB_NOT_FOUND, "variant",
                         "Media %lld has no thumbnail yet; it is being made, try again in a "
                         "few seconds.",
                         id);
        else
            http_problem(r, PROB_NOT_FOUND, "variant",
                         "Media %lld has no thumbnail: only images (JPEG, PNG, WebP, GIF) sent "
                         "in a message and readable get one.",
                         id);
        goto out;
    }
    if (thumb) {
        key = PQgetvalue(res, 0, 4);
        ctype = THUMB_CONTENT_TYPE;
        filename = thumb_filename(r, filename);
    }
    disposition = storage_disposition(filename);
    url = storage_presign_get(st, key, ctype, disposition, r->app->cfg->media_download_ttl);
    if (!url) {
        log_error("media_presign", "cannot presign a download (check the storage settings)");
        http_problem(r, PROB_INTERNAL, NULL, "An internal error occurred.");
        goto out;
    }
    http_header(r, "Location", url);
    http_empty(r, 302);
out:
    free(url);
    free(disposition);
    PQclear(res);
}

/* ---- GET /internal/media-auth (nginx auth_request) -------------------------------- */

/*
 * nginx asks this for every request to its media location (local backend). The
 * internal location passes: m = the request's method, n = its Content-Length,
 * k = the key from the normalised path, then the request's own query (exp, sig,
 * cd); CONTENT_TYPE is the request's Content-Type. Clients cannot reach this
 * path: nginx maps it only as an internal location. Answers 204 (with
 * X-Media-Disposition for downloads) or 403 (with X-Media-Error).
 */
void h_media_auth(struct req *r)
{
    struct storage_local_req q;
    const char *why = NULL;
    int bad = 0;

    memset(&q, 0, sizeof q);
    q.method = http_query(r, "m", &bad);
    if (!bad)
        q.content_length = http_query(r, "n", &bad);
    if (!bad)
        q.key = http_query(r, "k", &bad);
    if (!bad)
        q.exp = http_query(r, "exp", &bad);
    if (!bad)
        q.sig = http_query(r, "sig", &bad);
    if (!bad)
        q.cd = http_query(r, "cd", &bad);
    if (bad) { /* http_query answered 400: nginx would make that a 500 */
        http_header(r, "X-Media-Error", "malformed query");
        http_problem(r, PROB_FORBIDDEN, NULL, "The media URL is malformed.");
        return;
    }
    q.content_type = r->content_type;
    enum storage_local_verdict v = storage_local_check(r->app->storage, &q, time(NULL), 1, &why);
    if (v != STORAGE_LOCAL_OK) {
        http_header(r, "X-Media-Error", why);
        http_problem(r, PROB_FORBIDDEN, NULL, "%s", why);
        return;
    }
    if (strcmp(q.method, "PUT") != 0 && q.cd && *q.cd) {
        /* Signed by us, made by storage_disposition: no controls; check anyway. */
        for (const char *c = q.cd; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                http_header(r, "X-Media-Error", "bad disposition");
                http_problem(r, PROB_FORBIDDEN, NULL, "bad disposition");
                return;
            }
        http_header(r, "X-Media-Disposition", q.cd);
    }
    http_empty(r, 204);
}

/* ---- the send path ------------------------------------------------------------- */

int media_check_for_send(struct req *r, const json_t *media_ids, char **id_array_text_out)
{
    long long ids[MEDIA_PER_MESSAGE];
    size_t n = 0, i;
    PGresult *res = NULL;
    enum db_status dst;
    int rc = -1;
    char *arr;

    *id_array_text_out = NULL;
    if (!media_ids || json_is_null(media_ids)) {
        *id_array_text_out = arena_strdup(r->arena, "{}");
        return 0;
    }
    if (!json_is_array(media_ids)) {
        http_problem(r, PROB_BAD_REQUEST, "media_ids", "media_ids is an array of media ids.");
        return -1;
    }
    if (json_array_size(media_ids) > MEDIA_PER_MESSAGE) {
        http_problem(r, PROB_VALIDATION, "media_ids", "A message holds at most %d media.",
                     MEDIA_PER_MESSAGE);
        return -1;
    }
    for (i = 0; i < json_array_size(media_ids); i++) {
        const json_t *v = json_array_get(media_ids, i);
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            http_problem(r, PROB_BAD_REQUEST, "media_ids",
                         "media_ids holds media ids: positive integers.");
            return -1;
        }
        ids[n] = (long long)json_integer_value(v);
        for (size_t j = 0; j < n; j++)
            if (ids[j] == ids[n]) {
                http_problem(r, PROB_VALIDATION, "media_ids", "Media %lld is listed twice.",
                             ids[n]);
                return -1;
            }
        n++;
    }
    arr = arena_strdup(r->arena, "{");
    for (i = 0; i < n; i++)
        arr = arena_sprintf(r->arena, "%s%s%lld", arr, i ? "," : "", ids[i]);
    arr = arena_sprintf(r->arena, "%s}", arr);
    if (n == 0) {
        *id_array_text_out = arr;
        return 0;
    }

    const char *p[2] = {arr, access_itoa(r, r->user_id)};
    dst = db_exec(r->db, &res,
                  "SELECT id, storage_key, content_type, size,"
                  "  state = 'ready' AND upload_expires_at < now() - interval '1 minute'"
                  " FROM media WHERE id = ANY($1::bigint[]) AND owner_id = $2"
                  " AND state <> 'deleting'",
                  2, p);
    if (dst != DB_OK) {
        http_db_error(r, dst);
        return -1;
    }
    for (i = 0; i < n; i++) {
        int row = -1;
        for (int k = 0; k < PQntuples(res); k++)
            if (strtoll(PQgetvalue(res, k, 0), NULL, 10) == ids[i])
                row = k;
        if (row < 0) {
            http_problem(r, PROB_NOT_FOUND, "media_ids",
                         "There is no media %lld of yours (upload it with POST /v1/media first).",
                         ids[i]);
            goto out;
        }
        /* Ready and past its upload URL's expiry: checked before, cannot have changed. */
        if (strcmp(PQgetvalue(res, row, 4), "t") == 0)
            continue;
        const char *key = PQgetvalue(res, row, 1), *want_type = PQgetvalue(res, row, 2);
        long long want = strtoll(PQgetvalue(res, row, 3), NULL, 10), have = -1;
        char have_type[STORAGE_CTYPE_MAX + 64];
        int h = storage_head(r->app->storage, key, &have, have_type, sizeof have_type);
        if (h < 0) {
            http_header(r, "Retry-After", "1");
            http_problem(r, PROB_UNAVAILABLE, NULL,
                         "The media store is unavailable; the message was not sent. Retry with "
                         "the same client_msg_id.");
            goto out;
        }
        if (h == 1) {
            http_problem(r, PROB_VALIDATION, "media_ids",
                         "The upload of media %lld is missing or incomplete: PUT the file to its "
                         "upload URL before sending.",
                         ids[i]);
            goto out;
        }
        if (have != want) {
            http_problem(r, PROB_VALIDATION, "media_ids",
                         "The upload of media %lld is incomplete: %lld of %lld bytes stored.",
                         ids[i], have, want);
            goto out;
        }
        /* Where the store reports a type, it must be the declared one (parameters aside). */
        size_t tl = strcspn(have_type, "; ");
        if (have_type[0] && (tl != strlen(want_type) || strncasecmp(have_type, want_type, tl))) {
            http_problem(r, PROB_VALIDATION, "media_ids",
                         "The upload of media %lld was stored as %s, not the declared %s.", ids[i],
                         have_type, want_type);
            goto out;
        }
    }
    PQclear(res);
    res = NULL;
    /* Ready, and queued for the sweep: if no message ends up holding it (the send
     * fails), it goes once media_abandon_after has passed. */
    const char *pu[3] = {arr, access_itoa(r, r->user_id),
                         access_itoa(r, r->app->cfg->media_abandon_after)};
    dst = db_exec(r->db, &res,
                  "WITH u AS (UPDATE media SET state = 'ready', ready_at = coalesce(ready_at, now()),"
                  "  checked_at = now()"
                  "  WHERE id = ANY($1::bigint[]) AND owner_id = $2 AND state <> 'deleting'"
                  "  RETURNING id),"
                  " q AS (INSERT INTO media_sweep (media_id, due_at)"
                  "  SELECT id, now() + make_interval(secs => $3::int) FROM u"
                  "  ON CONFLICT (media_id) DO NOTHING)"
                  " SELECT count(*) FROM u",
                  3, pu);
    if (dst != DB_OK) {
        http_db_error(r, dst);
        goto out;
    }
    if (strtoll(PQgetvalue(res, 0, 0), NULL, 10) != (long long)n) {
        /* Swept between the two statements. */
        http_problem(r, PROB_NOT_FOUND, "media_ids",
                     "One of the media is gone; upload it again with POST /v1/media.");
        goto out;
    }
    *id_array_text_out = arr;
    rc = 0;
out:
    PQclear(res);
    return rc;
}

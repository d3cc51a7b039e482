/*
 * storage: where media bytes live, behind one small interface.
 *
 * The API never carries media bytes. It hands clients presigned URLs: a PUT bound
 * to one key, content type and exact length, and short-lived GETs. Two backends:
 *
 *   s3     any store speaking the S3 API with Signature V4 (AWS S3, MinIO, Ceph RGW,
 *          Garage, Cloudflare R2, OpenStack Swift's s3api). Presigned URLs come from
 *          lib/sigv4.c; HEAD and DELETE from the server use an Authorization header
 *          over libcurl (timeouts, no redirects, http/https only), its GET and PUT
 *          (thumbnails) presigned URLs.
 *   local  one machine, no cloud: nginx stores and serves the files of a directory
 *          (WebDAV PUT, sendfile, Range), and asks missive-api (auth_request) whether
 *          each request carries a valid signature:
 *            <base_url>/<key>?exp=<unix>[&cd=<disposition>]&sig=<hex HMAC-SHA256>
 *          The HMAC covers method, key, content type and length (PUT), disposition
 *          (GET) and expiry; see storage_local_sign. HEAD is stat(), DELETE unlink(),
 *          GET read(), PUT a temporary file renamed into place.
 *
 * Also here, because every program needs the same answer: which content types may
 * be uploaded, how large, and under which file extension (media_types setting).
 *
 * A struct storage is read-only after storage_new and may be shared by threads.
 * Returned strings are heap copies for the caller to free().
 */
#ifndef MISSIVE_STORAGE_H
#define MISSIVE_STORAGE_H

#include "config.h"

#include <jansson.h>
#include <stddef.h>
#include <time.h>

struct storage;

/* Longest key: 32 hex digits, '.', an extension of up to 5 characters. */
#define STORAGE_KEY_MAX 40
/* Longest media type name we know. */
#define STORAGE_CTYPE_MAX 64

/* Sets up the backend cfg->storage_backend names. NULL with a reason in err. */
struct storage *storage_new(const struct config *cfg, char *err, size_t errlen);
void storage_free(struct storage *s);

/* "local" or "s3". */
const char *storage_backend(const struct storage *s);

/*
 * A presigned upload: the URL to PUT to within expires_s seconds. *headers_out (if
 * not NULL) receives a new JSON object of the headers the client must send with
 * exactly these values: {"Content-Type": ..., "Content-Length": "<size>"}.
 */
char *storage_presign_put(struct storage *s, const char *key, const char *content_type,
                          long long size, int expires_s, json_t **headers_out);

/*
 * A presigned download valid for expires_s seconds, answered with content_type
 * (s3: response-content-type; local: nginx's type for the key's extension) and
 * the Content-Disposition disposition (may be NULL: none).
 */
char *storage_presign_get(struct storage *s, const char *key, const char *content_type,
                          const char *disposition, int expires_s);

/*
 * Does the object exist? 0 with *size (and ctype, "" when the backend does not
 * report one) filled; 1 if missing; -1 on any error (logged).
 */
int storage_head(struct storage *s, const char *key, long long *size, char *ctype,
                 size_t ctype_len);

/* Removes the object. 0 if it is gone (also when it was never there), -1 on error. */
int storage_delete(struct storage *s, const char *key);

/*
 * The server's own reads and writes (the thumbnail job: clients always go through
 * presigned URLs). s3: a presigned GET or PUT over libcurl, bounded like HEAD but
 * with room for the bytes; local: the file in storage_local_dir.
 *
 * storage_get reads the whole object into *data (malloc()ed, for the caller to
 * free) and *len: 0; 1 if missing; 2 if it is larger than max bytes (nothing
 * returned); -1 on any other error (logged).
 */
int storage_get(struct storage *s, const char *key, long long max, unsigned char **data,
                size_t *len);

/*
 * Stores data[0..len) as key, served later with content_type; replaces what is
 * there (keys are random: nothing else writes there). local: written to a
 * temporary file and renamed, readable by the directory's owner and group (nginx).
 * 0, or -1 on error (logged).
 */
int storage_put(struct storage *s, const char *key, const char *content_type, const void *data,
                size_t len);

/* ---- media types ---------------------------------------------------------------- */

/*
 * The largest upload allowed for content_type (exact, lower-case, no parameters),
 * or 0 if the type is not allowed by the media_types setting.
 */
long long storage_max_size(const struct storage *s, const char *content_type);

/* The allowed types, comma-separated, for error messages (static per storage). */
const char *storage_allowed_types(const struct storage *s);

/* The file extension for a content type we know ("jpg" for image/jpeg), else NULL. */
const char *storage_ext_for_type(const char *content_type);

/*
 * Checks a media_types setting: "type:size,type:size,...", size in bytes or with a
 * K, M or G suffix (binary), every type one storage_ext_for_type knows.
 * 0, or -1 with a reason in err.
 */
int storage_check_media_types(const char *spec, char *err, size_t errlen);

/* A fresh random key for content_type: 32 hex digits + "." + extension. out has
 * STORAGE_KEY_MAX + 1 bytes. -1 if the type is unknown. */
int storage_new_key(const char *content_type, char out[STORAGE_KEY_MAX + 1]);

/* 1 if key has the shape storage_new_key makes (safe as a file name and URL path). */
int storage_valid_key(const char *key);

/*
 * The Content-Disposition for a download: inline; filename="<ASCII fallback>";
 * filename*=UTF-8''<percent-encoded>. filename must be valid UTF-8. Heap string.
 */
char *storage_disposition(const char *filename);

/* ---- local backend: the URL signature --------------------------------------------- */

/*
 * The local URL signature: lower-case hex HMAC-SHA256 with key[32] over
 *   "missive-media-v1\n" method "\n" key "\n" content_type "\n" length "\n"
 *   disposition "\n" exp
 * For PUT: content_type and the decimal length, disposition "". For GET (HEAD
 * uses GET's signature): content_type "" and length "", disposition as in the URL.
 */
void storage_local_sign(const unsigned char key[32], const char *method, const char *obj_key,
                        const char *content_type, const char *length, const char *disposition,
                        long long exp, char out[65]);

/* One request nginx asks about (auth_request); all strings may be NULL. */
struct storage_local_req {
    const char *method;         /* original method: GET, HEAD, PUT, ... */
    const char *key;            /* from the path */
    const char *content_type;   /* the request's Content-Type (PUT) */
    const char *content_length; /* the request's Content-Length (PUT) */
    const char *exp;            /* query parameters, decoded */
    const char *sig;
    const char *cd;
};

enum storage_local_verdict {
    STORAGE_LOCAL_OK = 0,
    STORAGE_LOCAL_BAD,     /* malformed, unknown method, bad signature */
    STORAGE_LOCAL_EXPIRED, /* a valid signature whose time is over */
    STORAGE_LOCAL_EXISTS,  /* a PUT to a key that already holds a file */
};

/*
 * Checks a request against the local backend's key and clock: signature, expiry,
 * method, and for PUT the exact Content-Type and Content-Length and that no file
 * exists yet under the key. *why (if not NULL) gets a short reason. With
 * check_exists = 0 the file system is not looked at (unit tests).
 */
enum storage_local_verdict storage_local_check(const struct storage *s,
                                               const struct storage_local_req *q, time_t now,
                                               int check_exists, const char **why);

/* The signing key the local backend derived from its settings (tests). */
const unsigned char *storage_local_key(const struct storage *s);

#endif

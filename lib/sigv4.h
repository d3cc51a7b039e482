/*
 * sigv4: AWS Signature Version 4 (AWS4-HMAC-SHA256) for S3-compatible object stores.
 *
 * Two outputs from one canonicalisation: a presigned URL handed to clients (query-string
 * auth, payload UNSIGNED-PAYLOAD), and an Authorization header for requests the server
 * makes itself (HEAD/DELETE). Pure functions of their arguments: no clock, no I/O, no
 * global state, so thread-safe. Every returned string is the caller's to free().
 *
 * Inputs are checked strictly and anything the rules cannot sign unambiguously is
 * refused with NULL rather than "fixed": a signature over something other than what
 * is sent fails later as an opaque SignatureDoesNotMatch from the store.
 */
#ifndef MISSIVE_SIGV4_H
#define MISSIVE_SIGV4_H

#include <time.h>

/* Longest accepted X-Amz-Expires: seven days, the limit S3 enforces. */
#define SIGV4_MAX_EXPIRES 604800

struct sigv4_creds {
    const char *access_key; /* non-empty; no whitespace, controls, '/' or ',' */
    const char *secret_key; /* non-empty */
    const char *region;     /* e.g. "us-east-1"; [A-Za-z0-9._-]+ */
    const char *service;    /* "s3"; [A-Za-z0-9._-]+ */
};

struct sigv4_request {
    const char *method; /* upper-case token: "PUT", "GET", "HEAD", "DELETE", ... */
    const char *scheme; /* "http" | "https"; only sigv4_presign reads it */
    /* host[:port] exactly as sent in the Host header (port included when non-default). */
    const char *host;
    /*
     * The canonical path, already URI-encoded: "/" then only unreserved bytes, '/' and
     * %XX with upper-case hex (build it with sigv4_uri_encode(key, 0)). It is signed and
     * put in the URL byte for byte, so anything else is refused, not re-encoded.
     */
    const char *path;
    /*
     * Extra query parameters, unencoded: NULL-terminated (name, value) pairs, or NULL.
     * Names may repeat; a value may be "" but not NULL. The X-Amz-* names this module
     * generates itself (Algorithm, Credential, Date, Expires, SignedHeaders, Signature)
     * are refused in any case. Temporary credentials: pass X-Amz-Security-Token here for
     * sigv4_presign, or as a header for sigv4_authorization.
     */
    const char *const *query;
    /*
     * Headers to sign: NULL-terminated (name, value) pairs, or NULL. Names in any case,
     * each at most once (join repeated values with ',' yourself); "host" is always
     * added from .host, and sigv4_authorization adds "x-amz-date", so neither may be
     * given. Values are trimmed and runs of spaces/tabs collapsed for signing, which is
     * what the store does to what it receives; CR, LF and other controls are refused.
     */
    const char *const *headers;
    long long expires; /* seconds, 1..SIGV4_MAX_EXPIRES; only sigv4_presign reads it */
    time_t now;        /* signing time, UTC seconds (1970..9999) */
};

/*
 * A presigned URL:
 *   scheme://host/path?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=...&X-Amz-Date=...
 *   &X-Amz-Expires=...&X-Amz-SignedHeaders=...[&extra query...]&X-Amz-Signature=...
 * i.e. the canonical query string (sorted) followed by the signature, with the payload
 * signed as UNSIGNED-PAYLOAD. The client must send every signed header with the value
 * given here. NULL on bad input.
 */
char *sigv4_presign(const struct sigv4_creds *c, const struct sigv4_request *r);

/*
 * The value of an Authorization header:
 *   AWS4-HMAC-SHA256 Credential=AK/date/region/service/aws4_request,
 *   SignedHeaders=host;...;x-amz-date, Signature=...
 * payload_sha256_hex is the hex SHA-256 of the body (64 lower-case hex digits) or
 * "UNSIGNED-PAYLOAD". The request must carry the header "x-amz-date: <amz_date_out>"
 * (written here, 16 chars + NUL) and the query parameters of r->query. S3 also
 * requires "x-amz-content-sha256: <payload_sha256_hex>"; pass it in r->headers.
 * NULL on bad input (amz_date_out is then an empty string).
 */
char *sigv4_authorization(const struct sigv4_creds *c, const struct sigv4_request *r,
                          const char *payload_sha256_hex, char amz_date_out[17]);

/*
 * URI-encodes s per the SigV4 rules: unreserved bytes A-Za-z0-9 - . _ ~ are kept, '/'
 * is kept when encode_slash is 0 (object-key paths), every other byte becomes %XX with
 * upper-case hex (space is %20, never '+'). Heap string; NULL only if s is NULL.
 */
char *sigv4_uri_encode(const char *s, int encode_slash);

#endif

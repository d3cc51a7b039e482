/*
 * http: one request and its answer, as handlers see them.
 *
 * server.c fills a struct req from the FastCGI parameters, router.c matches it,
 * a handler reads input through the http_* getters and answers through the
 * http_* responders. All memory hangs off r->arena and dies with the request;
 * handlers never free anything they got from here. Getters that fail have
 * already written the problem answer: the handler just returns.
 */
#ifndef MISSIVE_HTTP_H
#define MISSIVE_HTTP_H

#include "app.h"
#include "arena.h"
#include "db.h"
#include "jsonv.h"
#include "problem.h"

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>

#define HTTP_MAX_PARAMS  4
#define HTTP_MAX_HEADERS 16
#define HTTP_JSON_DEPTH  16

struct route;

struct http_header {
    const char *name;
    const char *value;
};

struct req {
    struct arena *arena;
    struct db *db;
    const struct app *app;

    /* input, borrowed from the FastCGI request or the arena */
    const char *method;
    const char *path;  /* raw path, no query */
    const char *query; /* raw query string, "" if none */
    const char *content_type;
    const char *authorization;
    const char *remote_addr;
    const char *user_agent;
    const char *origin; /* the Origin header, for CORS */
    const char *body;
    size_t body_len;
    int body_too_large; /* declared length was over the limit: body not read */

    /* routing: path parameters, percent-decoded */
    const struct route *route;
    const char *params[HTTP_MAX_PARAMS];
    int nparams;

    /* set by auth for routes that need it */
    long long user_id;
    long long session_id;

    /* output */
    int status;
    const char *resp_type;
    const char *resp_body;
    size_t resp_len;
    struct http_header headers[HTTP_MAX_HEADERS];
    int nheaders;
    char request_id[65];
};

/* Answers status with body as JSON (steals the reference; NULL = no body). */
void http_json(struct req *r, int status, json_t *body);
/* Answers with a problem+json; fmt may be NULL (no detail). */
void http_problem(struct req *r, enum problem_kind k, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Answers status with a body of the given type (copied). */
void http_text(struct req *r, int status, const char *type, const char *body, size_t len);
/* Answers status with no body (204). */
void http_empty(struct req *r, int status);
/* Answers a database failure: 503 when the database is unreachable, else 500. Logs it. */
void http_db_error(struct req *r, enum db_status st);
/* Adds a response header; both strings are copied. */
void http_header(struct req *r, const char *name, const char *value);

/*
 * The request body as a JSON object checked against fields. On any problem
 * (content type, size, syntax, duplicates, unknown or missing fields, types)
 * answers 400/413/415 and returns NULL. The object lives as long as the request.
 */
json_t *http_body(struct req *r, const struct jsonv_field *fields);

/* A query parameter, percent-decoded, or NULL if absent. Answers 400 and sets
 * *bad when the parameter is present but not decodable. */
const char *http_query(struct req *r, const char *name, int *bad);
/* An integer query parameter within [min, max], def if absent. -1 after answering 400. */
int http_query_int(struct req *r, const char *name, long long min, long long max, long long def,
                   long long *out);
/* Path parameter i as a positive id. -1 after answering 400. */
int http_path_id(struct req *r, int i, const char *what, long long *out);

/*
 * Rate limit: one request against bucket kind:key allowing `count` per `window`
 * seconds (bursts up to `count`). count 0 means no limit. Returns 0, or -1 after
 * answering 429 with Retry-After and RateLimit headers.
 */
int http_limit(struct req *r, const char *kind, const char *key, int count, int window);

/* Decodes %XX and (in queries) '+'. Returns NULL on bad escapes or an embedded NUL. */
char *http_pct_decode(struct arena *a, const char *s, size_t n, int plus_is_space);
/* Parses a decimal id in [1, 2^63-1]; -1 if s is anything else. */
int http_parse_id(const char *s, long long *out);

/* SQL that renders a timestamptz column as RFC 3339 UTC text with milliseconds. */
#define SQL_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

#endif

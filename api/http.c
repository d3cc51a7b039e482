/*
 * http: request getters and response builders over a per-request arena.
 * Used by one request thread at a time; nothing here is shared.
 */
#include "http.h"

#include "log.h"
#include "ratelimit.h"

#include <time.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void json_release(void *p)
{
    json_decref(p);
}

static void set_body(struct req *r, int status, const char *type, json_t *body)
{
    r->status = status;
    r->resp_type = type;
    r->resp_body = NULL;
    r->resp_len = 0;
    if (body) {
        char *text = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
        json_decref(body);
        if (text) {
            r->resp_len = strlen(text);
            r->resp_body = arena_strndup(r->arena, text, r->resp_len);
            free(text);
        }
    }
}

void http_json(struct req *r, int status, json_t *body)
{
    set_body(r, status, "application/json", body);
}

void http_problem(struct req *r, enum problem_kind k, const char *field, const char *fmt, ...)
{
    char *detail = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        detail = arena_vsprintf(r->arena, fmt, ap);
        va_end(ap);
    }
    set_body(r, problem_status(k), PROBLEM_CONTENT_TYPE, problem_new(k, detail, field));
    if (k == PROB_UNAUTHORIZED)
        http_header(r, "WWW-Authenticate", "Bearer realm=\"missive\"");
}

void http_text(struct req *r, int status, const char *type, const char *body, size_t len)
{
    r->status = status;
    r->resp_type = arena_strdup(r->arena, type);
    r->resp_body = arena_strndup(r->arena, body, len);
    r->resp_len = len;
}

void http_empty(struct req *r, int status)
{
    set_body(r, status, NULL, NULL);
}

void http_db_error(struct req *r, enum db_status st)
{
    if (st == DB_UNAVAILABLE || st == DB_RETRY) {
        log_warn("db_unavailable", "%s", db_last_error(r->db));
        http_header(r, "Retry-After", "1");
        http_problem(r, PROB_UNAVAILABLE, NULL,
                     "The database is unavailable; nothing was changed. Try again shortly.");
    } else {
        log_error("db_error", "sqlstate %s: %s", db_last_sqlstate(r->db), db_last_error(r->db));
        http_problem(r, PROB_INTERNAL, NULL, "An internal error occurred; nothing was changed.");
    }
}

void http_header(struct req *r, const char *name, const char *value)
{
    if (r->nheaders >= HTTP_MAX_HEADERS) {
        log_error("too_many_headers", "dropping response header %s", name);
        return;
    }
    r->headers[r->nheaders].name = arena_strdup(r->arena, name);
    r->headers[r->nheaders].value = arena_strdup(r->arena, value);
    r->nheaders++;
}

static int is_json_type(const char *ct)
{
    size_t n = strlen("application/json");
    if (!ct || strncasecmp(ct, "application/json", n) != 0)
        return 0;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

json_t *http_body(struct req *r, const struct jsonv_field *fields)
{
    struct jsonv_error err;
    size_t limit = (size_t)r->app->cfg->api_body_limit;
    json_t *obj;

    memset(&err, 0, sizeof err);
    if (r->body_too_large || r->body_len > limit) {
        http_problem(r, PROB_TOO_LARGE, NULL, "The request body is over the limit of %zu bytes.",
                     limit);
        return NULL;
    }
    if (!is_json_type(r->content_type)) {
        http_problem(r, PROB_UNSUPPORTED_TYPE, NULL,
                     "The request body must be application/json.");
        return NULL;
    }
    obj = jsonv_parse_object(r->body ? r->body : "", r->body_len, limit, HTTP_JSON_DEPTH, &err);
    if (!obj) {
        if (err.too_large)
            http_problem(r, PROB_TOO_LARGE, NULL, "%s", err.detail);
        else
            http_problem(r, PROB_BAD_REQUEST, err.field[0] ? err.field : NULL, "%s", err.detail);
        return NULL;
    }
    arena_defer(r->arena, json_release, obj);
    if (jsonv_check(obj, fields, &err) != 0) {
        http_problem(r, PROB_BAD_REQUEST, err.field[0] ? err.field : NULL, "%s", err.detail);
        return NULL;
    }
    return obj;
}

int http_limit(struct req *r, const char *kind, const char *key, int count, int window)
{
    struct timespec t;
    int wait;

    if (count <= 0 || !r->app->limits)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &t);
    wait = ratelimit_take(r->app->limits, arena_sprintf(r->arena, "%s:%s", kind, key),
                          (double)count / window, count, (double)t.tv_sec + t.tv_nsec / 1e9);
    if (wait == 0)
        return 0;
    http_header(r, "Retry-After", arena_sprintf(r->arena, "%d", wait));
    http_header(r, "RateLimit-Policy", arena_sprintf(r->arena, "%d;w=%d", count, window));
    http_header(r, "RateLimit", arena_sprintf(r->arena, "limit=%d, remaining=0, reset=%d", count, wait));
    http_problem(r, PROB_RATE_LIMITED, NULL, "Too many requests (%s); try again in %d s.", kind, wait);
    return -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *http_pct_decode(struct arena *a, const char *s, size_t n, int plus_is_space)
{
    char *out = arena_alloc(a, n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n)
                return NULL;
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return NULL;
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            *o++ = ' ';
        } else {
            *o++ = c;
        }
    }
    *o = '\0';
    return out;
}

const char *http_query(struct req *r, const char *name, int *bad)
{
    size_t nlen = strlen(name);
    const char *p = r->query ? r->query : "";

    *bad = 0;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            char *v = http_pct_decode(r->arena, p + nlen + 1, len - nlen - 1, 1);
            if (!v) {
                *bad = 1;
                http_problem(r, PROB_BAD_REQUEST, name,
                             "The query parameter '%s' is not correctly percent-encoded.", name);
            }
            return v;
        }
        if (len == nlen && strncmp(p, name, nlen) == 0)
            return "";
        p = end ? end + 1 : p + len;
    }
    return NULL;
}

int http_query_int(struct req *r, const char *name, long long min, long long max, long long def,
                   long long *out)
{
    int bad = 0;
    const char *v = http_query(r, name, &bad);
    char *end = NULL;
    long long x;

    if (bad)
        return -1;
    if (!v) {
        *out = def;
        return 0;
    }
    errno = 0;
    x = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0 || x < min || x > max) {
        http_problem(r, PROB_BAD_REQUEST, name, "'%s' must be an integer from %lld to %lld.", name,
                     min, max);
        return -1;
    }
    *out = x;
    return 0;
}

int http_parse_id(const char *s, long long *out)
{
    long long x = 0;
    if (!s || *s < '1' || *s > '9')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (x > (0x7fffffffffffffffLL - (*s - '0')) / 10)
            return -1;
        x = x * 10 + (*s - '0');
    }
    *out = x;
    return 0;
}

int http_path_id(struct req *r, int i, const char *what, long long *out)
{
    if (i >= r->nparams || http_parse_id(r->params[i], out) != 0) {
        http_problem(r, PROB_BAD_REQUEST, what, "'%s' must be a positive integer id.", what);
        return -1;
    }
    return 0;
}

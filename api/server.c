/*
 * server: FastCGI request threads (see server.h).
 *
 * Each thread owns: one FCGX_Request, one arena (reset after every request) and
 * one struct db. The only state shared between threads is the listening socket
 * (accept is serialised by a mutex, as libfcgi advises), the read-only app and the
 * metrics (internally locked).
 */
#include "server.h"

#include "auth.h"
#include "crypto.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "xalloc.h"

#include <fcgiapp.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct worker {
    struct server *srv;
    pthread_t tid;
    int started;
};

struct server {
    const struct app *app;
    int fd;
    char *unix_path; /* removed at shutdown */
    pthread_mutex_t accept_mu;
    struct worker *workers;
    int nworkers;
};

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

struct server *server_new(const struct app *app)
{
    const char *listen = app->cfg->api_listen;
    struct server *s = xcalloc(1, sizeof *s);
    const char *bind_to = listen;

    s->app = app;
    s->fd = -1;
    pthread_mutex_init(&s->accept_mu, NULL);
    if (FCGX_Init() != 0) {
        log_error("fcgi_init", "FCGX_Init failed");
        goto fail;
    }
    if (strncmp(listen, "unix:", 5) == 0) {
        s->unix_path = xstrdup(listen + 5);
        bind_to = s->unix_path;
        unlink(s->unix_path); /* a stale socket from a crashed run */
    }
    s->fd = FCGX_OpenSocket(bind_to, app->cfg->api_backlog);
    if (s->fd < 0) {
        log_error("listen", "cannot listen on %s: %s", listen, strerror(errno));
        goto fail;
    }
    if (s->unix_path && chmod(s->unix_path, (mode_t)app->cfg->api_socket_mode) != 0) {
        log_error("listen", "chmod %s: %s", s->unix_path, strerror(errno));
        goto fail;
    }
    log_info("listen", "FastCGI on %s", listen);
    return s;
fail:
    server_free(s);
    return NULL;
}

static const char *param(FCGX_ParamArray envp, const char *name)
{
    return FCGX_GetParam(name, envp);
}

/* Reads the body unless its declared length is over the limit. */
static void read_body(struct req *r, FCGX_Request *fr)
{
    const char *cl = param(fr->envp, "CONTENT_LENGTH");
    size_t limit = (size_t)r->app->cfg->api_body_limit;
    long long declared = cl && *cl ? strtoll(cl, NULL, 10) : -1;
    size_t cap, len = 0;
    char *buf;

    if (declared == 0)
        return;
    if (declared > (long long)limit) {
        r->body_too_large = 1;
        return;
    }
    cap = declared > 0 ? (size_t)declared : limit + 1;
    buf = arena_alloc(r->arena, cap + 1);
    while (len < cap) {
        int n = FCGX_GetStr(buf + len, (int)(cap - len), fr->in);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (declared < 0 && len > limit)
        r->body_too_large = 1;
    buf[len] = '\0';
    r->body = buf;
    r->body_len = len;
}

static int valid_request_id(const char *s)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= 64 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return n > 0;
}

/* 1 if origin is one of the configured cross-origin clients (exact match). */
static int cors_allowed(const struct req *r)
{
    const char *list = r->app->cfg->cors_origins, *p = list;
    size_t n = r->origin ? strlen(r->origin) : 0;
    if (!n || !list || !*list)
        return 0;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, " ,");
        if (len == n && strncmp(p, r->origin, n) == 0)
            return 1;
        p += len;
    }
    return 0;
}

void server_dispatch(struct req *r)
{
    char allow[64];

    /* CORS is closed unless cors_origins names the caller's origin. */
    if (cors_allowed(r)) {
        http_header(r, "Access-Control-Allow-Origin", r->origin);
        http_header(r, "Vary", "Origin");
        if (strcmp(r->method, "OPTIONS") == 0) {
            http_header(r, "Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE");
            http_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id");
            http_header(r, "Access-Control-Max-Age", "600");
            http_empty(r, 204);
            return;
        }
        http_header(r, "Access-Control-Expose-Headers", "X-Request-Id, Location, Retry-After");
    }

    switch (router_match(routes, routes_count, r, allow, sizeof allow)) {
    case ROUTER_NOT_FOUND:
        http_problem(r, PROB_NOT_FOUND, NULL, "There is no resource at %s.",
                     strncmp(r->path, "/v1/", 4) == 0 || strcmp(r->path, "/v1") == 0
                         ? "this path"
                         : "this path (the API lives under /v1/)");
        return;
    case ROUTER_METHOD:
        http_header(r, "Allow", allow);
        http_problem(r, PROB_METHOD, NULL, "%s is not allowed here; allowed: %s.", r->method,
                     allow);
        return;
    case ROUTER_MATCH:
        break;
    }
    if (r->route->auth != ROUTE_PUBLIC &&
        auth_require_user(r, r->route->auth == ROUTE_USER) != 0)
        return;
    r->route->handler(r);
    if (r->status == 0) {
        log_error("no_answer", "handler for %s %s gave no answer", r->method, r->route->pattern);
        http_problem(r, PROB_INTERNAL, NULL, "An internal error occurred.");
    }
}

static void write_response(struct req *r, FCGX_Request *fr)
{
    /* Formatted here, not with FCGX_FPrintF: libfcgi's own printf knows no %zu. */
    char *head = arena_sprintf(r->arena,
                               "Status: %d %s\r\nX-Request-Id: %s\r\nCache-Control: no-store\r\n",
                               r->status, reason(r->status), r->request_id);
    for (int i = 0; i < r->nheaders; i++)
        head = arena_sprintf(r->arena, "%s%s: %s\r\n", head, r->headers[i].name,
                             r->headers[i].value);
    if (r->resp_type)
        head = arena_sprintf(r->arena, "%sContent-Type: %s\r\n", head, r->resp_type);
    head = arena_sprintf(r->arena, "%sContent-Length: %zu\r\n\r\n", head, r->resp_len);
    FCGX_PutStr(head, (int)strlen(head), fr->out);
    if (r->resp_len)
        FCGX_PutStr(r->resp_body, (int)r->resp_len, fr->out);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void handle(struct server *s, struct arena *arena, struct db *db, FCGX_Request *fr)
{
    struct req r;
    struct timespec t0;
    const char *uri, *q, *rid;
    char status_text[8], dur_text[32];

    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(&r, 0, sizeof r);
    r.arena = arena;
    r.db = db;
    r.app = s->app;
    r.method = param(fr->envp, "REQUEST_METHOD");
    if (!r.method)
        r.method = "GET";
    uri = param(fr->envp, "REQUEST_URI");
    if (!uri || *uri != '/')
        uri = "/";
    q = strchr(uri, '?');
    r.path = q ? arena_strndup(arena, uri, (size_t)(q - uri)) : uri;
    r.query = q ? q + 1 : "";
    r.content_type = param(fr->envp, "CONTENT_TYPE");
    r.authorization = param(fr->envp, "HTTP_AUTHORIZATION");
    r.remote_addr = param(fr->envp, "REMOTE_ADDR");
    r.user_agent = param(fr->envp, "HTTP_USER_AGENT");
    r.origin = param(fr->envp, "HTTP_ORIGIN");
    rid = param(fr->envp, "HTTP_X_REQUEST_ID");
    if (valid_request_id(rid))
        snprintf(r.request_id, sizeof r.request_id, "%s", rid);
    else
        crypto_random_hex16(r.request_id);
    log_set_request_id(r.request_id);

    read_body(&r, fr);
    server_dispatch(&r);
    write_response(&r, fr);

    double secs = seconds_since(&t0);
    metrics_observe(s->app->metrics, router_index(r.route), r.method, r.status, secs);
    snprintf(status_text, sizeof status_text, "%d", r.status);
    snprintf(dur_text, sizeof dur_text, "%.3f", secs * 1000.0);
    const char *keys[] = {"method", "path", "status", "ms"};
    const char *vals[] = {r.method, r.path, status_text, dur_text};
    log_fields(r.status >= 500 ? LOG_WARN : LOG_INFO, "request", 4, keys, vals);
    log_set_request_id(NULL);
    arena_reset(arena);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct server *s = w->srv;
    struct arena *arena = arena_new();
    struct db *db = db_new(s->app->cfg->db_url);
    FCGX_Request fr;

    /* Connect early so the first request does not pay for it; failure is fine here. */
    db_connect(db);
    FCGX_InitRequest(&fr, s->fd, FCGI_FAIL_ACCEPT_ON_INTR);
    for (;;) {
        int rc;
        pthread_mutex_lock(&s->accept_mu);
        rc = FCGX_Accept_r(&fr);
        pthread_mutex_unlock(&s->accept_mu);
        if (rc < 0)
            break;
        handle(s, arena, db, &fr);
        FCGX_Finish_r(&fr);
    }
    FCGX_Free(&fr, 1);
    db_free(db);
    arena_free(arena);
    return NULL;
}

int server_start(struct server *s)
{
    int n = s->app->cfg->api_threads;
    s->workers = xcalloc((size_t)n, sizeof *s->workers);
    s->nworkers = n;
    for (int i = 0; i < n; i++) {
        s->workers[i].srv = s;
        if (pthread_create(&s->workers[i].tid, NULL, worker_main, &s->workers[i]) != 0) {
            log_error("thread", "cannot start request thread %d", i);
            return -1;
        }
        s->workers[i].started = 1;
    }
    log_info("ready", "%d request threads", n);
    return 0;
}

void server_stop(struct server *s)
{
    if (!s || s->fd < 0)
        return;
    /* Wakes every thread blocked in accept(); requests in flight run to the end. */
    shutdown(s->fd, SHUT_RDWR);
    for (int i = 0; i < s->nworkers; i++)
        if (s->workers[i].started)
            pthread_join(s->workers[i].tid, NULL);
    s->nworkers = 0;
    close(s->fd);
    s->fd = -1;
    if (s->unix_path)
        unlink(s->unix_path);
}

void server_free(struct server *s)
{
    if (!s)
        return;
    server_stop(s);
    if (s->fd >= 0)
        close(s->fd);
    pthread_mutex_destroy(&s->accept_mu);
    free(s->workers);
    free(s->unix_path);
    free(s);
}

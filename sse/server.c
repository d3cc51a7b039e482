/*
 * server: missive-sse's HTTP side on libmicrohttpd (epoll, one internal thread).
 *
 *   GET /healthz                   200 | 503
 *   GET /metrics                   Prometheus text
 *   GET /v1/stream                 text/event-stream (ticket or bearer; Last-Event-ID or ?cursor=)
 *   GET /v1/events?cursor=&timeout=&limit=   long-poll, {"events":[...],"cursor":N}
 *
 * The event loop never touches the database. A request that needs it is
 * suspended and handed to a database thread (jobs.c), which resumes it when
 * done; libmicrohttpd then calls the access handler again and the request moves
 * to its next phase. A stream then lives in the hub: its content reader drains
 * the stream's buffer and suspends when it is empty.
 *
 * A request's struct sreq is touched by the event loop, and by one job while the
 * request is suspended for it; the job never touches it after resuming it.
 *
 * Slow clients: libmicrohttpd's connection timeout only closes a connection that
 * has been silent that long, so a client that trickles its request a byte at a
 * time (slowloris) would hold its connection for ever. Every connection waiting
 * for a request is therefore on a list with the time it started waiting (accepted,
 * or its previous answer ended); once a second the tick shuts down those that have
 * not delivered a whole request (header and any body) within sse_request_timeout
 * seconds, and libmicrohttpd then closes them as it would any client that left.
 */
#include "server.h"

#include "auth.h"
#include "crypto.h"
#include "hub.h"
#include "jobs.h"
#include "listener.h"
#include "log.h"
#include "problem.h"
#include "xalloc.h"

#include <jansson.h>
#include <microhttpd.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define REPLAY_PAGE 500
#define POLL_MAX_TIMEOUT 60

/* Every stream open and long-poll runs these: prepared once per database
 * thread, as their planning cost more than running them (bench/README.md). */
static const struct db_stmt replay_stmt = {
    "replay", "SELECT pos, type, json FROM missive_events_for($1, $2, $3)"};
static const struct db_stmt poll_stmt = {
    "poll", "SELECT pos, json FROM missive_events_for($1, $2, $3)"};
static const struct db_stmt head_stmt = {"head", "SELECT pos FROM event_counter WHERE id = 1"};

enum phase { PH_NEW = 0, PH_JOB, PH_READY, PH_STREAMING, PH_PARKED };
enum kind { K_STREAM = 0, K_POLL };

struct sreq {
    struct server *srv;
    struct MHD_Connection *conn;
    enum kind kind;
    enum phase phase;
    /* input, copied out of the request on the event loop */
    char *ticket;
    char *bearer;
    long long cursor; /* -1: none given */
    long long timeout_s;
    long long limit;
    /* set by the job */
    enum auth_result auth;
    int bad_cursor;
    struct stream *stream;
    char *poll_json; /* events found at once (long-poll), "" if none */
    long long poll_last;
};

/* A connection waiting for (the rest of) a request: on the server's wait list, oldest first. */
struct waiter {
    struct waiter *prev, *next;
    int fd;
    int linked;
    long long since_ms; /* accepted, or its previous answer ended */
};

struct server {
    const struct config *cfg;
    struct MHD_Daemon *daemon;
    struct hub *hub;
    struct jobs *jobs;
    struct listener *listener;
    const unsigned char *key;
    size_t keylen;
    atomic_ullong streams_opened;
    atomic_ullong polls_answered;
    /* connections waiting for a request; the event loop links and unlinks, the tick
     * shuts down the overdue ones */
    pthread_mutex_t wait_lock;
    struct waiter *wait_head, *wait_tail;
    atomic_ullong request_timeouts;
};

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- connections waiting for a request (see the top of the file) ---- */

static void waiter_unlink(struct server *srv, struct waiter *w)
{
    if (!w->linked)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        srv->wait_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        srv->wait_tail = w->prev;
    w->prev = w->next = NULL;
    w->linked = 0;
}

/* (Re)starts w's wait at the tail: the list stays ordered by since_ms. */
static void waiter_wait(struct server *srv, struct waiter *w)
{
    pthread_mutex_lock(&srv->wait_lock);
    waiter_unlink(srv, w);
    w->since_ms = now_ms();
    w->prev = srv->wait_tail;
    if (srv->wait_tail)
        srv->wait_tail->next = w;
    else
        srv->wait_head = w;
    srv->wait_tail = w;
    w->linked = 1;
    pthread_mutex_unlock(&srv->wait_lock);
}

static struct waiter *waiter_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* libmicrohttpd: a connection was accepted or is about to be closed (before its
 * socket is: the tick never shuts down a descriptor that was reused). */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct server *srv = cls;
    struct waiter *w = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        w = xcalloc(1, sizeof *w);
        w->fd = ci ? ci->connect_fd : -1;
        *socket_context = w;
        waiter_wait(srv, w);
        return;
    }
    if (!w)
        return;
    pthread_mutex_lock(&srv->wait_lock);
    waiter_unlink(srv, w);
    pthread_mutex_unlock(&srv->wait_lock);
    free(w);
    *socket_context = NULL;
}

/* The whole request has arrived: the connection is no longer waiting. */
static void request_arrived(struct server *srv, struct MHD_Connection *c)
{
    struct waiter *w = waiter_of(c);
    if (!w)
        return;
    pthread_mutex_lock(&srv->wait_lock);
    waiter_unlink(srv, w);
    pthread_mutex_unlock(&srv->wait_lock);
}

/* From the tick: shuts down connections that waited longer than sse_request_timeout. */
static void expire_waiters(struct server *srv)
{
    long long limit = (long long)srv->cfg->sse_request_timeout * 1000, now = now_ms();
    unsigned long long n = 0;
    pthread_mutex_lock(&srv->wait_lock);
    while (srv->wait_head && now - srv->wait_head->since_ms >= limit) {
        struct waiter *w = srv->wait_head;
        waiter_unlink(srv, w);
        if (w->fd >= 0)
            shutdown(w->fd, SHUT_RDWR);
        n++;
    }
    pthread_mutex_unlock(&srv->wait_lock);
    if (n) {
        atomic_fetch_add(&srv->request_timeouts, n);
        log_info("slow_clients", "closed %llu connection(s) that sent no whole request in %d s", n,
                 srv->cfg->sse_request_timeout);
    }
}

/* Echoes nginx's request id (or one of ours) so a log line can be found from an answer. */
static void add_request_id(struct MHD_Connection *c, struct MHD_Response *resp)
{
    const char *rid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    char mine[33];
    size_t n = rid ? strlen(rid) : 0;
    int ok = n > 0 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (rid[i] >= '0' && rid[i] <= '9') || (rid[i] >= 'a' && rid[i] <= 'z') ||
             (rid[i] >= 'A' && rid[i] <= 'Z') || rid[i] == '-' || rid[i] == '_';
    if (!ok) {
        crypto_random_hex16(mine);
        rid = mine;
    }
    MHD_add_response_header(resp, "X-Request-Id", rid);
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type,
                                 char *text /* taken */, const char *extra_name,
                                 const char *extra_value)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result rc;
    add_request_id(c, resp);
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (extra_name)
        MHD_add_response_header(resp, extra_name, extra_value);
    rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return send_text(c, status, "application/json", text, NULL, NULL);
}

static enum MHD_Result send_problem(struct MHD_Connection *c, enum problem_kind k,
                                    const char *field, const char *detail)
{
    json_t *p = problem_new(k, detail, field);
    char *text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    if (k == PROB_UNAUTHORIZED)
        return send_text(c, 401, PROBLEM_CONTENT_TYPE, text, "WWW-Authenticate",
                         "Bearer realm=\"missive\"");
    if (k == PROB_UNAVAILABLE)
        return send_text(c, 503, PROBLEM_CONTENT_TYPE, text, "Retry-After", "1");
    if (k == PROB_METHOD)
        return send_text(c, 405, PROBLEM_CONTENT_TYPE, text, "Allow", "GET");
    return send_text(c, (unsigned)problem_status(k), PROBLEM_CONTENT_TYPE, text, NULL, NULL);
}

/* A non-negative decimal, or -1 (absent) / -2 (malformed). */
long long sse_parse_pos(const char *s)
{
    long long x = 0;
    if (!s)
        return -1;
    if (!*s)
        return -2;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || x > (0x7fffffffffffffffLL - 9) / 10)
            return -2;
        x = x * 10 + (*s - '0');
    }
    return x;
}

/* ---- jobs: run on a database thread while the request is suspended ---- */

/* The stream's catch-up: every event after the cursor, then hand over to live. */
static void replay(struct server *srv, struct db *db, struct stream *s, long long user,
                   long long cursor)
{
    char ubuf[24], cbuf[24], lbuf[24];
    const char *p[3] = {ubuf, cbuf, lbuf};

    snprintf(ubuf, sizeof ubuf, "%lld", user);
    snprintf(lbuf, sizeof lbuf, "%d", REPLAY_PAGE);
    for (;;) {
        PGresult *r = NULL;
        int n;
        snprintf(cbuf, sizeof cbuf, "%lld", cursor);
        if (db_exec_stmt(db, &r, &replay_stmt, 3, p) != DB_OK) {
            hub_fail(srv->hub, s, "unavailable");
            return;
        }
        n = PQntuples(r);
        for (int i = 0; i < n; i++) {
            cursor = strtoll(PQgetvalue(r, i, 0), NULL, 10);
            hub_replay_event(srv->hub, s, cursor, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                             (size_t)PQgetlength(r, i, 2));
        }
        PQclear(r);
        if (n < REPLAY_PAGE)
            break;
    }
    hub_replay_done(srv->hub, s, cursor);
}

/* The current end of the event stream, or -1. */
static long long stream_end(struct db *db)
{
    PGresult *r = NULL;
    long long pos = -1;
    if (db_exec_stmt(db, &r, &head_stmt, 0, NULL) == DB_OK) {
        pos = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    return pos;
}

static void open_job(struct db *db, void *arg)
{
    struct sreq *q = arg;
    struct server *srv = q->srv;
    struct auth_who who = {0, 0};
    struct stream *s = NULL;
    long long cursor = q->cursor, end;

    q->auth = auth_check(db, srv->key, srv->keylen, q->ticket, q->bearer, &who);
    if (q->auth != AUTH_OK)
        goto resume;
    /* Subscribe first, then read: live events arriving meanwhile are held. */
    s = hub_open(srv->hub, q->kind == K_STREAM ? STREAM_SSE : STREAM_LONGPOLL, who.user,
                 who.session);
    end = stream_end(db);
    if (end < 0) {
        q->auth = AUTH_UNAVAILABLE;
        hub_release(srv->hub, s);
        s = NULL;
        goto resume;
    }
    if (cursor > end) {
        q->bad_cursor = 1;
        hub_release(srv->hub, s);
        s = NULL;
        goto resume;
    }
    if (cursor < 0)
        cursor = end;
    q->stream = s;
    q->cursor = cursor;
    if (q->kind == K_POLL) {
        /* Answer at once if there is anything; otherwise the held stream waits. */
        char ubuf[24], cbuf[24], lbuf[24];
        const char *p[3] = {ubuf, cbuf, lbuf};
        PGresult *r = NULL;
        snprintf(ubuf, sizeof ubuf, "%lld", who.user);
        snprintf(cbuf, sizeof cbuf, "%lld", cursor);
        snprintf(lbuf, sizeof lbuf, "%lld", q->limit);
        if (db_exec_stmt(db, &r, &poll_stmt, 3, p) != DB_OK) {
            q->auth = AUTH_UNAVAILABLE;
            goto resume;
        }
        int n = PQntuples(r);
        size_t cap = 1;
        for (int i = 0; i < n; i++)
            cap += (size_t)PQgetlength(r, i, 1) + 1;
        q->poll_json = xmalloc(cap);
        q->poll_json[0] = '\0';
        char *o = q->poll_json;
        for (int i = 0; i < n; i++) {
            if (i)
                *o++ = ',';
            memcpy(o, PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1));
            o += PQgetlength(r, i, 1);
            *o = '\0';
        }
        q->poll_last = n ? strtoll(PQgetvalue(r, n - 1, 0), NULL, 10) : cursor;
        PQclear(r);
        hub_replay_done(srv->hub, s, q->poll_last);
        goto resume;
    }
    /* SSE: the response goes out now; the catch-up streams into it from here. */
    hub_retain(srv->hub, s);
    q->phase = PH_READY;
    MHD_resume_connection(q->conn);
    replay(srv, db, s, who.user, cursor);
    hub_release(srv->hub, s);
    return;
resume:
    q->phase = PH_READY;
    MHD_resume_connection(q->conn);
}

/* ---- the event loop side ---- */

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sreq *q = cls;
    (void)pos;
    ssize_t n = hub_read(q->srv->hub, q->stream, buf, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static enum MHD_Result start_stream(struct sreq *q)
{
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 2048, read_stream, q, NULL);
    enum MHD_Result rc;

    hub_attach(q->srv->hub, q->stream, q->conn);
    add_request_id(q->conn, resp);
    MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-cache, no-transform");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    /* No chunked encoding: once the stream is under way the hub writes the event
     * stream straight to the socket (hub.c). The connection closes with the stream. */
    MHD_set_response_options(resp, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
    rc = MHD_queue_response(q->conn, 200, resp);
    MHD_destroy_response(resp);
    q->phase = PH_STREAMING;
    atomic_fetch_add(&q->srv->streams_opened, 1);
    return rc;
}

static enum MHD_Result answer_poll(struct sreq *q, const char *events, long long last)
{
    char *text = xasprintf("{\"events\":[%s],\"cursor\":%lld}", events, last);
    atomic_fetch_add(&q->srv->polls_answered, 1);
    return send_text(q->conn, 200, "application/json", text, NULL, NULL);
}

static enum MHD_Result poll_ready(struct sreq *q)
{
    long long last = 0;
    if (q->poll_json && q->poll_json[0])
        return answer_poll(q, q->poll_json, q->poll_last);
    if (q->timeout_s > 0 && q->phase == PH_READY) {
        q->phase = PH_PARKED;
        if (hub_park(q->srv->hub, q->stream, q->conn, now_ms() + q->timeout_s * 1000))
            return MHD_YES;
    }
    const char *events = hub_longpoll_events(q->srv->hub, q->stream, &last);
    return answer_poll(q, events, last > q->cursor ? last : q->cursor);
}

static enum MHD_Result after_job(struct sreq *q)
{
    if (q->auth == AUTH_MISSING)
        return send_problem(q->conn, PROB_UNAUTHORIZED, NULL,
                            "Open the stream with ?ticket= (POST /v1/stream/tickets) or "
                            "Authorization: Bearer <access token>.");
    if (q->auth == AUTH_INVALID)
        return send_problem(q->conn, PROB_UNAUTHORIZED, NULL,
                            "The ticket or token is not valid, was already used, or its "
                            "session ended.");
    if (q->auth == AUTH_UNAVAILABLE)
        return send_problem(q->conn, PROB_UNAVAILABLE, NULL,
                            "The database is unavailable; reconnect shortly with the same cursor.");
    if (q->bad_cursor)
        return send_problem(q->conn, PROB_BAD_REQUEST, "cursor",
                            "The cursor is ahead of the event stream: it was not given out here.");
    if (q->kind == K_STREAM)
        return start_stream(q);
    return poll_ready(q);
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static enum MHD_Result begin(struct sreq *q, struct MHD_Connection *c)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *cur = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "cursor");
    const char *last_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    long long v;

    q->ticket = dup_or_null(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ticket"));
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
        q->bearer = xstrdup(auth + 7);
    /* The header wins: it is what a browser sends when it resumes by itself. */
    q->cursor = sse_parse_pos(last_id && *last_id ? last_id : cur);
    if (q->cursor == -2)
        return send_problem(c, PROB_BAD_REQUEST, "cursor",
                            "The cursor (Last-Event-ID or ?cursor=) must be a non-negative integer.");
    if (q->kind == K_POLL) {
        const char *t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "timeout");
        const char *l = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
        v = sse_parse_pos(t);
        if (v == -2 || v > POLL_MAX_TIMEOUT)
            return send_problem(c, PROB_BAD_REQUEST, "timeout",
                                "timeout is a number of seconds from 0 to 60.");
        q->timeout_s = v < 0 ? 0 : v;
        v = sse_parse_pos(l);
        if (v == -2 || v == 0 || v > 1000)
            return send_problem(c, PROB_BAD_REQUEST, "limit", "limit is from 1 to 1000.");
        q->limit = v < 0 ? 100 : v;
        if (q->cursor < 0)
            q->cursor = 0; /* polling starts from the beginning unless told */
    }
    q->phase = PH_JOB;
    MHD_suspend_connection(c);
    jobs_submit(q->srv->jobs, open_job, q);
    return MHD_YES;
}

static enum MHD_Result health(struct server *srv, struct MHD_Connection *c)
{
    (void)srv;
    return send_json(c, 200, json_pack("{s:s}", "status", "ok"));
}

static enum MHD_Result metrics(struct server *srv, struct MHD_Connection *c)
{
    size_t streams, users;
    hub_counts(srv->hub, &streams, &users);
    char *text = xasprintf(
        "# HELP missive_sse_streams Open streams and held long-polls.\n"
        "# TYPE missive_sse_streams gauge\nmissive_sse_streams %zu\n"
        "# HELP missive_sse_users Users with at least one stream here.\n"
        "# TYPE missive_sse_users gauge\nmissive_sse_users %zu\n"
        "# HELP missive_sse_streams_opened_total Streams opened since start.\n"
        "# TYPE missive_sse_streams_opened_total counter\nmissive_sse_streams_opened_total %llu\n"
        "# HELP missive_sse_polls_total Long-polls answered since start.\n"
        "# TYPE missive_sse_polls_total counter\nmissive_sse_polls_total %llu\n"
        "# HELP missive_sse_events_total Events fanned out since start.\n"
        "# TYPE missive_sse_events_total counter\nmissive_sse_events_total %llu\n"
        "# HELP missive_sse_db_backlog Requests waiting for a database thread.\n"
        "# TYPE missive_sse_db_backlog gauge\nmissive_sse_db_backlog %zu\n"
        "# HELP missive_sse_request_timeouts_total Connections closed for not sending a whole "
        "request within sse_request_timeout.\n"
        "# TYPE missive_sse_request_timeouts_total counter\n"
        "missive_sse_request_timeouts_total %llu\n"
        "# HELP missive_sse_slow_readers_total Streams ended because the client fell "
        "sse_max_buffer bytes behind.\n"
        "# TYPE missive_sse_slow_readers_total counter\nmissive_sse_slow_readers_total %llu\n",
        streams, users, (unsigned long long)atomic_load(&srv->streams_opened),
        (unsigned long long)atomic_load(&srv->polls_answered), listener_delivered(srv->listener),
        jobs_backlog(srv->jobs), (unsigned long long)atomic_load(&srv->request_timeouts),
        hub_slow_readers(srv->hub));
    return send_text(c, 200, "text/plain; version=0.0.4; charset=utf-8", text, NULL, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **ctx)
{
    struct server *srv = cls;
    struct sreq *q = *ctx;
    (void)version;
    (void)upload;

    if (!q) {
        q = xcalloc(1, sizeof *q);
        q->srv = srv;
        q->conn = c;
        *ctx = q;
        return MHD_YES;
    }
    if (*upload_size) { /* no endpoint here takes a body: ignore it */
        *upload_size = 0;
        return MHD_YES;
    }
    switch (q->phase) {
    case PH_NEW:
        request_arrived(srv, c);
        break;
    case PH_READY:
        return after_job(q);
    case PH_PARKED:
        return poll_ready(q);
    default:
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_problem(c, PROB_METHOD, NULL, "Only GET is allowed here.");
    if (strcmp(url, "/healthz") == 0)
        return health(srv, c);
    if (strcmp(url, "/metrics") == 0)
        return metrics(srv, c);
    if (strcmp(url, "/v1/stream") == 0) {
        q->kind = K_STREAM;
        return begin(q, c);
    }
    if (strcmp(url, "/v1/events") == 0) {
        q->kind = K_POLL;
        return begin(q, c);
    }
    return send_problem(c, PROB_NOT_FOUND, NULL, "There is no resource at this path.");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
                         enum MHD_RequestTerminationCode why)
{
    struct server *srv = cls;
    struct sreq *q = *ctx;
    struct waiter *w = waiter_of(c);
    (void)why;
    /* kept alive or not: it waits for its next request (or is closed soon) */
    if (w)
        waiter_wait(srv, w);
    if (!q)
        return;
    if (q->stream)
        hub_close(q->srv->hub, q->stream);
    free(q->ticket);
    free(q->bearer);
    free(q->poll_json);
    free(q);
    *ctx = NULL;
}

/* Parses "host:port" (IPv4) into sa. -1 if malformed. */
static int parse_listen(const char *s, struct sockaddr_in *sa)
{
    const char *colon = strrchr(s, ':');
    char host[64];
    long port;
    char *end;

    if (!colon || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* libmicrohttpd's own messages, as JSON lines like ours. Most are a client
 * that went away mid-answer: routine, hence debug. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_debug("libmicrohttpd", "%s", line);
}

struct server *server_new(const struct config *cfg)
{
    struct server *srv = xcalloc(1, sizeof *srv);
    struct sockaddr_in sa;

    srv->cfg = cfg;
    srv->key = (const unsigned char *)cfg->token_secret;
    srv->keylen = strlen(cfg->token_secret);
    pthread_mutex_init(&srv->wait_lock, NULL);
    if (parse_listen(cfg->sse_listen, &sa) != 0) {
        log_error("config", "sse_listen must be IPv4 host:port, got '%s'", cfg->sse_listen);
        goto fail;
    }
    srv->hub = hub_new((size_t)cfg->sse_max_buffer, cfg->sse_retry_ms);
    srv->jobs = jobs_new(cfg->db_url, cfg->sse_db_threads);
    srv->listener = listener_new(srv->hub, cfg->db_url);
    if (!srv->listener)
        goto fail;
    srv->daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->sse_max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->sse_conn_memory,
        /* Suspended streams never time out; a stream being written to is never idle
         * longer than a heartbeat; anything else idle for 60 s goes. A connection
         * waiting for its request has sse_request_timeout (expire_waiters). */
        MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        /* Several event loops, each with its own share of the connections: after
         * any suspended connection is resumed, libmicrohttpd 0.9.75 walks its
         * loop's whole suspended list, so with one loop every delivery cost a
         * walk over every idle stream (bench/README.md). 1 = no pool. */
        cfg->sse_threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
        (unsigned)cfg->sse_threads, MHD_OPTION_END);
    if (!srv->daemon) {
        log_error("listen", "cannot listen on %s", cfg->sse_listen);
        goto fail;
    }
    log_info("ready", "listening on %s", cfg->sse_listen);
    return srv;
fail:
    server_free(srv);
    return NULL;
}

void server_tick(struct server *srv)
{
    expire_waiters(srv);
    hub_expire(srv->hub, now_ms());
    hub_probe(srv->hub);
    hub_heartbeat(srv->hub, now_ms(), (long long)srv->cfg->sse_heartbeat * 1000);
}

struct hub *server_hub(struct server *srv)
{
    return srv->hub;
}

void server_free(struct server *srv)
{
    if (!srv)
        return;
    if (srv->daemon) {
        /* Tell every client to reconnect (elsewhere), give them a moment to read it. */
        hub_shutdown(srv->hub);
        MHD_quiesce_daemon(srv->daemon);
        struct timespec pause = {0, 300 * 1000000L};
        nanosleep(&pause, NULL);
    }
    jobs_free(srv->jobs); /* resumes whatever it was working for */
    if (srv->daemon) {
        hub_shutdown(srv->hub);
        MHD_stop_daemon(srv->daemon);
    }
    listener_free(srv->listener);
    hub_free(srv->hub);
    pthread_mutex_destroy(&srv->wait_lock);
    free(srv);
}

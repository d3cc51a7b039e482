/*
 * hub: streams by user, their buffers, and the catch-up/live hand-over (hub.h).
 *
 * Owns every struct stream (reference counted: the connection holds one, a
 * replay job another). h->mu guards everything here; MHD_suspend_connection and
 * MHD_resume_connection are called with it held, so a suspend can never slip
 * between another thread's append and its resume.
 *
 * Direct writes. An SSE stream's bytes first go out through libmicrohttpd
 * (hub_read). Once libmicrohttpd has sent all it was given and asks for more
 * while there is none, the stream is suspended and its socket becomes ours
 * ("direct"): events are written to it at once by the thread that has them,
 * with no resume and no trip through libmicrohttpd's loop. That loop walks
 * every suspended connection after each resume (libmicrohttpd 0.9.75), which
 * with thousands of idle streams cost more than the deliveries themselves
 * (bench/README.md). The response is sent without chunked encoding
 * (MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, server.c), so the bytes on the wire are
 * the event stream itself. When the socket cannot take everything (a slow
 * reader) or the stream ends, the rest goes into the buffer and the connection
 * is resumed: libmicrohttpd owns the socket again until the buffer is empty.
 * So a direct stream always has an empty buffer, and only one side ever writes.
 */
#include "hub.h"

#include "log.h"
#include "xalloc.h"

#include <microhttpd.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

struct held {
    struct held *next;
    long long pos;
    size_t len;
    char text[];
};

struct stream {
    struct stream *prev, *next; /* the user's streams */
    long long user;
    long long session;
    enum stream_kind kind;
    int refs;
    unsigned replaying : 1; /* catch-up running: live events are held */
    unsigned closing : 1;   /* end once the buffer is drained */
    unsigned closed : 1;    /* the connection is gone */
    unsigned suspended : 1;
    unsigned linked : 1; /* in the user map */
    unsigned fed : 1;    /* libmicrohttpd has been given bytes: the header is out */
    unsigned direct : 1; /* suspended, and its socket is written here (see the top) */
    struct MHD_Connection *conn;
    int fd; /* the connection's socket, to notice a client that hung up */
    long long last_pos;
    long long deadline_ms; /* long-poll: when to answer empty */
    long long wrote_ms;    /* SSE: when bytes were last queued or written for it */
    unsigned beat_phase;   /* 0..999: where in the heartbeat interval it beats */
    char *buf;
    size_t len, off, cap;
    struct held *held, *held_tail;
};

struct user_entry {
    struct user_entry *next;
    long long user;
    struct stream *streams;
};

struct hub {
    pthread_mutex_t mu;
    size_t max_buffer;
    int retry_ms;
    struct user_entry **table;
    size_t table_size; /* power of two */
    size_t nusers, nstreams;
    unsigned long long opened; /* streams ever opened: spreads their beat_phase */
    unsigned long long slow_readers; /* streams ended for falling max_buffer behind */
};

static long long clock_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static size_t slot(const struct hub *h, long long user)
{
    uint64_t x = (uint64_t)user * 0x9E3779B97F4A7C15ULL;
    return (size_t)(x >> 32) & (h->table_size - 1);
}

struct hub *hub_new(size_t max_buffer, int retry_ms)
{
    struct hub *h = xcalloc(1, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
    h->max_buffer = max_buffer;
    h->retry_ms = retry_ms;
    h->table_size = 1024;
    h->table = xcalloc(h->table_size, sizeof *h->table);
    return h;
}

static void free_stream(struct stream *s)
{
    struct held *x = s->held;
    while (x) {
        struct held *n = x->next;
        free(x);
        x = n;
    }
    free(s->buf);
    free(s);
}

void hub_free(struct hub *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->table_size; i++) {
        struct user_entry *e = h->table[i];
        while (e) {
            struct user_entry *n = e->next;
            free(e);
            e = n;
        }
    }
    free(h->table);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

static struct user_entry *find_user(struct hub *h, long long user)
{
    for (struct user_entry *e = h->table[slot(h, user)]; e; e = e->next)
        if (e->user == user)
            return e;
    return NULL;
}

static void grow_table(struct hub *h)
{
    size_t old = h->table_size;
    struct user_entry **t = h->table;
    h->table_size *= 2;
    h->table = xcalloc(h->table_size, sizeof *h->table);
    for (size_t i = 0; i < old; i++) {
        struct user_entry *e = t[i];
        while (e) {
            struct user_entry *n = e->next;
            size_t k = slot(h, e->user);
            e->next = h->table[k];
            h->table[k] = e;
            e = n;
        }
    }
    free(t);
}

static void link_stream(struct hub *h, struct stream *s)
{
    struct user_entry *e = find_user(h, s->user);
    if (!e) {
        if (h->nusers + 1 > h->table_size)
            grow_table(h);
        e = xcalloc(1, sizeof *e);
        e->user = s->user;
        size_t k = slot(h, s->user);
        e->next = h->table[k];
        h->table[k] = e;
        h->nusers++;
    }
    s->next = e->streams;
    if (e->streams)
        e->streams->prev = s;
    e->streams = s;
    s->linked = 1;
    h->nstreams++;
}

static void unlink_stream(struct hub *h, struct stream *s)
{
    struct user_entry *e, **pe;
    if (!s->linked)
        return;
    s->linked = 0;
    h->nstreams--;
    if (s->prev)
        s->prev->next = s->next;
    if (s->next)
        s->next->prev = s->prev;
    e = find_user(h, s->user);
    if (e && e->streams == s)
        e->streams = s->next;
    s->prev = s->next = NULL;
    if (e && !e->streams) {
        for (pe = &h->table[slot(h, s->user)]; *pe; pe = &(*pe)->next) {
            if (*pe == e) {
                *pe = e->next;
                break;
            }
        }
        free(e);
        h->nusers--;
    }
}

static void put(struct stream *s, const char *text, size_t n)
{
    if (s->off == s->len)
        s->off = s->len = 0;
    if (s->len + n > s->cap) {
        size_t want = s->cap ? s->cap : 512;
        if (s->off > 0) { /* slide the unread part down before growing */
            memmove(s->buf, s->buf + s->off, s->len - s->off);
            s->len -= s->off;
            s->off = 0;
        }
        while (want < s->len + n)
            want *= 2;
        if (want != s->cap) {
            s->buf = xrealloc(s->buf, want);
            s->cap = want;
        }
    }
    memcpy(s->buf + s->len, text, n);
    s->len += n;
}

struct stream *hub_open(struct hub *h, enum stream_kind kind, long long user, long long session)
{
    struct stream *s = xcalloc(1, sizeof *s);
    s->fd = -1;
    s->user = user;
    s->session = session;
    s->kind = kind;
    s->refs = 1;
    s->replaying = 1;
    s->wrote_ms = clock_ms();
    pthread_mutex_lock(&h->mu);
    /* Golden-ratio steps: any run of consecutive opens is spread evenly. */
    s->beat_phase = (unsigned)((h->opened++ * 618) % 1000);
    if (kind == STREAM_SSE) {
        char line[48];
        int n = snprintf(line, sizeof line, "retry: %d\n\n", h->retry_ms);
        put(s, line, (size_t)n);
    }
    link_stream(h, s);
    pthread_mutex_unlock(&h->mu);
    return s;
}

void hub_retain(struct hub *h, struct stream *s)
{
    pthread_mutex_lock(&h->mu);
    s->refs++;
    pthread_mutex_unlock(&h->mu);
}

void hub_release(struct hub *h, struct stream *s)
{
    int last;
    if (!s)
        return;
    pthread_mutex_lock(&h->mu);
    last = --s->refs == 0;
    if (last)
        unlink_stream(h, s);
    pthread_mutex_unlock(&h->mu);
    if (last)
        free_stream(s);
}

/* With h->mu held: lets the connection run again if it is waiting for data; a
 * direct stream's socket goes back to libmicrohttpd. */
static void wake(struct stream *s)
{
    if (s->suspended && s->conn && !s->closed) {
        s->suspended = 0;
        s->direct = 0;
        MHD_resume_connection(s->conn);
    }
}

/*
 * With h->mu held: the next bytes for s's client, in pieces. A direct stream
 * gets them written now; what the socket does not take waits in the buffer and
 * libmicrohttpd is woken to send it. Any other stream buffers them and is woken.
 */
static void emit(struct stream *s, const struct iovec *iov, int n)
{
    size_t total = 0, done = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    s->wrote_ms = clock_ms();
    if (s->direct && !s->closed) {
        struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(s->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w == (ssize_t)total)
            return;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            s->closing = 1; /* the client is gone; libmicrohttpd will see it too */
            wake(s);
            return;
        }
        done = w > 0 ? (size_t)w : 0;
    }
    for (int i = 0; i < n; i++) {
        size_t len = iov[i].iov_len;
        if (done >= len) {
            done -= len;
            continue;
        }
        put(s, (const char *)iov[i].iov_base + done, len - done);
        done = 0;
    }
    wake(s);
}

static void emit_text(struct stream *s, const char *text, size_t n)
{
    struct iovec v = {(void *)text, n};
    emit(s, &v, 1);
}

void hub_attach(struct hub *h, struct stream *s, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    pthread_mutex_lock(&h->mu);
    s->conn = c;
    s->fd = ci ? ci->connect_fd : -1;
    pthread_mutex_unlock(&h->mu);
}


/* With h->mu held: the client is told why, then disconnected once it has read that. */
static void end_with(struct stream *s, const char *reason)
{
    char line[160];
    int n;
    if (s->closing || s->closed)
        return;
    if (s->kind == STREAM_SSE) {
        /* Not "error": EventSource reserves that name for its own connection errors. */
        n = snprintf(line, sizeof line, "event: stream.ended\ndata: {\"reason\":\"%s\"}\n\n",
                     reason);
        emit_text(s, line, (size_t)n);
    }
    s->closing = 1;
    wake(s);
}

/* With h->mu held: formats one event for this kind of stream and appends it. */
static void append_event(struct hub *h, struct stream *s, long long pos, const char *type,
                         const char *json, size_t len)
{
    char head[96];
    int n;

    if (s->closing || s->closed || pos <= s->last_pos)
        return;
    if (s->kind == STREAM_SSE) {
        if (s->len - s->off + len + sizeof head > h->max_buffer) {
            log_warn("slow_reader", "user %lld is %zu bytes behind: disconnecting", s->user,
                     s->len - s->off);
            h->slow_readers++;
            end_with(s, "slow_reader");
            return;
        }
        n = snprintf(head, sizeof head, "id: %lld\nevent: %s\ndata: ", pos, type);
        struct iovec v[3] = {{head, (size_t)n}, {(void *)json, len}, {"\n\n", 2}};
        s->last_pos = pos;
        emit(s, v, 3);
        return;
    }
    if (s->len > 0)
        put(s, ",", 1);
    put(s, json, len);
    s->last_pos = pos;
    wake(s);
}

static void hold(struct stream *s, long long pos, const char *type, const char *json, size_t len)
{
    /* Keep type and json together: "type\0json". */
    size_t tl = strlen(type);
    struct held *x = xmalloc(sizeof *x + tl + 1 + len);
    x->next = NULL;
    x->pos = pos;
    x->len = len;
    memcpy(x->text, type, tl + 1);
    memcpy(x->text + tl + 1, json, len);
    if (s->held_tail)
        s->held_tail->next = x;
    else
        s->held = x;
    s->held_tail = x;
}

void hub_replay_event(struct hub *h, struct stream *s, long long pos, const char *type,
                      const char *json, size_t len)
{
    pthread_mutex_lock(&h->mu);
    append_event(h, s, pos, type, json, len);
    pthread_mutex_unlock(&h->mu);
}

void hub_replay_done(struct hub *h, struct stream *s, long long last_pos)
{
    pthread_mutex_lock(&h->mu);
    if (s->last_pos < last_pos)
        s->last_pos = last_pos;
    for (struct held *x = s->held; x;) {
        struct held *n = x->next;
        size_t tl = strlen(x->text);
        append_event(h, s, x->pos, x->text, x->text + tl + 1, x->len);
        free(x);
        x = n;
    }
    s->held = s->held_tail = NULL;
    s->replaying = 0;
    if (s->kind == STREAM_SSE && !s->closing) {
        /* Tells the client where "now" is, even when nothing was replayed. */
        char line[80];
        int n = snprintf(line, sizeof line, "event: stream.ready\ndata: {\"pos\":%lld}\n\n",
                         s->last_pos);
        emit_text(s, line, (size_t)n);
    } else {
        wake(s);
    }
    pthread_mutex_unlock(&h->mu);
}

void hub_fail(struct hub *h, struct stream *s, const char *reason)
{
    pthread_mutex_lock(&h->mu);
    s->replaying = 0;
    end_with(s, reason);
    pthread_mutex_unlock(&h->mu);
}

void hub_deliver(struct hub *h, long long pos, const char *type, const char *json, size_t len,
                 const long long *users, size_t n)
{
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < n; i++) {
        struct user_entry *e = find_user(h, users[i]);
        if (!e)
            continue;
        for (struct stream *s = e->streams; s; s = s->next) {
            if (s->replaying)
                hold(s, pos, type, json, len);
            else
                append_event(h, s, pos, type, json, len);
        }
    }
    pthread_mutex_unlock(&h->mu);
}

void hub_deliver_ephemeral(struct hub *h, const char *type, const char *json, size_t len,
                           const long long *users, size_t n)
{
    char head[64];
    int hl = snprintf(head, sizeof head, "event: %s\ndata: ", type);

    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < n; i++) {
        struct user_entry *e = find_user(h, users[i]);
        if (!e)
            continue;
        for (struct stream *s = e->streams; s; s = s->next) {
            /* Long-polls only carry stored events; a catch-up in progress loses nothing
             * by missing a typing notice. */
            if (s->kind != STREAM_SSE || s->replaying || s->closing || s->closed)
                continue;
            if (s->len - s->off + len + 80 > h->max_buffer)
                continue;
            struct iovec v[3] = {{head, (size_t)hl}, {(void *)json, len}, {"\n\n", 2}};
            emit(s, v, 3);
        }
    }
    pthread_mutex_unlock(&h->mu);
}

ssize_t hub_read(struct hub *h, struct stream *s, char *buf, size_t max)
{
    ssize_t n = 0;
    pthread_mutex_lock(&h->mu);
    if (s->off < s->len) {
        size_t k = s->len - s->off;
        if (k > max)
            k = max;
        memcpy(buf, s->buf + s->off, k);
        s->off += k;
        if (s->off == s->len) {
            /* Idle streams hold no buffer: this is most of the memory per connection. */
            free(s->buf);
            s->buf = NULL;
            s->off = s->len = s->cap = 0;
        }
        n = (ssize_t)k;
        s->fed = 1;
    } else if (s->closing || s->closed) {
        n = -1;
    } else {
        /* Asked for more, so all it was given is sent: the socket can be ours. */
        s->suspended = 1;
        s->direct = s->kind == STREAM_SSE && s->fed && s->fd >= 0;
        if (s->direct) {
            /* Each event is one write and must leave at once: undo any cork
             * libmicrohttpd left on the socket (at every hand-over, as it may
             * have corked it again while it had the socket back). */
            int off = 0, on = 1;
            setsockopt(s->fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
            setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        }
        MHD_suspend_connection(s->conn);
    }
    pthread_mutex_unlock(&h->mu);
    return n;
}

void hub_close(struct hub *h, struct stream *s)
{
    int last;
    pthread_mutex_lock(&h->mu);
    s->closed = 1;
    s->suspended = 0;
    s->conn = NULL;
    unlink_stream(h, s);
    last = --s->refs == 0;
    pthread_mutex_unlock(&h->mu);
    if (last)
        free_stream(s);
}

const char *hub_longpoll_events(struct hub *h, struct stream *s, long long *last_pos)
{
    const char *out;
    pthread_mutex_lock(&h->mu);
    put(s, "", 1); /* NUL-terminate the gathered text */
    s->len--;
    out = s->buf ? s->buf : "";
    *last_pos = s->last_pos;
    pthread_mutex_unlock(&h->mu);
    return out;
}

int hub_longpoll_ready(struct hub *h, struct stream *s)
{
    int ready;
    pthread_mutex_lock(&h->mu);
    ready = s->len > 0 || s->closing;
    pthread_mutex_unlock(&h->mu);
    return ready;
}

int hub_park(struct hub *h, struct stream *s, struct MHD_Connection *c, long long deadline_ms)
{
    int parked = 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    pthread_mutex_lock(&h->mu);
    s->conn = c;
    s->fd = ci ? ci->connect_fd : -1;
    s->deadline_ms = deadline_ms;
    if (!(s->len > 0 || s->closing || s->closed)) {
        s->suspended = 1;
        MHD_suspend_connection(c);
        parked = 1;
    }
    pthread_mutex_unlock(&h->mu);
    return parked;
}


static void for_each_stream(struct hub *h, void (*fn)(struct hub *, struct stream *, void *),
                            void *arg)
{
    for (size_t i = 0; i < h->table_size; i++)
        for (struct user_entry *e = h->table[i]; e; e = e->next)
            for (struct stream *s = e->streams; s; s = s->next)
                fn(h, s, arg);
}

struct beat_clock {
    long long now_ms, interval_ms;
};

static void beat(struct hub *h, struct stream *s, void *arg)
{
    const struct beat_clock *c = arg;
    (void)h;
    if (s->kind != STREAM_SSE || s->closing || s->closed || s->replaying)
        return;
    long long quiet_for = c->interval_ms - c->interval_ms * s->beat_phase / 2000;
    if (c->now_ms - s->wrote_ms >= quiet_for)
        emit_text(s, ":\n\n", 3);
}

static void expire(struct hub *h, struct stream *s, void *arg)
{
    (void)h;
    if (s->kind == STREAM_LONGPOLL && s->suspended && s->deadline_ms <= *(long long *)arg) {
        s->closing = 1;
        wake(s);
    }
}

void hub_expire(struct hub *h, long long now_ms)
{
    pthread_mutex_lock(&h->mu);
    for_each_stream(h, expire, &now_ms);
    pthread_mutex_unlock(&h->mu);
}

/*
 * libmicrohttpd does not watch a suspended connection, so a client that hangs up
 * while its stream is idle would only be noticed at the next write. Instead the
 * suspended sockets are polled for a hang-up, a thousand per system call.
 */
#define PROBE_BATCH 1024
struct probe {
    struct pollfd fds[PROBE_BATCH];
    struct stream *streams[PROBE_BATCH];
    int n;
};

static void probe_flush(struct probe *pr)
{
    if (pr->n == 0)
        return;
    if (poll(pr->fds, (nfds_t)pr->n, 0) > 0) {
        for (int i = 0; i < pr->n; i++) {
            if (pr->fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
                struct stream *s = pr->streams[i];
                s->closing = 1;
                wake(s);
            }
        }
    }
    pr->n = 0;
}

static void probe_one(struct hub *h, struct stream *s, void *arg)
{
    struct probe *pr = arg;
    (void)h;
    if (!s->suspended || s->closed || s->fd < 0)
        return;
    pr->fds[pr->n] = (struct pollfd){s->fd, POLLRDHUP, 0};
    pr->streams[pr->n] = s;
    if (++pr->n == PROBE_BATCH)
        probe_flush(pr);
}

void hub_probe(struct hub *h)
{
    struct probe *pr = xcalloc(1, sizeof *pr);
    pthread_mutex_lock(&h->mu);
    for_each_stream(h, probe_one, pr);
    probe_flush(pr);
    pthread_mutex_unlock(&h->mu);
    free(pr);
}

void hub_heartbeat(struct hub *h, long long now_ms, long long interval_ms)
{
    struct beat_clock c = {now_ms, interval_ms};
    pthread_mutex_lock(&h->mu);
    for_each_stream(h, beat, &c);
    pthread_mutex_unlock(&h->mu);
}

static void end_if_session(struct hub *h, struct stream *s, void *arg)
{
    (void)h;
    if (s->session == *(const long long *)arg)
        end_with(s, "session_ended");
}

void hub_end_session(struct hub *h, long long session)
{
    pthread_mutex_lock(&h->mu);
    for_each_stream(h, end_if_session, &session);
    pthread_mutex_unlock(&h->mu);
}

static void end_for_shutdown(struct hub *h, struct stream *s, void *arg)
{
    char line[64];
    (void)arg;
    if (s->closed)
        return;
    if (s->kind == STREAM_SSE && !s->closing) {
        int n = snprintf(line, sizeof line, "retry: %d\n\n", h->retry_ms);
        emit_text(s, line, (size_t)n);
    }
    s->closing = 1;
    wake(s);
}

void hub_shutdown(struct hub *h)
{
    pthread_mutex_lock(&h->mu);
    for_each_stream(h, end_for_shutdown, NULL);
    pthread_mutex_unlock(&h->mu);
}

size_t hub_users(struct hub *h, long long **out)
{
    size_t n = 0;
    pthread_mutex_lock(&h->mu);
    *out = xcalloc(h->nusers + 1, sizeof **out);
    for (size_t i = 0; i < h->table_size; i++)
        for (struct user_entry *e = h->table[i]; e; e = e->next)
            (*out)[n++] = e->user;
    pthread_mutex_unlock(&h->mu);
    return n;
}

unsigned long long hub_slow_readers(struct hub *h)
{
    pthread_mutex_lock(&h->mu);
    unsigned long long n = h->slow_readers;
    pthread_mutex_unlock(&h->mu);
    return n;
}

void hub_counts(struct hub *h, size_t *streams, size_t *users)
{
    pthread_mutex_lock(&h->mu);
    *streams = h->nstreams;
    *users = h->nusers;
    pthread_mutex_unlock(&h->mu);
}

int hub_user_connected(struct hub *h, long long user)
{
    int yes;
    pthread_mutex_lock(&h->mu);
    yes = find_user(h, user) != NULL;
    pthread_mutex_unlock(&h->mu);
    return yes;
}

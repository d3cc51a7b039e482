/*
 * sse_load: live-delivery load generator for missive-sse (bench/bench-sse.sh).
 *
 *   sse_load idle      --api URL --sse HOST:PORT[/PID]... --streams N [--per-user K] [--hold S]
 *   sse_load latency   --api URL --sse ... --streams N [--per-user K] --rate R --duration S
 *                      [--conv pairs|group|groups [--group-size G]] [--messages M] [--senders T]
 *   sse_load reconnect --api URL --sse ... --streams N --reconnect-rate X --duration S
 *                      [--rate R] [--gap-ms G]
 *   sse_load storm     --api URL --sse ... --streams N --users U --rate R --duration S
 *                      [--storm-after A] [--storm-window W] [--gap-ms G]
 *   sse_load --free-ports N          print N free loopback TCP ports and exit
 *
 * Setup (not measured): users with random-suffixed names sign up and sign in
 * through --api (nginx), a few threads at a time; latency and reconnect modes
 * then create their conversations: "pairs" (user 2p opens a direct conversation
 * with user 2p+1, who accepts it, so both send), "group" (user 0 creates one
 * group holding every user) or "groups" (users gG..gG+G-1 form group g, created
 * by user gG; the users must be a multiple of --group-size G, so that every
 * group has G members and every message the same fan-out).
 *
 * Streams: GET /v1/stream with "Authorization: Bearer <access token>" (one
 * sign-in per user, the token reused for all that user's streams), straight to
 * the --sse targets, spread round robin over them and over --sources source
 * addresses 127.0.0.1..127.0.0.S. Every socket is non-blocking and lives in an
 * epoll loop; a process may hold at most RLIMIT_NOFILE's hard limit of files, so
 * beyond ~18,000 streams the streams are split over several receiver processes
 * (--procs, default ceil(N / 18000)) sharing one memory area with the parent.
 * Stream s belongs to user s % U, goes to target (s + s / U) % T, is handled by
 * receiver process s % P.
 *
 * The receivers decode the chunked answer and the event stream, remember each
 * stream's last "id:", and log every message.created event whose body carries
 * this run's marker ("sseload:RUN:INDEX:SEND_NS") as (message, stream, receive
 * time). The send time embedded in the body is CLOCK_MONOTONIC of this machine,
 * taken just before the POST is written, so send -> receive is measured across
 * processes on one clock. After the run the parent matches the log against what
 * was expected: every message answered 201 must reach every stream of every
 * member of its conversation (the sender's own streams included) exactly once.
 *
 * Storm mode (tests/e2e/storm.test.mjs): once every stream is open and messages
 * flow, every stream is dropped exactly once, the drops spread evenly over
 * --storm-window seconds starting --storm-after seconds into the sending, each
 * reconnecting --gap-ms later with Last-Event-ID; during the storm a receiver
 * starts every due reconnect at once (no --open-window). Reported: the time from
 * the first drop until every stream was live again and until every message sent
 * while a stream was away had reached it, and per stream delivered / lost /
 * duplicated.
 *
 * Output: key=value lines on stdout (see bench/README.md); progress on stderr.
 * Every phase has a deadline and the whole run is bounded by --max-time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_TARGETS      16
#define MAX_SOURCES      250
#define MAX_PROCS        16
#define MAX_WATCH        24
#define MAX_TYPES        24
#define MAX_STREAMS      200000
#define FDS_PER_PROC     18000 /* streams per receiver process (hard limit here: 20000 files) */
#define IO_TIMEOUT_S     10
#define MAX_HEADER_BYTES 65536
#define MAX_BODY_BYTES   (4 << 20)
#define MAX_LINE         (1 << 20)
#define OPEN_RETRY_NS    (500LL * 1000000)
#define RESUME_DELAY_NS  (100LL * 1000000) /* after the server ended a stream */
#define MAX_ATTEMPTS     5
#define NS               1000000000LL

/* ------------------------------------------------------------------ misc */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static pid_t g_children[MAX_PROCS];
static int g_nchildren;
static int g_is_child;

static void kill_children(void)
{
    for (int i = 0; i < g_nchildren; i++)
        if (g_children[i] > 0)
            kill(g_children[i], SIGKILL);
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sse_load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (g_is_child)
        _exit(1);
    kill_children();
    exit(1);
}

static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sse_load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p)
        die("out of memory");
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
    struct timespec ts = {(time_t)(t / NS), (long)(t % NS)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static void sleep_ms(long ms)
{
    sleep_until(now_ns() + (int64_t)ms * 1000000);
}

/* Growable byte buffer, always NUL-terminated. */
struct buf {
    char *p;
    size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void buf_add(struct buf *b, const void *data, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        die("vsnprintf failed");
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->p, b->p + n, b->len - n);
        b->len -= n;
    }
    if (b->p)
        b->p[b->len] = '\0';
}

/* xoshiro256**, seeded from getrandom. */
struct rng {
    uint64_t s[4];
};

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

static void rng_seed(struct rng *r)
{
    size_t got = 0;
    while (got < sizeof r->s) {
        ssize_t n = getrandom((char *)r->s + got, sizeof r->s - got, 0);
        if (n < 0 && errno != EINTR)
            die("getrandom: %s", strerror(errno));
        if (n > 0)
            got += (size_t)n;
    }
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1;
}

static void uuid_v4(struct rng *r, char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    uint64_t a = rng_next(r), c = rng_next(r);
    memcpy(b, &a, 8);
    memcpy(b + 8, &c, 8);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted microseconds v[0..n), in milliseconds. */
static double pct_ms(const uint32_t *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)(q * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1] / 1000.0;
}

static uint32_t to_us(int64_t ns)
{
    if (ns < 0)
        return 0;
    int64_t us = (ns + 500) / 1000;
    return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* "p50=..ms p90=..ms p99=..ms max=..ms" of v (sorted here). */
static void print_pcts(const char *prefix, uint32_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u32);
    printf("%sp50=%.2fms %sp90=%.2fms %sp99=%.2fms %smax=%.2fms", prefix, pct_ms(v, n, 0.50),
           prefix, pct_ms(v, n, 0.90), prefix, pct_ms(v, n, 0.99), prefix,
           n ? v[n - 1] / 1000.0 : 0.0);
}

/* ------------------------------------------------------------------ tiny JSON reader */

static const char *jws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static const char *jstr_end(const char *p)
{
    if (*p != '"')
        return NULL;
    for (p++; *p; p++) {
        if (*p == '\\') {
            if (!p[1])
                return NULL;
            p++;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

static const char *jvalue_end(const char *p)
{
    p = jws(p);
    if (*p == '"')
        return jstr_end(p);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (*p) {
            if (*p == '"') {
                p = jstr_end(p);
                if (!p)
                    return NULL;
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if (*p == '}' || *p == ']') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return NULL;
    }
    const char *s = p;
    while (*p && *p != ',' && *p != '}' && *p != ']' && !isspace((unsigned char)*p))
        p++;
    return p > s ? p : NULL;
}

static const char *json_member(const char *obj, const char *key)
{
    size_t klen = strlen(key);
    const char *p = jws(obj);
    if (*p != '{')
        return NULL;
    p = jws(p + 1);
    while (*p == '"') {
        const char *kend = jstr_end(p);
        if (!kend)
            return NULL;
        int match = (size_t)(kend - p - 2) == klen && memcmp(p + 1, key, klen) == 0;
        p = jws(kend);
        if (*p != ':')
            return NULL;
        p = jws(p + 1);
        if (match)
            return p;
        p = jvalue_end(p);
        if (!p)
            return NULL;
        p = jws(p);
        if (*p != ',')
            return NULL;
        p = jws(p + 1);
    }
    return NULL;
}

static long long json_id(const char *obj, const char *key)
{
    const char *v = json_member(obj, key);
    if (!v || !isdigit((unsigned char)*v))
        return -1;
    return strtoll(v, NULL, 10);
}

static int json_plain_string(const char *obj, const char *key, char *out, size_t outlen)
{
    const char *v = json_member(obj, key), *end;
    if (!v || *v != '"' || !(end = jstr_end(v)))
        return -1;
    size_t n = (size_t)(end - v - 2);
    if (n + 1 > outlen || memchr(v + 1, '\\', n))
        return -1;
    memcpy(out, v + 1, n);
    out[n] = '\0';
    return 0;
}

/* ------------------------------------------------------------------ blocking HTTP/1.1 client (REST) */

static struct sockaddr_in g_api_addr;
static char g_api_hostport[80];

struct conn {
    int fd;
    int reused;
    struct buf in, out;
    long connects;
};

struct response {
    int status;
    const char *body;
    size_t body_len;
    char err[160];
    char location[1024]; /* Location: of the answer, or "" */
};

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->reused = 0;
    c->in.len = 0;
}

static void conn_free(struct conn *c)
{
    conn_close(c);
    free(c->in.p);
    free(c->out.p);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static int block_connect(const struct sockaddr_in *a, char *err, size_t errlen)
{
    struct timeval tv = {IO_TIMEOUT_S, 0};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    while (connect(fd, (const struct sockaddr *)a, sizeof *a) != 0) {
        if (errno == EINTR)
            continue;
        snprintf(err, errlen, "connect: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static ssize_t fill(struct conn *c)
{
    for (;;) {
        buf_reserve(&c->in, 16384);
        ssize_t n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0) {
            c->in.len += (size_t)n;
            c->in.p[c->in.len] = '\0';
        }
        return n;
    }
}

static int has_token(const char *v, size_t vlen, const char *token)
{
    size_t tl = strlen(token);
    const char *end = v + vlen;
    while (v < end) {
        while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
            v++;
        const char *s = v;
        while (v < end && *v != ',')
            v++;
        const char *e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tl && strncasecmp(s, token, tl) == 0)
            return 1;
    }
    return 0;
}

static int dechunk(const char *in, size_t len, size_t start, struct buf *dst, size_t *wire)
{
    size_t p = start;
    dst->len = 0;
    for (;;) {
        const char *line = in + p;
        const char *eol = memmem(line, len - p, "\r\n", 2);
        if (!eol)
            return len - p > 1024 ? -1 : 0;
        char *endp;
        errno = 0;
        unsigned long long sz = strtoull(line, &endp, 16);
        if (endp == line || errno || (*endp != ';' && *endp != '\r' && *endp != ' ') ||
            sz > MAX_BODY_BYTES)
            return -1;
        p = (size_t)(eol - in) + 2;
        if (sz == 0) {
            for (;;) {
                const char *t = memmem(in + p, len - p, "\r\n", 2);
                if (!t)
                    return 0;
                size_t tl = (size_t)(t - (in + p));
                p += tl + 2;
                if (tl == 0) {
                    *wire = p - start;
                    return 1;
                }
            }
        }
        if (len - p < sz + 2)
            return 0;
        if (in[p + sz] != '\r' || in[p + sz + 1] != '\n')
            return -1;
        buf_add(dst, in + p, (size_t)sz);
        p += (size_t)sz + 2;
    }
}

static int read_response(struct conn *c, struct response *r, int *close_after, int *got_any,
                         struct buf *scratch)
{
    size_t hdr_end;
    *got_any = c->in.len > 0;
    for (;;) {
        char *e = c->in.len ? memmem(c->in.p, c->in.len, "\r\n\r\n", 4) : NULL;
        if (e) {
            hdr_end = (size_t)(e - c->in.p) + 4;
            break;
        }
        if (c->in.len > MAX_HEADER_BYTES) {
            snprintf(r->err, sizeof r->err, "answer header too large");
            return -1;
        }
        ssize_t n = fill(c);
        if (n == 0) {
            snprintf(r->err, sizeof r->err, "connection closed before the answer");
            return -1;
        }
        if (n < 0) {
            snprintf(r->err, sizeof r->err, "recv: %s",
                     errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : strerror(errno));
            return -1;
        }
        *got_any = 1;
    }
    const char *h = c->in.p;
    if (strncmp(h, "HTTP/1.", 7) != 0 || h[8] != ' ' || !isdigit((unsigned char)h[9]) ||
        !isdigit((unsigned char)h[10]) || !isdigit((unsigned char)h[11])) {
        snprintf(r->err, sizeof r->err, "bad status line: %.40s", h);
        return -1;
    }
    int minor = h[7] - '0';
    r->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    long long content_length = -1;
    int chunked = 0, conn_close_hdr = 0, conn_keep = 0;
    const char *line = memchr(h, '\n', hdr_end) + 1;
    const char *hend = h + hdr_end - 2;
    while (line < hend) {
        const char *eol = memchr(line, '\n', (size_t)(hend - line) + 1);
        if (!eol)
            break;
        const char *le = eol > line && eol[-1] == '\r' ? eol - 1 : eol;
        const char *colon = memchr(line, ':', (size_t)(le - line));
        if (colon) {
            size_t nl = (size_t)(colon - line);
            const char *v = colon + 1;
            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            size_t vl = (size_t)(le - v);
            if (nl == 14 && strncasecmp(line, "Content-Length", 14) == 0)
                content_length = strtoll(v, NULL, 10);
            else if (nl == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0)
                chunked = has_token(v, vl, "chunked");
            else if (nl == 10 && strncasecmp(line, "Connection", 10) == 0) {
                conn_close_hdr |= has_token(v, vl, "close");
                conn_keep |= has_token(v, vl, "keep-alive");
            } else if (nl == 8 && strncasecmp(line, "Location", 8) == 0 && vl < sizeof r->location) {
                memcpy(r->location, v, vl);
                r->location[vl] = '\0';
            }
        }
        line = eol + 1;
    }
    *close_after = conn_close_hdr || (minor == 0 && !conn_keep);
    if (r->status / 100 == 1 || r->status == 204 || r->status == 304) {
        scratch->len = 0;
        buf_add(scratch, "", 0);
        buf_consume(&c->in, hdr_end);
    } else if (chunked) {
        size_t wire = 0;
        int rc;
        while ((rc = dechunk(c->in.p, c->in.len, hdr_end, scratch, &wire)) == 0) {
            if (fill(c) <= 0) {
                snprintf(r->err, sizeof r->err, "chunked answer cut short");
                return -1;
            }
        }
        if (rc < 0) {
            snprintf(r->err, sizeof r->err, "malformed chunked answer");
            return -1;
        }
        buf_consume(&c->in, hdr_end + wire);
        if (!scratch->p)
            buf_add(scratch, "", 0);
    } else if (content_length >= 0) {
        if (content_length > MAX_BODY_BYTES) {
            snprintf(r->err, sizeof r->err, "answer too large");
            return -1;
        }
        while (c->in.len < hdr_end + (size_t)content_length) {
            if (fill(c) <= 0) {
                snprintf(r->err, sizeof r->err, "answer body cut short");
                return -1;
            }
        }
        scratch->len = 0;
        buf_add(scratch, c->in.p + hdr_end, (size_t)content_length);
        buf_consume(&c->in, hdr_end + (size_t)content_length);
    } else {
        ssize_t n;
        while ((n = fill(c)) > 0) {
            if (c->in.len - hdr_end > MAX_BODY_BYTES) {
                snprintf(r->err, sizeof r->err, "answer too large");
                return -1;
            }
        }
        scratch->len = 0;
        buf_add(scratch, c->in.p + hdr_end, c->in.len - hdr_end);
        c->in.len = 0;
        *close_after = 1;
    }
    r->body = scratch->p;
    r->body_len = scratch->len;
    return 0;
}

/* One request on c (keep-alive), reconnecting as needed; a request that failed
 * before any answer byte on a reused connection is retried once (sends carry a
 * client_msg_id, so a retry cannot store twice). body of body_len bytes, of type
 * ctype (NULL: no body). 0, or -1 with r->err. */
static int http_req(struct conn *c, const char *method, const char *path, const char *token,
                    const char *ctype, const void *body, size_t body_len, struct response *r,
                    struct buf *scratch)
{
    r->status = 0;
    r->body = "";
    r->body_len = 0;
    r->err[0] = '\0';
    r->location[0] = '\0';
    c->out.len = 0;
    buf_printf(&c->out,
               "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: missive-sse-load\r\n"
               "Accept: application/json\r\n",
               method, path, g_api_hostport);
    if (token)
        buf_printf(&c->out, "Authorization: Bearer %s\r\n", token);
    if (body) {
        buf_printf(&c->out, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", ctype, body_len);
        buf_add(&c->out, body, body_len);
    } else {
        buf_printf(&c->out, "Content-Length: 0\r\n\r\n");
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (c->fd < 0) {
            c->connects++;
            c->fd = block_connect(&g_api_addr, r->err, sizeof r->err);
            if (c->fd < 0)
                return -1;
            c->reused = 0;
            c->in.len = 0;
        }
        int was_reused = c->reused, close_after = 0, got_any = 0;
        if (send_all(c->fd, c->out.p, c->out.len) != 0) {
            snprintf(r->err, sizeof r->err, "send: %s", strerror(errno));
            conn_close(c);
            if (was_reused)
                continue;
            return -1;
        }
        if (read_response(c, r, &close_after, &got_any, scratch) != 0) {
            conn_close(c);
            if (was_reused && !got_any)
                continue;
            r->status = 0;
            return -1;
        }
        c->reused = 1;
        if (close_after)
            conn_close(c);
        return 0;
    }
    return -1;
}

/* http_req with a JSON body (or none). */
static int http_do(struct conn *c, const char *method, const char *path, const char *token,
                   const char *body, struct response *r, struct buf *scratch)
{
    return http_req(c, method, path, token, "application/json", body, body ? strlen(body) : 0, r,
                    scratch);
}

/* ------------------------------------------------------------------ addresses */

static int loopback_v4(const char *host, struct in_addr *out)
{
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, out) != 1)
        return -1;
    return (ntohl(out->s_addr) >> 24) == 127 ? 0 : -1;
}

/* "http://127.0.0.1:PORT" (no path) */
static void parse_api(const char *url)
{
    char host[64];
    if (strncmp(url, "http://", 7) != 0)
        die("--api must be http://127.0.0.1:PORT (got '%s')", url);
    const char *p = url + 7, *colon = strchr(p, ':');
    if (!colon || (size_t)(colon - p) >= sizeof host)
        die("--api must be http://127.0.0.1:PORT (got '%s')", url);
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if ((*end && strcmp(end, "/") != 0) || port < 1 || port > 65535)
        die("bad port in --api '%s'", url);
    memset(&g_api_addr, 0, sizeof g_api_addr);
    g_api_addr.sin_family = AF_INET;
    g_api_addr.sin_port = htons((uint16_t)port);
    if (loopback_v4(host, &g_api_addr.sin_addr) != 0)
        die("--api '%s' is not a 127.x.x.x address: this benchmark only targets this machine", url);
    snprintf(g_api_hostport, sizeof g_api_hostport, "%s:%ld", host, port);
}

struct target {
    struct sockaddr_in addr;
    char hostport[80];
    int pid; /* 0: unknown */
    long streams;
    long rss_before, rss_open, rss_hold; /* KiB */
};

static struct target g_targets[MAX_TARGETS];
static int g_ntargets;

/* HOST:PORT[/PID] */
static void add_target(const char *spec)
{
    char host[64];
    if (g_ntargets == MAX_TARGETS)
        die("at most %d --sse targets", MAX_TARGETS);
    struct target *t = &g_targets[g_ntargets];
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof host)
        die("--sse takes HOST:PORT[/PID], got '%s'", spec);
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (port < 1 || port > 65535 || (*end && *end != '/'))
        die("--sse takes HOST:PORT[/PID], got '%s'", spec);
    if (*end == '/') {
        long pid = strtol(end + 1, &end, 10);
        if (*end || pid < 1)
            die("--sse takes HOST:PORT[/PID], got '%s'", spec);
        t->pid = (int)pid;
    }
    t->addr.sin_family = AF_INET;
    t->addr.sin_port = htons((uint16_t)port);
    if (loopback_v4(host, &t->addr.sin_addr) != 0)
        die("--sse '%s' is not a 127.x.x.x address: this benchmark only targets this machine",
            spec);
    snprintf(t->hostport, sizeof t->hostport, "%s:%ld", host, port);
    g_ntargets++;
}

/* ------------------------------------------------------------------ /proc readings */

static long read_rss_kib(int pid)
{
    char path[64], line[256];
    long kib = -1;
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* "TCP: inuse A orphan B tw C alloc D mem E" (mem in pages) */
static void read_sockstat(long *inuse, long *tw, long *mem_pages)
{
    char line[256];
    *inuse = *tw = *mem_pages = -1;
    FILE *f = fopen("/proc/net/sockstat", "re");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        long a, b, c, d, e;
        if (sscanf(line, "TCP: inuse %ld orphan %ld tw %ld alloc %ld mem %ld", &a, &b, &c, &d,
                   &e) == 5) {
            *inuse = a;
            *tw = c;
            *mem_pages = e;
        }
    }
    fclose(f);
}

/* Slab: from /proc/meminfo (kernel objects, sockets among them), KiB, or -1. */
static long read_slab_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/meminfo", "re");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Slab: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* Open files of a process, or -1. */
static long count_fds(int pid)
{
    char path[64];
    long n = 0;
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* missive_sse_streams of one target (its /metrics), or -1. */
static long server_streams(const struct target *t)
{
    char err[160];
    int fd = block_connect(&t->addr, err, sizeof err);
    if (fd < 0)
        return -1;
    char req[160];
    int n = snprintf(req, sizeof req, "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n", t->hostport);
    struct buf b = {0};
    long v = -1;
    if (send_all(fd, req, (size_t)n) == 0) {
        for (;;) {
            buf_reserve(&b, 8192);
            ssize_t k = recv(fd, b.p + b.len, b.cap - b.len - 1, 0);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0 || b.len > 1 << 20)
                break;
            b.len += (size_t)k;
            b.p[b.len] = '\0';
        }
        const char *m = b.p ? strstr(b.p, "\nmissive_sse_streams ") : NULL;
        if (m)
            v = strtol(m + 21, NULL, 10);
    }
    close(fd);
    free(b.p);
    return v;
}

/* ------------------------------------------------------------------ CPU accounting (as send_bench) */

struct watch {
    char name[32];
    int pid;
    unsigned long long t0, t1;
};

static struct watch g_watch[MAX_WATCH];
static int g_nwatch;

struct pstat {
    int pid, ppid;
    unsigned long long self, children;
};

struct snapshot {
    struct pstat *p;
    size_t n, cap;
};

static int read_pstat(int pid, struct pstat *ps)
{
    char path[64], text[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *close_ = strrchr(text, ')');
    if (!close_)
        return -1;
    char state;
    unsigned long long ut, st;
    long long cut, cst;
    if (sscanf(close_ + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &state,
               &ps->ppid, &ut, &st, &cut, &cst) != 6)
        return -1;
    ps->pid = pid;
    ps->self = ut + st;
    ps->children = (unsigned long long)(cut + cst);
    return 0;
}

static void snapshot_take(struct snapshot *s)
{
    s->n = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 512;
            s->p = xrealloc(s->p, s->cap * sizeof *s->p);
        }
        if (read_pstat(atoi(e->d_name), &s->p[s->n]) == 0)
            s->n++;
    }
    closedir(d);
}

static int watch_of(const struct pstat *ps)
{
    for (int i = 0; i < g_nwatch; i++)
        if (ps->pid == g_watch[i].pid || ps->ppid == g_watch[i].pid)
            return i;
    return -1;
}

static void machine_ticks(unsigned long long *busy, unsigned long long *total)
{
    unsigned long long v[10] = {0};
    *busy = *total = 0;
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    fclose(f);
    if (n < 4)
        return;
    for (int i = 0; i < 8 && i < n; i++)
        *total += v[i];
    *busy = *total - v[3] - (n > 4 ? v[4] : 0);
}

struct cpu_window {
    int64_t w0;
    unsigned long long mb0, mt0;
    struct snapshot snap;
};

static void cpu_begin(struct cpu_window *cw)
{
    cw->snap = (struct snapshot){0}; /* cpu_end freed the previous one */
    cw->w0 = now_ns();
    machine_ticks(&cw->mb0, &cw->mt0);
    snapshot_take(&cw->snap);
    for (int i = 0; i < g_nwatch; i++)
        g_watch[i].t0 = 0;
    for (size_t k = 0; k < cw->snap.n; k++) {
        int i = watch_of(&cw->snap.p[k]);
        if (i >= 0)
            g_watch[i].t0 += cw->snap.p[k].self + cw->snap.p[k].children;
    }
}

/* Prints "cpu window=NAME wall=S cores=C NAME=cores... other= idle=" (same names summed). */
static void cpu_end(struct cpu_window *cw, const char *window)
{
    struct snapshot s = {0};
    unsigned long long mb1, mt1;
    int64_t w1 = now_ns();
    machine_ticks(&mb1, &mt1);
    snapshot_take(&s);
    for (int i = 0; i < g_nwatch; i++)
        g_watch[i].t1 = 0;
    for (size_t k = 0; k < s.n; k++) {
        int i = watch_of(&s.p[k]);
        if (i >= 0)
            g_watch[i].t1 += s.p[k].self + s.p[k].children;
    }
    double wall = (double)(w1 - cw->w0) / 1e9, hz = (double)sysconf(_SC_CLK_TCK);
    if (wall <= 0)
        wall = 1e-9;
    double ncpu = mt1 > cw->mt0 ? (double)(mt1 - cw->mt0) / hz / wall : 0;
    double busy = (double)(mb1 - cw->mb0) / hz / wall, ours = 0;
    printf("cpu window=%s wall=%.1fs cores=%.1f busy=%.2f", window, wall, ncpu, busy);
    for (int i = 0; i < g_nwatch; i++) {
        int first = 1;
        for (int j = 0; j < i; j++)
            if (strcmp(g_watch[j].name, g_watch[i].name) == 0)
                first = 0;
        if (!first)
            continue;
        double v = 0;
        for (int j = i; j < g_nwatch; j++)
            if (strcmp(g_watch[j].name, g_watch[i].name) == 0 && g_watch[j].t1 >= g_watch[j].t0)
                v += (double)(g_watch[j].t1 - g_watch[j].t0) / hz / wall;
        ours += v;
        printf(" %s=%.2f", g_watch[i].name, v);
    }
    double other = busy - ours;
    printf(" other=%.2f idle=%.2f\n", other > 0 ? other : 0.0, ncpu - busy > 0 ? ncpu - busy : 0.0);
    fflush(stdout);
    free(s.p);
    free(cw->snap.p);
    cw->snap.p = NULL;
    cw->snap.n = cw->snap.cap = 0;
}

/* ------------------------------------------------------------------ configuration */

enum mode { M_IDLE, M_LATENCY, M_RECONNECT, M_STORM };
enum conv_kind { CONV_PAIRS, CONV_GROUP, CONV_GROUPS };

static struct {
    enum mode mode;
    enum conv_kind conv;
    long group_size;   /* groups: members per group */
    long streams, users, per_user;
    int nsources, procs, senders, setup_threads;
    long open_window;  /* in-flight handshakes per receiver process */
    double open_rate;  /* new streams per second, all processes (0: no limit) */
    double hold;       /* idle: seconds held */
    double rate;       /* messages per second */
    double duration;   /* seconds of sending / reconnecting */
    long messages;     /* messages (0: rate * duration) */
    double reconnect_rate;
    double gap_ms;
    double drain;      /* seconds to wait for late deliveries */
    double open_timeout;
    double settle;     /* latency/reconnect: longest wait for the opening notices to end */
    double max_time;
    int timeline;      /* print send -> receive latency per second of sending */
    double handshake_timeout; /* seconds for connect + answer header */
    double storm_after;       /* storm: seconds of sending before the first drop */
    double storm_window;      /* storm: seconds over which every stream is dropped once */
    double read_rate;         /* chores: read / delivered marks per second */
    int pollers;              /* chores: long-poll loops through --api */
    double poll_timeout;      /* chores: their ?timeout= */
    double media_rate;        /* chores: uploads (presign, PUT, send, download) per second */
    int no_accept;
} o = {
    .mode = M_IDLE,
    .conv = CONV_PAIRS,
    .streams = 1000,
    .per_user = 1,
    .nsources = 1,
    .senders = 16,
    .setup_threads = 16,
    .open_window = 256,
    .hold = 20,
    .rate = 100,
    .duration = 10,
    .reconnect_rate = 100,
    .gap_ms = 250,
    .drain = 10,
    .open_timeout = 180,
    .settle = 60,
    .max_time = 900,
    .handshake_timeout = 15,
    .storm_after = 2,
    .storm_window = 5,
    .poll_timeout = 5,
};

static char g_run[9];         /* this run's marker id */
static char g_mark[32];       /* "sseload:RUN:" */
static size_t g_mark_len;

/* ------------------------------------------------------------------ users and conversations */

struct user {
    long long id;
    char token[1024];
};

static struct user *g_users;
static long g_nusers;
static long long *g_convs; /* pairs: conversation of pair p; group: g_convs[0]; groups: group g */
static atomic_llong *g_conv_seq; /* pairs: newest seq answered per conversation (read marks) */
static long g_nconvs;

static long user_of_stream(long s)
{
    return s % g_nusers;
}

static int target_of_stream(long s)
{
    return (int)((s + s / g_nusers) % g_ntargets);
}

/* Members of each group (group: everyone; groups: --group-size). */
static long group_members(void)
{
    return o.conv == CONV_GROUPS ? o.group_size : g_nusers;
}

/* The conversation of user u: every user is in exactly one. */
static long conv_of_user(long u)
{
    return o.conv == CONV_PAIRS ? u / 2 : u / group_members();
}

/* Most streams one message may have to reach: its conversation's members
 * times the most streams a user has (sizes the delivery log and the
 * recipient lists). */
static long max_recipients(void)
{
    if (o.conv == CONV_GROUP)
        return o.streams;
    return (o.conv == CONV_PAIRS ? 2 : o.group_size) * ((o.streams + g_nusers - 1) / g_nusers);
}

/* Work spread over setup threads: fn(conn, item, rng) for item in [0, n). */
struct par {
    long n;
    atomic_long next;
    void (*fn)(struct conn *, long, struct buf *, struct buf *, struct rng *);
};

static void *par_main(void *arg)
{
    struct par *p = arg;
    struct conn c = {.fd = -1};
    struct buf body = {0}, scratch = {0};
    struct rng rng;
    rng_seed(&rng);
    for (;;) {
        long i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n)
            break;
        p->fn(&c, i, &body, &scratch, &rng);
    }
    conn_free(&c);
    free(body.p);
    free(scratch.p);
    return NULL;
}

static void parallel(long n, void (*fn)(struct conn *, long, struct buf *, struct buf *, struct rng *))
{
    struct par p = {.n = n, .fn = fn};
    int nt = o.setup_threads;
    pthread_t tids[64];
    if (nt > 64)
        nt = 64;
    if (nt > n)
        nt = (int)(n > 0 ? n : 1);
    atomic_init(&p.next, 0);
    for (int i = 0; i < nt; i++)
        if (pthread_create(&tids[i], NULL, par_main, &p) != 0)
            die("pthread_create failed");
    for (int i = 0; i < nt; i++)
        pthread_join(tids[i], NULL);
}

static void setup_call(struct conn *c, const char *what, const char *method, const char *path,
                       const char *token, const char *body, int want1, int want2,
                       struct response *r, struct buf *scratch)
{
    for (int attempt = 0;; attempt++) {
        int rc = http_do(c, method, path, token, body, r, scratch);
        if (rc == 0 && (r->status == want1 || r->status == want2))
            return;
        /* a 502/503/504 (nginx queue full, api restarting) or a transport error: a few retries */
        if (attempt < 3 && (rc != 0 || r->status == 502 || r->status == 503 || r->status == 504)) {
            sleep_ms(200 * (attempt + 1));
            continue;
        }
        if (rc != 0)
            die("setup: %s: %s", what, r->err);
        die("setup: %s: HTTP %d (expected %d): %.300s", what, r->status, want1, r->body);
    }
}

static const char *k_password = "sse-load-password-1";

static void do_signup(struct conn *c, long i, struct buf *body, struct buf *scratch, struct rng *rng)
{
    struct response r;
    (void)rng;
    body->len = 0;
    buf_printf(body, "{\"username\":\"sl%s_%ld\",\"password\":\"%s\"}", g_run, i, k_password);
    setup_call(c, "sign up", "POST", "/v1/accounts", NULL, body->p, 201, 201, &r, scratch);
    g_users[i].id = json_id(r.body, "id");
    if (g_users[i].id <= 0)
        die("setup: no id in the sign-up answer: %.300s", r.body);
    setup_call(c, "sign in", "POST", "/v1/sessions", NULL, body->p, 201, 201, &r, scratch);
    if (json_plain_string(r.body, "access_token", g_users[i].token, sizeof g_users[i].token) != 0)
        die("setup: no access_token in the sign-in answer: %.300s", r.body);
}

static void do_pair(struct conn *c, long p, struct buf *body, struct buf *scratch, struct rng *rng)
{
    struct response r;
    char path[96];
    (void)rng;
    body->len = 0;
    buf_printf(body, "{\"kind\":\"direct\",\"user_id\":%lld}", g_users[2 * p + 1].id);
    setup_call(c, "open direct conversation", "POST", "/v1/conversations", g_users[2 * p].token,
               body->p, 201, 200, &r, scratch);
    g_convs[p] = json_id(r.body, "id");
    if (g_convs[p] <= 0)
        die("setup: no id in the conversation answer: %.300s", r.body);
    if (o.no_accept)
        return;
    snprintf(path, sizeof path, "/v1/conversations/%lld/accept", g_convs[p]);
    setup_call(c, "accept", "POST", path, g_users[2 * p + 1].token, NULL, 200, 200, &r, scratch);
}

/* Group g: its first user creates it with the next group_members() - 1 as members. */
static void do_group(struct conn *c, long g, struct buf *body, struct buf *scratch, struct rng *rng)
{
    struct response r;
    long first = g * group_members(), n = group_members();
    (void)rng;
    body->len = 0;
    buf_printf(body, "{\"kind\":\"group\",\"title\":\"sse load %s %ld\",\"member_ids\":[", g_run, g);
    for (long i = 1; i < n; i++)
        buf_printf(body, "%s%lld", i > 1 ? "," : "", g_users[first + i].id);
    buf_printf(body, "]}");
    setup_call(c, "create group", "POST", "/v1/conversations", g_users[first].token, body->p, 201,
               201, &r, scratch);
    g_convs[g] = json_id(r.body, "id");
    if (g_convs[g] <= 0)
        die("setup: no id in the create-group answer: %.300s", r.body);
}

static const char *g_users_file; /* --users-file: "ID TOKEN" lines instead of signing up */

/* Number of "ID TOKEN" lines of --users-file; with out, also reads them into it. */
static long read_users_file(struct user *out)
{
    FILE *f = fopen(g_users_file, "re");
    char line[2048];
    long n = 0, lineno = 0;
    if (!f)
        die("--users-file %s: %s", g_users_file, strerror(errno));
    while (fgets(line, sizeof line, f)) {
        long long id;
        char tok[1024];
        lineno++;
        if (line[0] == '\n' || line[0] == '#')
            continue;
        if (sscanf(line, "%lld %1023s", &id, tok) != 2 || id <= 0)
            die("--users-file %s:%ld: expected \"ID TOKEN\"", g_users_file, lineno);
        if (out) {
            out[n].id = id;
            snprintf(out[n].token, sizeof out[n].token, "%s", tok);
        }
        n++;
    }
    fclose(f);
    return n;
}

static void setup(void)
{
    int64_t t0 = now_ns();
    g_users = xcalloc((size_t)g_nusers, sizeof *g_users);
    if (g_users_file) {
        note("setup: %ld users from %s", g_nusers, g_users_file);
        if (read_users_file(g_users) != g_nusers)
            die("--users-file changed while reading it");
    } else {
        note("setup: signing up and in %ld users (sl%s_*)", g_nusers, g_run);
        parallel(g_nusers, do_signup);
    }
    double t_users = (double)(now_ns() - t0) / 1e9;
    if (o.mode != M_IDLE) {
        if (o.conv == CONV_PAIRS) {
            g_nconvs = g_nusers / 2;
            g_convs = xcalloc((size_t)g_nconvs, sizeof *g_convs);
            g_conv_seq = xcalloc((size_t)g_nconvs, sizeof *g_conv_seq);
            parallel(g_nconvs, do_pair);
        } else {
            /* group: one of all users; groups: g_nusers / G of G (a multiple: checked in main) */
            g_nconvs = g_nusers / group_members();
            g_convs = xcalloc((size_t)g_nconvs, sizeof *g_convs);
            parallel(g_nconvs, do_group);
        }
    }
    double total = (double)(now_ns() - t0) / 1e9;
    printf("setup users=%ld users_s=%.1f signups_per_s=%.0f conversations=%ld kind=%s",
           g_nusers, t_users, t_users > 0 ? (double)g_nusers / t_users : 0.0, g_nconvs,
           o.mode == M_IDLE       ? "none"
           : o.conv == CONV_PAIRS ? (o.no_accept ? "direct-request" : "direct")
           : o.conv == CONV_GROUP ? "group"
                                  : "groups");
    if (o.mode != M_IDLE && o.conv != CONV_PAIRS)
        printf(" members=%ld", group_members());
    printf(" total_s=%.1f\n", total);
    fflush(stdout);
}

/* ------------------------------------------------------------------ shared memory (parent + receivers) */

enum phase { PH_OPEN = 0, PH_RUN, PH_STOP };

struct wstat { /* one receiver's counters; written by it, read by the parent */
    atomic_long up_now;          /* streams whose 200 answer arrived and are still open */
    atomic_long ever_up;         /* distinct streams that got a 200 at least once */
    atomic_long dead;            /* gave up on (MAX_ATTEMPTS failures before ever up) */
    atomic_long inflight;        /* handshakes under way */
    atomic_long connects;        /* connection attempts */
    atomic_long connect_errors;  /* socket()/connect() failures */
    atomic_long timeouts;        /* handshakes over --handshake-timeout */
    atomic_long http_401, http_503, http_other; /* non-200 answers */
    atomic_long server_closed;   /* an open stream ended by the other side (EOF, reset, last chunk) */
    atomic_long protocol_errors; /* malformed answer */
    atomic_long heartbeats, hb_streams; /* ":" comments; streams that saw one */
    atomic_long events;          /* events with an id */
    atomic_long msg_events;      /* message.created with this run's marker */
    atomic_long foreign_msgs;    /* message.created without it */
    atomic_long other_events;    /* other typed events (ids or not) */
    atomic_long out_of_order;    /* id <= the stream's last id */
    atomic_long error_events, err_slow, err_session, err_unavail; /* "event: error" by reason */
    atomic_long retry_extra;     /* "retry:" lines after the first of a connection (shutdown) */
    atomic_long drops;           /* streams this tool closed on purpose (reconnect mode) */
    atomic_long drop_skipped;    /* a drop was due but no stream was open (storm: that one) */
    int64_t first_drop_ns, last_drop_ns; /* storm: this receiver's first and last drop */
    atomic_long reconnects_done; /* 200 after a drop or a server close */
    atomic_long ndeliv, deliv_overflow;
    atomic_long nrec, rec_overflow;
    atomic_long rss_kib;         /* this receiver's own RSS, sampled each second */
    atomic_int done;
    char first_error[160];
    /* events by type ("event:" line; "-" for none), the first MAX_TYPES types seen */
    char type_name[MAX_TYPES][40];
    atomic_long type_count[MAX_TYPES];
    atomic_int ntypes;
};

struct deliv {
    uint32_t msg, stream;
    int64_t recv_ns, send_ns;
};

struct rec {
    uint32_t stream;
    uint32_t by_server; /* 1: the server ended it, 0: dropped by us */
    int64_t drop_ns, connect_ns, up_ns;
};

struct ctl {
    atomic_int phase;
    int64_t run_start_ns;
};

static struct ctl *g_ctl;
static struct wstat *g_ws;
static atomic_uchar *g_up;   /* per stream: 1 once it was open */
static struct deliv *g_deliv; /* [procs][dcap] */
static struct rec *g_rec;     /* [procs][rcap] */
static size_t g_dcap, g_rcap;

static void *shared_alloc(size_t n)
{
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap %zu bytes: %s", n, strerror(errno));
    return p;
}

#define LD(x)     atomic_load_explicit(&(x), memory_order_relaxed)
#define INC(x)    atomic_fetch_add_explicit(&(x), 1, memory_order_relaxed)
#define DEC(x)    atomic_fetch_sub_explicit(&(x), 1, memory_order_relaxed)

static long sum_stat(size_t off)
{
    long v = 0;
    for (int w = 0; w < o.procs; w++)
        v += atomic_load_explicit((atomic_long *)((char *)&g_ws[w] + off), memory_order_relaxed);
    return v;
}
#define SUM(field) sum_stat(offsetof(struct wstat, field))

/* ------------------------------------------------------------------ receiver process */

enum sstate { S_IDLE = 0, S_WAIT, S_CONNECTING, S_HEADERS, S_BODY, S_DEAD };
enum chstate { CH_SIZE = 0, CH_EXT, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_END };
enum evtype { EV_NONE = 0, EV_MSG, EV_ERR, EV_READY, EV_OTHER };

#define F_HB      1 /* saw a heartbeat */
#define F_RETRY   2 /* saw this connection's first "retry:" */
#define F_GAP     4 /* closed (by us or the server): the next 200 ends a gap */
#define F_BYSRV   8 /* that close was the server's */
#define F_CHUNKED 16
#define F_EVERUP  32

struct stream {
    int fd;
    uint8_t state, ch, ev, flags;
    uint16_t attempts;
    uint32_t line_len, line_cap;
    uint32_t ch_left;
    char *line; /* answer header, then a partial event-stream line */
    char *out;  /* request not yet written */
    uint32_t out_len, out_off;
    long long last_id, cur_id, cur_msg;
    int64_t cur_send_ns;
    int64_t t_start; /* this connection attempt began */
    int64_t drop_ns; /* the gap began */
};

struct recv_ctx {
    int w, ep;
    long n;          /* streams here */
    struct stream *s;
    struct wstat *st;
    struct deliv *deliv;
    struct rec *rec;
    long *queue;     /* FIFO of (re)connects due: stream index and due time */
    int64_t *due;
    long qhead, qlen;
    long open_cursor;
    char rbuf[65536];
};

static long global_of(const struct recv_ctx *x, long j)
{
    return j * o.procs + x->w;
}

static void enqueue(struct recv_ctx *x, long j, int64_t due)
{
    if (x->qlen == x->n)
        die("receiver %d: queue overflow", x->w);
    long k = (x->qhead + x->qlen) % x->n;
    x->queue[k] = j;
    x->due[k] = due;
    x->qlen++;
    x->s[j].state = S_WAIT;
}

static void set_first_error(struct recv_ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_first_error(struct recv_ctx *x, const char *fmt, ...)
{
    if (x->st->first_error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->st->first_error, sizeof x->st->first_error, fmt, ap);
    va_end(ap);
}

static void drop_fd(struct recv_ctx *x, struct stream *s)
{
    if (s->fd >= 0) {
        epoll_ctl(x->ep, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
    }
    s->fd = -1;
    free(s->line);
    s->line = NULL;
    s->line_len = s->line_cap = 0;
    free(s->out);
    s->out = NULL;
    s->out_len = s->out_off = 0;
    s->ev = EV_NONE;
    s->cur_id = -1;
    s->cur_msg = -1;
}

/* A handshake failed: retry later, or give up on a stream that never opened. */
static void attempt_failed(struct recv_ctx *x, long j, int64_t now, int64_t delay)
{
    struct stream *s = &x->s[j];
    drop_fd(x, s);
    DEC(x->st->inflight);
    s->attempts++;
    if (!(s->flags & F_EVERUP) && s->attempts >= MAX_ATTEMPTS) {
        s->state = S_DEAD;
        INC(x->st->dead);
        return;
    }
    enqueue(x, j, now + delay);
}

/* The server ended an open stream (or the connection broke). */
static void stream_lost(struct recv_ctx *x, long j, int64_t now, const char *why)
{
    struct stream *s = &x->s[j];
    drop_fd(x, s);
    DEC(x->st->up_now);
    INC(x->st->server_closed);
    set_first_error(x, "stream %ld: %s", global_of(x, j), why);
    if (o.mode == M_IDLE) {
        s->state = S_DEAD; /* idle counts what stays open: no reconnect */
        return;
    }
    s->flags |= F_GAP | F_BYSRV;
    s->drop_ns = now;
    enqueue(x, j, now + RESUME_DELAY_NS);
}

static void start_connect(struct recv_ctx *x, long j, int64_t now)
{
    struct stream *s = &x->s[j];
    long gs = global_of(x, j);
    const struct target *t = &g_targets[target_of_stream(gs)];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    INC(x->st->connects);
    INC(x->st->inflight);
    s->t_start = now;
    s->state = S_CONNECTING;
    if (fd < 0) {
        INC(x->st->connect_errors);
        set_first_error(x, "socket: %s", strerror(errno));
        attempt_failed(x, j, now, OPEN_RETRY_NS);
        return;
    }
    s->fd = fd;
    if (o.nsources > 1) {
        int one = 1;
        struct sockaddr_in src;
        memset(&src, 0, sizeof src);
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)((gs / g_ntargets) % o.nsources));
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
            INC(x->st->connect_errors);
            set_first_error(x, "bind: %s", strerror(errno));
            attempt_failed(x, j, now, OPEN_RETRY_NS);
            return;
        }
    }
    if (connect(fd, (const struct sockaddr *)&t->addr, sizeof t->addr) != 0 &&
        errno != EINPROGRESS) {
        INC(x->st->connect_errors);
        set_first_error(x, "connect %s: %s", t->hostport, strerror(errno));
        attempt_failed(x, j, now, OPEN_RETRY_NS);
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)j};
    if (epoll_ctl(x->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
}

static void push_deliv(struct recv_ctx *x, long j, int64_t now)
{
    struct stream *s = &x->s[j];
    long k = LD(x->st->ndeliv);
    if ((size_t)k >= g_dcap) {
        INC(x->st->deliv_overflow);
        return;
    }
    x->deliv[k].msg = (uint32_t)s->cur_msg;
    x->deliv[k].stream = (uint32_t)global_of(x, j);
    x->deliv[k].recv_ns = now;
    x->deliv[k].send_ns = s->cur_send_ns;
    atomic_store_explicit(&x->st->ndeliv, k + 1, memory_order_release);
}

static int has_prefix(const char *l, size_t len, const char *p)
{
    size_t n = strlen(p);
    return len >= n && memcmp(l, p, n) == 0;
}

static const char *field_value(const char *l, size_t len, size_t name_len, size_t *vlen)
{
    const char *v = l + name_len;
    size_t n = len - name_len;
    if (n && *v == ' ') {
        v++;
        n--;
    }
    *vlen = n;
    return v;
}

static void count_type(struct recv_ctx *x, const char *v, size_t vl)
{
    struct wstat *st = x->st;
    int n = atomic_load(&st->ntypes);
    if (vl >= sizeof st->type_name[0])
        vl = sizeof st->type_name[0] - 1;
    for (int i = 0; i < n; i++)
        if (strlen(st->type_name[i]) == vl && memcmp(st->type_name[i], v, vl) == 0) {
            INC(st->type_count[i]);
            return;
        }
    if (n == MAX_TYPES)
        return;
    memcpy(st->type_name[n], v, vl);
    st->type_name[n][vl] = '\0';
    atomic_store(&st->type_count[n], 1);
    atomic_store(&st->ntypes, n + 1);
}

static void process_line(struct recv_ctx *x, long j, const char *l, size_t len, int64_t now)
{
    struct stream *s = &x->s[j];
    const char *v;
    size_t vl;
    if (len && l[len - 1] == '\r')
        len--;
    if (len == 0) { /* dispatch */
        if (s->cur_id >= 0) {
            INC(x->st->events);
            if (s->cur_id <= s->last_id)
                INC(x->st->out_of_order);
            else
                s->last_id = s->cur_id;
        }
        if (s->ev == EV_MSG) {
            if (s->cur_msg >= 0) {
                INC(x->st->msg_events);
                push_deliv(x, j, now);
            } else {
                INC(x->st->foreign_msgs);
            }
        } else if (s->ev == EV_ERR) {
            INC(x->st->error_events);
        } else if (s->ev == EV_OTHER || s->ev == EV_READY) {
            INC(x->st->other_events);
        }
        s->ev = EV_NONE;
        s->cur_id = -1;
        s->cur_msg = -1;
        return;
    }
    if (l[0] == ':') {
        INC(x->st->heartbeats);
        if (!(s->flags & F_HB)) {
            s->flags |= F_HB;
            INC(x->st->hb_streams);
        }
    } else if (has_prefix(l, len, "id:")) {
        v = field_value(l, len, 3, &vl);
        long long id = 0;
        for (size_t i = 0; i < vl && isdigit((unsigned char)v[i]); i++)
            id = id * 10 + (v[i] - '0');
        s->cur_id = id;
    } else if (has_prefix(l, len, "event:")) {
        v = field_value(l, len, 6, &vl);
        count_type(x, v, vl);
        if (vl == 15 && memcmp(v, "message.created", 15) == 0)
            s->ev = EV_MSG;
        else if (vl == 5 && memcmp(v, "error", 5) == 0)
            s->ev = EV_ERR;
        else if (vl == 12 && memcmp(v, "stream.ready", 12) == 0)
            s->ev = EV_READY;
        else
            s->ev = EV_OTHER;
    } else if (has_prefix(l, len, "data:")) {
        if (s->ev == EV_MSG) {
            const char *m = memmem(l, len, g_mark, g_mark_len);
            if (m) {
                char *end;
                long long idx = strtoll(m + g_mark_len, &end, 10);
                if (*end == ':') {
                    s->cur_msg = idx;
                    s->cur_send_ns = strtoll(end + 1, NULL, 10);
                }
            }
        } else if (s->ev == EV_READY) {
            /* {"pos":N}: where the stream is after its catch-up; a stream that has seen no
             * event yet resumes from here */
            const char *p = memmem(l, len, "\"pos\":", 6);
            if (p) {
                long long pos = strtoll(p + 6, NULL, 10);
                if (pos > s->last_id)
                    s->last_id = pos;
            }
        } else if (s->ev == EV_ERR) {
            if (memmem(l, len, "slow_reader", 11))
                INC(x->st->err_slow);
            else if (memmem(l, len, "session_ended", 13))
                INC(x->st->err_session);
            else if (memmem(l, len, "unavailable", 11))
                INC(x->st->err_unavail);
            set_first_error(x, "stream %ld: %.*s", global_of(x, j), (int)(len > 120 ? 120 : len), l);
        }
    } else if (has_prefix(l, len, "retry:")) {
        if (s->flags & F_RETRY)
            INC(x->st->retry_extra);
        s->flags |= F_RETRY;
    }
}

static int line_append(struct stream *s, const char *p, size_t n)
{
    if ((size_t)s->line_len + n > MAX_LINE)
        return -1;
    if (s->line_len + n > s->line_cap) {
        size_t cap = s->line_cap ? s->line_cap : 512;
        while (cap < s->line_len + n)
            cap *= 2;
        s->line = xrealloc(s->line, cap);
        s->line_cap = (uint32_t)cap;
    }
    memcpy(s->line + s->line_len, p, n);
    s->line_len += (uint32_t)n;
    return 0;
}

/* Event-stream text. -1: a line too long. */
static int sse_feed(struct recv_ctx *x, long j, const char *p, size_t n, int64_t now)
{
    struct stream *s = &x->s[j];
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        if (!nl)
            return line_append(s, p, n);
        size_t seg = (size_t)(nl - p);
        if (s->line_len) {
            if (line_append(s, p, seg) != 0)
                return -1;
            process_line(x, j, s->line, s->line_len, now);
            free(s->line);
            s->line = NULL;
            s->line_len = s->line_cap = 0;
        } else {
            process_line(x, j, p, seg, now);
        }
        p = nl + 1;
        n -= seg + 1;
    }
    return 0;
}

/* Body bytes: de-chunked into sse_feed. 1: the last chunk came, -1: malformed. */
static int body_feed(struct recv_ctx *x, long j, const char *p, size_t n, int64_t now)
{
    struct stream *s = &x->s[j];
    if (!(s->flags & F_CHUNKED))
        return sse_feed(x, j, p, n, now);
    while (n > 0) {
        char c = *p;
        switch (s->ch) {
        case CH_SIZE: {
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d >= 0) {
                if (s->ch_left > (1u << 26))
                    return -1;
                s->ch_left = s->ch_left * 16 + (uint32_t)d;
            } else if (c == '\n') {
                s->ch = s->ch_left ? CH_DATA : CH_END;
                if (s->ch == CH_END)
                    return 1;
            } else {
                s->ch = CH_EXT; /* ';ext', '\r' */
            }
            p++;
            n--;
            break;
        }
        case CH_EXT:
            if (c == '\n') {
                s->ch = s->ch_left ? CH_DATA : CH_END;
                if (s->ch == CH_END)
                    return 1;
            }
            p++;
            n--;
            break;
        case CH_DATA: {
            size_t k = n < s->ch_left ? n : s->ch_left;
            if (sse_feed(x, j, p, k, now) != 0)
                return -1;
            p += k;
            n -= k;
            s->ch_left -= (uint32_t)k;
            if (!s->ch_left)
                s->ch = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            if (c != '\r')
                return -1;
            s->ch = CH_DATA_LF;
            p++;
            n--;
            break;
        case CH_DATA_LF:
            if (c != '\n')
                return -1;
            s->ch = CH_SIZE;
            s->ch_left = 0;
            p++;
            n--;
            break;
        default:
            return 1;
        }
    }
    return 0;
}

static void build_request(struct recv_ctx *x, long j)
{
    struct stream *s = &x->s[j];
    long gs = global_of(x, j);
    const struct target *t = &g_targets[target_of_stream(gs)];
    char last[48] = "";
    /* After a gap, resume from the last id seen (or the pos of "stream.ready"); a stream
     * that saw neither resumes from 0 (its user's whole, short, history: only this run's
     * setup events and messages since). */
    if (s->flags & F_GAP)
        snprintf(last, sizeof last, "Last-Event-ID: %lld\r\n", s->last_id > 0 ? s->last_id : 0);
    struct buf b = {0};
    buf_printf(&b,
               "GET /v1/stream HTTP/1.1\r\nHost: %s\r\nUser-Agent: missive-sse-load\r\n"
               "Accept: text/event-stream\r\nAuthorization: Bearer %s\r\n%s\r\n",
               t->hostport, g_users[user_of_stream(gs)].token, last);
    s->out = b.p;
    s->out_len = (uint32_t)b.len;
    s->out_off = 0;
}

/* Parses the answer header in s->line. 200 + event-stream: 0; else status or -1. */
static int parse_head(struct stream *s, size_t hdr_end)
{
    const char *h = s->line;
    if (hdr_end < 12 || strncmp(h, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)h[9]))
        return -1;
    int status = atoi(h + 9);
    if (status != 200)
        return status;
    s->flags &= (uint8_t)~F_CHUNKED;
    for (const char *l = memchr(h, '\n', hdr_end); l && l < h + hdr_end; l = memchr(l + 1, '\n', (size_t)(h + hdr_end - l - 1))) {
        const char *q = l + 1;
        if (strncasecmp(q, "Transfer-Encoding:", 18) == 0) {
            const char *e = memchr(q, '\n', (size_t)(h + hdr_end - q));
            if (e && memmem(q, (size_t)(e - q), "chunked", 7))
                s->flags |= F_CHUNKED;
        }
    }
    return 0;
}

static void push_rec(struct recv_ctx *x, long j, int64_t now)
{
    struct stream *s = &x->s[j];
    long k = LD(x->st->nrec);
    if ((size_t)k >= g_rcap) {
        INC(x->st->rec_overflow);
        return;
    }
    x->rec[k].stream = (uint32_t)global_of(x, j);
    x->rec[k].by_server = (s->flags & F_BYSRV) ? 1 : 0;
    x->rec[k].drop_ns = s->drop_ns;
    x->rec[k].connect_ns = s->t_start;
    x->rec[k].up_ns = now;
    atomic_store_explicit(&x->st->nrec, k + 1, memory_order_release);
}

static void on_io(struct recv_ctx *x, long j, uint32_t evs)
{
    struct stream *s = &x->s[j];
    int64_t now = now_ns();
    if (s->fd < 0)
        return;
    if (s->state == S_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
            err = errno;
        if (err) {
            INC(x->st->connect_errors);
            set_first_error(x, "connect: %s", strerror(err));
            attempt_failed(x, j, now, OPEN_RETRY_NS);
            return;
        }
        if (!(evs & EPOLLOUT))
            return;
        int one = 1;
        setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        build_request(x, j);
        s->state = S_HEADERS;
        evs = EPOLLOUT;
    }
    if (s->state == S_HEADERS && s->out && (evs & EPOLLOUT)) {
        ssize_t w = send(s->fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            INC(x->st->connect_errors);
            set_first_error(x, "send: %s", strerror(errno));
            attempt_failed(x, j, now, OPEN_RETRY_NS);
            return;
        }
        if (w > 0)
            s->out_off += (uint32_t)w;
        if (s->out_off == s->out_len) {
            free(s->out);
            s->out = NULL;
            struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)j};
            epoll_ctl(x->ep, EPOLL_CTL_MOD, s->fd, &ev);
        }
        return;
    }
    if (s->state == S_HEADERS) {
        char tmp[4096];
        ssize_t r = recv(s->fd, tmp, sizeof tmp, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0) {
            INC(x->st->connect_errors);
            set_first_error(x, "answer header: %s", r == 0 ? "connection closed" : strerror(errno));
            attempt_failed(x, j, now, OPEN_RETRY_NS);
            return;
        }
        if (line_append(s, tmp, (size_t)r) != 0 || s->line_len > MAX_HEADER_BYTES) {
            INC(x->st->protocol_errors);
            attempt_failed(x, j, now, OPEN_RETRY_NS);
            return;
        }
        char *e = memmem(s->line, s->line_len, "\r\n\r\n", 4);
        if (!e)
            return;
        size_t hdr_end = (size_t)(e - s->line) + 4;
        int st = parse_head(s, hdr_end);
        if (st != 0) {
            if (st == 401)
                INC(x->st->http_401);
            else if (st == 503)
                INC(x->st->http_503);
            else if (st < 0)
                INC(x->st->protocol_errors);
            else
                INC(x->st->http_other);
            set_first_error(x, "stream %ld: HTTP %d: %.*s", global_of(x, j), st,
                            (int)(s->line_len - hdr_end > 200 ? 200 : s->line_len - hdr_end),
                            s->line + hdr_end);
            attempt_failed(x, j, now, st == 503 ? 1 * NS : OPEN_RETRY_NS);
            return;
        }
        /* open */
        DEC(x->st->inflight);
        INC(x->st->up_now);
        long gs = global_of(x, j);
        if (!(s->flags & F_EVERUP)) {
            s->flags |= F_EVERUP;
            INC(x->st->ever_up);
            atomic_store(&g_up[gs], 1);
        }
        if (s->flags & F_GAP) {
            push_rec(x, j, now);
            INC(x->st->reconnects_done);
        }
        s->flags &= (uint8_t)~(F_GAP | F_BYSRV | F_RETRY);
        s->attempts = 0;
        s->state = S_BODY;
        s->ch = CH_SIZE;
        s->ch_left = 0;
        s->ev = EV_NONE;
        s->cur_id = s->cur_msg = -1;
        size_t rest = s->line_len - hdr_end;
        char *line = s->line;
        s->line = NULL;
        s->line_len = s->line_cap = 0;
        int rc = rest ? body_feed(x, j, line + hdr_end, rest, now) : 0;
        free(line);
        if (rc != 0) {
            if (rc < 0)
                INC(x->st->protocol_errors);
            stream_lost(x, j, now, rc < 0 ? "malformed event stream" : "last chunk");
        }
        return;
    }
    if (s->state == S_BODY) {
        ssize_t r = recv(s->fd, x->rbuf, sizeof x->rbuf, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0) {
            stream_lost(x, j, now, r == 0 ? "closed by the server" : strerror(errno));
            return;
        }
        int rc = body_feed(x, j, x->rbuf, (size_t)r, now_ns());
        if (rc != 0) {
            if (rc < 0)
                INC(x->st->protocol_errors);
            stream_lost(x, j, now, rc < 0 ? "malformed event stream" : "last chunk");
        }
    }
}

/* Closes open stream j on purpose; it reconnects with Last-Event-ID after the gap. */
static void drop_stream(struct recv_ctx *x, long j, int64_t now)
{
    struct stream *s = &x->s[j];
    drop_fd(x, s);
    DEC(x->st->up_now);
    INC(x->st->drops);
    s->flags |= F_GAP;
    s->flags &= (uint8_t)~F_BYSRV;
    s->drop_ns = now;
    enqueue(x, j, now + (int64_t)(o.gap_ms * 1e6));
}

/* Reconnect mode: closes the next open stream (round robin); it reconnects after the gap. */
static void drop_one(struct recv_ctx *x, struct rng *rng, int64_t now)
{
    /* a random start, then the next open one: drops are not in step with the sender */
    long start = (long)(rng_next(rng) % (uint64_t)x->n);
    for (long tries = 0; tries < x->n; tries++) {
        long j = (start + tries) % x->n;
        if (x->s[j].state != S_BODY)
            continue;
        drop_stream(x, j, now);
        return;
    }
    INC(x->st->drop_skipped);
}

static void receiver_main(int w)
{
    struct recv_ctx *x = xcalloc(1, sizeof *x);
    g_is_child = 1;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(1);
    x->w = w;
    x->st = &g_ws[w];
    x->deliv = g_deliv + (size_t)w * g_dcap;
    x->rec = g_rec + (size_t)w * g_rcap;
    x->n = (o.streams - w + o.procs - 1) / o.procs;
    x->s = xcalloc((size_t)x->n, sizeof *x->s);
    x->queue = xcalloc((size_t)x->n, sizeof *x->queue);
    x->due = xcalloc((size_t)x->n, sizeof *x->due);
    for (long j = 0; j < x->n; j++) {
        x->s[j].fd = -1;
        x->s[j].last_id = x->s[j].cur_id = x->s[j].cur_msg = -1;
    }
    x->ep = epoll_create1(EPOLL_CLOEXEC);
    if (x->ep < 0)
        die("epoll_create1: %s", strerror(errno));

    double my_open_rate = o.open_rate > 0 ? o.open_rate / o.procs : 0;
    double my_drop_rate = o.reconnect_rate / o.procs;
    int64_t open_next = now_ns(), drop_next = 0, last_scan = now_ns();
    int64_t handshake_ns = (int64_t)(o.handshake_timeout * 1e9);
    struct rng rng;
    rng_seed(&rng);
    struct epoll_event evs[512];
    /* storm: this receiver's streams in a random order; perm[k] drops at t0 + k * W / n */
    long *perm = NULL, storm_next = 0;
    int storming = 0;
    if (o.mode == M_STORM) {
        perm = xcalloc((size_t)x->n, sizeof *perm);
        for (long j = 0; j < x->n; j++)
            perm[j] = j;
        for (long j = x->n - 1; j > 0; j--) {
            long k = (long)(rng_next(&rng) % (uint64_t)(j + 1)), t = perm[j];
            perm[j] = perm[k];
            perm[k] = t;
        }
    }

    for (;;) {
        int phase = atomic_load(&g_ctl->phase);
        if (phase == PH_STOP)
            break;
        int k = epoll_wait(x->ep, evs, 512, 5);
        for (int i = 0; i < k; i++)
            on_io(x, (long)evs[i].data.u64, evs[i].events);
        int64_t now = now_ns();

        /* (re)connects: due retries and resumptions first, then first opens; in a storm
         * every due reconnect starts at once, as independent clients would */
        while (storming || LD(x->st->inflight) < o.open_window) {
            if (my_open_rate > 0 && now < open_next)
                break;
            long j;
            if (x->qlen && x->due[x->qhead] <= now) {
                j = x->queue[x->qhead];
                x->qhead = (x->qhead + 1) % x->n;
                x->qlen--;
            } else if (x->open_cursor < x->n) {
                j = x->open_cursor++;
            } else {
                break;
            }
            start_connect(x, j, now);
            if (my_open_rate > 0) {
                open_next += (int64_t)(1e9 / my_open_rate);
                if (open_next < now - NS / 10)
                    open_next = now - NS / 10;
            }
        }

        /* storm: every stream dropped once, spread evenly over the window */
        if (phase == PH_RUN && o.mode == M_STORM && storm_next < x->n) {
            int64_t t0 = g_ctl->run_start_ns + (int64_t)(o.storm_after * 1e9);
            while (storm_next < x->n &&
                   now >= t0 + (int64_t)((double)storm_next * o.storm_window * 1e9 / (double)x->n)) {
                long j = perm[storm_next++];
                if (!storming) {
                    storming = 1;
                    x->st->first_drop_ns = now;
                }
                x->st->last_drop_ns = now;
                if (x->s[j].state == S_BODY)
                    drop_stream(x, j, now);
                else
                    INC(x->st->drop_skipped); /* not open right now (the server closed it) */
            }
        }

        /* reconnect mode: drops at the target rate */
        if (phase == PH_RUN && o.mode == M_RECONNECT && my_drop_rate > 0) {
            if (!drop_next)
                drop_next = g_ctl->run_start_ns;
            while (now >= drop_next) {
                if (x->n)
                    drop_one(x, &rng, now);
                drop_next += (int64_t)(1e9 / my_drop_rate);
            }
        }

        /* once a second: handshake timeouts, own RSS */
        if (now - last_scan >= NS) {
            last_scan = now;
            for (long j = 0; j < x->n; j++) {
                struct stream *s = &x->s[j];
                if ((s->state == S_CONNECTING || s->state == S_HEADERS) &&
                    now - s->t_start > handshake_ns) {
                    INC(x->st->timeouts);
                    set_first_error(x, "stream %ld: no answer in %.0fs", global_of(x, j),
                                    o.handshake_timeout);
                    attempt_failed(x, j, now, OPEN_RETRY_NS);
                }
            }
            atomic_store(&x->st->rss_kib, read_rss_kib(getpid()));
        }
    }
    atomic_store(&x->st->rss_kib, read_rss_kib(getpid()));
    free(perm);
    for (long j = 0; j < x->n; j++)
        if (x->s[j].fd >= 0)
            close(x->s[j].fd);
    atomic_store(&x->st->done, 1);
    _exit(0);
}

/* ------------------------------------------------------------------ messages (parent) */

struct msg {
    int32_t conv, sender;
    int32_t status;
    int64_t due_ns, send_ns, done_ns;
};

static struct msg *g_msgs;
static long g_lingering_max; /* most streams the servers counted beyond the tool's open ones */
static long g_nmsgs;
static atomic_long g_next_msg;
static int64_t g_send_t0;
static atomic_int g_stop_sending;
static atomic_int g_err_samples;

static void sample_send_error(long i, int status, const char *detail)
{
    if (atomic_fetch_add(&g_err_samples, 1) >= 5)
        return;
    note("send %ld: %s%d %.300s", i, status ? "HTTP " : "", status, detail);
}

static void *sender_main(void *arg)
{
    struct conn c = {.fd = -1};
    struct buf body = {0}, scratch = {0};
    struct response r;
    struct rng rng;
    char path[96], uuid[37];
    (void)arg;
    rng_seed(&rng);
    for (;;) {
        long i = atomic_fetch_add(&g_next_msg, 1);
        if (i >= g_nmsgs || atomic_load(&g_stop_sending))
            break;
        struct msg *m = &g_msgs[i];
        m->due_ns = g_send_t0 + (int64_t)((double)i * 1e9 / o.rate);
        sleep_until(m->due_ns);
        if (o.conv == CONV_GROUP) {
            m->conv = 0;
            m->sender = (int32_t)(i % g_nusers);
        } else if (o.conv == CONV_GROUPS) {
            /* round robin over the groups (reconnect: a random one, not in step with the
             * drops); a random member sends, so that the sending (and the copies to the
             * sender's own streams) is spread over every member, not one per group */
            long g = o.mode == M_RECONNECT ? (long)(rng_next(&rng) % (uint64_t)g_nconvs)
                                           : i % g_nconvs;
            m->conv = (int32_t)g;
            m->sender = (int32_t)(g * o.group_size +
                                  (long)(rng_next(&rng) % (uint64_t)o.group_size));
        } else {
            /* latency: round robin over the pairs and sides; reconnect: a random pair and
             * side, so that sends are not in step with the drops; storm: round robin over
             * the pairs (every stream gets messages), a random side */
            long p = o.mode == M_RECONNECT ? (long)(rng_next(&rng) % (uint64_t)g_nconvs)
                                           : i % g_nconvs;
            long side = o.mode == M_LATENCY ? (i / g_nconvs) % 2 : (long)(rng_next(&rng) & 1);
            m->conv = (int32_t)p;
            m->sender = (int32_t)(2 * p + (o.no_accept ? 0 : side));
        }
        snprintf(path, sizeof path, "/v1/conversations/%lld/messages", g_convs[m->conv]);
        uuid_v4(&rng, uuid);
        m->send_ns = now_ns();
        body.len = 0;
        buf_printf(&body, "{\"client_msg_id\":\"%s\",\"body\":\"%s%ld:%" PRId64 "\"}", uuid, g_mark,
                   i, m->send_ns);
        int rc = http_do(&c, "POST", path, g_users[m->sender].token, body.p, &r, &scratch);
        m->done_ns = now_ns();
        m->status = rc == 0 ? r.status : -1;
        if (m->status == 201 && g_conv_seq) {
            long long seq = json_id(r.body, "seq");
            atomic_llong *cs = &g_conv_seq[m->conv];
            long long cur = atomic_load(cs);
            while (seq > cur && !atomic_compare_exchange_weak(cs, &cur, seq)) {
            }
        }
        if (m->status != 201) {
            sample_send_error(i, rc == 0 ? r.status : 0, rc == 0 ? r.body : r.err);
            if (rc != 0 || r.status >= 500)
                sleep_ms(10);
        }
    }
    conn_free(&c);
    free(body.p);
    free(scratch.p);
    return NULL;
}

/* ------------------------------------------------------------------ chores (soak) */

/* Besides sends and streams, the other things clients do all day: read and
 * delivered marks, long-polls through nginx, media (presign, upload, send, download).
 * They run from the start of sending until the senders are done. */
static atomic_int g_chores_stop;
static struct {
    atomic_long reads, read_errors, polls, poll_errors, poll_events, media, media_errors;
    atomic_int samples;
} g_ch;

static void chore_error(const char *what, int rc, const struct response *r)
{
    if (atomic_fetch_add(&g_ch.samples, 1) >= 5)
        return;
    if (rc != 0)
        note("%s: %s", what, r->err);
    else
        note("%s: HTTP %d %.200s", what, r->status, r->body);
}

/* Open loop at rate: waits until the next op is due; 0 when it is time to stop. */
static int chore_next(int64_t *due, double rate)
{
    *due += (int64_t)(1e9 / rate);
    int64_t now = now_ns();
    if (*due < now - NS)
        *due = now - NS; /* behind: do not make up for more than a second */
    while (now_ns() < *due) {
        if (atomic_load(&g_chores_stop))
            return 0;
        sleep_ms(20);
    }
    return !atomic_load(&g_chores_stop);
}

static void *reader_main(void *arg)
{
    struct conn c = {.fd = -1};
    struct buf body = {0}, scratch = {0};
    struct response r;
    struct rng rng;
    char path[128];
    int64_t due = now_ns();
    (void)arg;
    rng_seed(&rng);
    for (long i = 0; chore_next(&due, o.read_rate); i++) {
        long p = (long)(rng_next(&rng) % (uint64_t)g_nconvs);
        long u = 2 * p + (long)(rng_next(&rng) & 1);
        long long seq = atomic_load(&g_conv_seq[p]);
        if (seq <= 0)
            continue;
        snprintf(path, sizeof path, "/v1/conversations/%lld/%s", g_convs[p], i % 2 ? "read" : "delivered");
        body.len = 0;
        buf_printf(&body, "{\"seq\":%lld}", seq);
        int rc = http_do(&c, "POST", path, g_users[u].token, body.p, &r, &scratch);
        INC(g_ch.reads);
        if (rc != 0 || r.status != 204) {
            INC(g_ch.read_errors);
            chore_error("read mark", rc, &r);
        }
    }
    conn_free(&c);
    free(body.p);
    free(scratch.p);
    return NULL;
}

static void *poller_main(void *arg)
{
    long k = (long)(intptr_t)arg;
    struct conn c = {.fd = -1};
    struct buf scratch = {0};
    struct response r;
    char path[160];
    long long cursor = 0;
    long u = k % g_nusers;
    while (!atomic_load(&g_chores_stop)) {
        snprintf(path, sizeof path, "/v1/events?cursor=%lld&timeout=%.0f&limit=1000", cursor,
                 o.poll_timeout);
        int rc = http_do(&c, "GET", path, g_users[u].token, NULL, &r, &scratch);
        INC(g_ch.polls);
        if (rc != 0 || r.status != 200) {
            INC(g_ch.poll_errors);
            chore_error("long-poll", rc, &r);
            sleep_ms(500);
            continue;
        }
        long long next = json_id(r.body, "cursor");
        for (const char *q = r.body; (q = strstr(q, "\"pos\":")); q += 6)
            INC(g_ch.poll_events);
        if (next > cursor)
            cursor = next;
    }
    conn_free(&c);
    free(scratch.p);
    return NULL;
}

/* A 1x1 PNG. */
static const unsigned char k_png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
    0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78,
    0xda, 0x63, 0xfc, 0xff, 0x9f, 0xa1, 0x1e, 0x00, 0x07, 0x82, 0x02, 0x7f, 0x3d, 0xc8,
    0x48, 0xef, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

/* The path of an absolute http://host:port/... URL on this machine, or NULL. */
static const char *url_path(const char *url)
{
    const char *p = strstr(url, "://");
    return p ? strchr(p + 3, '/') : NULL;
}

/* One upload: presign, PUT the bytes, send a message holding it, download it. 0 or -1. */
static int media_once(struct conn *c, struct rng *rng, struct buf *body, struct buf *scratch)
{
    struct response r;
    char path[128], uuid[37], url[1024];
    long p = (long)(rng_next(rng) % (uint64_t)g_nconvs);
    long u = 2 * p + (long)(rng_next(rng) & 1);
    const char *tok = g_users[u].token;
    int rc = http_do(c, "POST", "/v1/media", tok,
                     "{\"content_type\":\"image/png\",\"size\":70,\"filename\":\"soak.png\"}", &r,
                     scratch);
    if (rc != 0 || r.status != 201) {
        chore_error("media presign", rc, &r);
        return -1;
    }
    long long id = json_id(r.body, "media_id");
    const char *up = json_member(r.body, "upload"), *upath;
    if (id <= 0 || !up || json_plain_string(up, "url", url, sizeof url) != 0 ||
        !(upath = url_path(url))) {
        snprintf(r.err, sizeof r.err, "unexpected presign answer: %.100s", r.body);
        chore_error("media presign", -1, &r);
        return -1;
    }
    rc = http_req(c, "PUT", upath, NULL, "image/png", k_png, sizeof k_png, &r, scratch);
    if (rc != 0 || (r.status != 201 && r.status != 204 && r.status != 200)) {
        chore_error("media upload", rc, &r);
        return -1;
    }
    uuid_v4(rng, uuid);
    snprintf(path, sizeof path, "/v1/conversations/%lld/messages", g_convs[p]);
    body->len = 0;
    buf_printf(body, "{\"client_msg_id\":\"%s\",\"body\":\"soak media\",\"media_ids\":[%lld]}",
               uuid, id);
    rc = http_do(c, "POST", path, tok, body->p, &r, scratch);
    if (rc != 0 || r.status != 201) {
        chore_error("media send", rc, &r);
        return -1;
    }
    snprintf(path, sizeof path, "/v1/media/%lld", id);
    rc = http_do(c, "GET", path, tok, NULL, &r, scratch);
    const char *dpath = rc == 0 && r.status == 302 ? url_path(r.location) : NULL;
    if (!dpath) {
        chore_error("media download link", rc, &r);
        return -1;
    }
    snprintf(url, sizeof url, "%s", dpath);
    rc = http_do(c, "GET", url, NULL, NULL, &r, scratch);
    if (rc != 0 || r.status != 200 || r.body_len != sizeof k_png) {
        chore_error("media download", rc, &r);
        return -1;
    }
    return 0;
}

static void *media_main(void *arg)
{
    struct conn c = {.fd = -1};
    struct buf body = {0}, scratch = {0};
    struct rng rng;
    int64_t due = now_ns();
    (void)arg;
    rng_seed(&rng);
    while (chore_next(&due, o.media_rate)) {
        INC(g_ch.media);
        if (media_once(&c, &rng, &body, &scratch) != 0)
            INC(g_ch.media_errors);
    }
    conn_free(&c);
    free(body.p);
    free(scratch.p);
    return NULL;
}

/* ------------------------------------------------------------------ parent: phases */

static void on_signal(int sig)
{
    kill_children();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "sse_load: --max-time reached: aborting\n";
    kill_children();
    if (write(2, m, sizeof m - 1) < 0) {
    }
    _exit(3);
}

static void check_children(void)
{
    for (int i = 0; i < g_nchildren; i++) {
        int st;
        pid_t p = waitpid(g_children[i], &st, WNOHANG);
        if (p == g_children[i]) {
            g_children[i] = -1;
            die("receiver %d ended early (%s %d)", i, WIFSIGNALED(st) ? "signal" : "status",
                WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        }
    }
}

static void print_first_errors(void)
{
    for (int w = 0; w < o.procs; w++)
        if (g_ws[w].first_error[0])
            note("receiver %d, first problem: %s", w, g_ws[w].first_error);
}

/* Waits until every stream is open or given up on; returns the seconds it took. */
static double wait_open(int64_t t0)
{
    int64_t deadline = t0 + (int64_t)(o.open_timeout * 1e9), last_note = t0;
    for (;;) {
        check_children();
        long up = SUM(up_now), dead = SUM(dead);
        int64_t now = now_ns();
        if (up + dead >= o.streams)
            return (double)(now - t0) / 1e9;
        if (now > deadline) {
            note("open: deadline (%.0fs) reached with %ld of %ld streams open", o.open_timeout, up,
                 o.streams);
            return (double)(now - t0) / 1e9;
        }
        if (now - last_note > 5 * NS) {
            last_note = now;
            note("open: %ld/%ld streams open (%ld given up, %ld handshakes under way)", up,
                 o.streams, dead, SUM(inflight));
        }
        sleep_ms(20);
    }
}

/* "event_types NAME=COUNT ..." over all receivers */
static void print_event_types(void)
{
    char names[MAX_TYPES * MAX_PROCS][40];
    long counts[MAX_TYPES * MAX_PROCS];
    int n = 0;
    for (int w = 0; w < o.procs; w++) {
        int k = atomic_load(&g_ws[w].ntypes);
        for (int i = 0; i < k; i++) {
            int f = -1;
            for (int j = 0; j < n && f < 0; j++)
                if (strcmp(names[j], g_ws[w].type_name[i]) == 0)
                    f = j;
            if (f < 0) {
                f = n++;
                snprintf(names[f], sizeof names[f], "%s", g_ws[w].type_name[i]);
                counts[f] = 0;
            }
            counts[f] += LD(g_ws[w].type_count[i]);
        }
    }
    printf("event_types");
    for (int j = 0; j < n; j++)
        printf(" %s=%ld", names[j], counts[j]);
    printf("\n");
}

static void print_stream_counters(const char *prefix)
{
    printf("%s up_now=%ld ever_up=%ld given_up=%ld connects=%ld connect_errors=%ld timeouts=%ld "
           "http_401=%ld http_503=%ld http_other=%ld protocol_errors=%ld closed_by_server=%ld "
           "error_events=%ld slow_reader=%ld session_ended=%ld unavailable=%ld retry_extra=%ld "
           "heartbeats=%ld heartbeat_streams=%ld events=%ld other_events=%ld\n",
           prefix, SUM(up_now), SUM(ever_up), SUM(dead), SUM(connects), SUM(connect_errors),
           SUM(timeouts), SUM(http_401), SUM(http_503), SUM(http_other), SUM(protocol_errors),
           SUM(server_closed), SUM(error_events), SUM(err_slow), SUM(err_session),
           SUM(err_unavail), SUM(retry_extra), SUM(heartbeats), SUM(hb_streams), SUM(events),
           SUM(other_events));
    print_event_types();
}

static long tool_rss_kib(void)
{
    long v = read_rss_kib(getpid());
    for (int w = 0; w < o.procs; w++)
        v += LD(g_ws[w].rss_kib);
    return v;
}

static void print_server_streams(const char *when)
{
    printf("server when=%s", when);
    long total = 0, fds = 0;
    for (int t = 0; t < g_ntargets; t++) {
        long v = server_streams(&g_targets[t]);
        long f = count_fds(g_targets[t].pid);
        printf(" %s=%ld", g_targets[t].hostport, v);
        if (f >= 0)
            printf("/fds:%ld", f);
        if (v > 0)
            total += v;
        if (f > 0)
            fds += f;
    }
    printf(" streams_gauge=%ld server_fds=%ld tool_open=%ld", total, fds, SUM(up_now));
    if (o.mode != M_IDLE)
        printf(" gauge_excess_max=%ld", g_lingering_max);
    printf("\n");
    fflush(stdout);
}

static void stop_receivers(void)
{
    atomic_store(&g_ctl->phase, PH_STOP);
    for (int i = 0; i < g_nchildren; i++) {
        int st;
        if (g_children[i] > 0 && waitpid(g_children[i], &st, 0) == g_children[i])
            g_children[i] = -1;
    }
}

/* ---- idle */

static long g_sock0, g_tw0, g_mem0, g_slab0;
static struct cpu_window g_open_cw;
static int64_t g_open_t0;

/* Before the receivers exist: the servers' RSS and the kernel's TCP memory. */
static void idle_before(void)
{
    for (int t = 0; t < g_ntargets; t++)
        g_targets[t].rss_before = read_rss_kib(g_targets[t].pid);
    read_sockstat(&g_sock0, &g_tw0, &g_mem0);
    g_slab0 = read_slab_kib();
}

static void run_idle(void)
{
    long sock_inuse1, tw1, mem1;
    struct cpu_window cw = g_open_cw;
    /* the receivers were forked by main() and opened their streams at once */
    double open_s = wait_open(g_open_t0);
    cpu_end(&cw, "open");
    long up = SUM(up_now);
    printf("open streams=%ld open=%ld given_up=%ld open_s=%.2f open_rate=%.0f/s\n", o.streams, up,
           SUM(dead), open_s, open_s > 0 ? (double)up / open_s : 0.0);
    sleep_ms(1000); /* let the servers settle (allocations of the first reads) */
    for (int t = 0; t < g_ntargets; t++)
        g_targets[t].rss_open = read_rss_kib(g_targets[t].pid);
    print_server_streams("open");

    cpu_begin(&cw);
    note("holding %ld streams for %.0f s", up, o.hold);
    int64_t hold_end = now_ns() + (int64_t)(o.hold * 1e9);
    while (now_ns() < hold_end) {
        check_children();
        sleep_ms(100);
    }
    cpu_end(&cw, "hold");
    for (int t = 0; t < g_ntargets; t++)
        g_targets[t].rss_hold = read_rss_kib(g_targets[t].pid);
    read_sockstat(&sock_inuse1, &tw1, &mem1);
    long open_end = SUM(up_now);
    printf("hold s=%.0f open_at_end=%ld closed_by_server=%ld heartbeat_streams=%ld heartbeats=%ld "
           "events=%ld\n",
           o.hold, open_end, SUM(server_closed), SUM(hb_streams), SUM(heartbeats), SUM(events));
    print_server_streams("hold");
    print_stream_counters("streams");

    /* memory: per process, then all targets together */
    long tb = 0, to = 0, th = 0, ts = 0;
    for (int t = 0; t < g_ntargets; t++) {
        struct target *g = &g_targets[t];
        if (g->pid <= 0)
            continue;
        printf("rss target=%s pid=%d streams=%ld before_kib=%ld open_kib=%ld hold_kib=%ld "
               "bytes_per_stream=%.0f\n",
               g->hostport, g->pid, g->streams, g->rss_before, g->rss_open, g->rss_hold,
               g->streams ? (double)(g->rss_hold - g->rss_before) * 1024 / (double)g->streams : 0.0);
        tb += g->rss_before;
        to += g->rss_open;
        th += g->rss_hold;
        ts += g->streams;
    }
    printf("rss_total streams=%ld before_kib=%ld open_kib=%ld hold_kib=%ld bytes_per_stream=%.0f "
           "open_bytes_per_stream=%.0f\n",
           ts, tb, to, th, ts ? (double)(th - tb) * 1024 / (double)ts : 0.0,
           ts ? (double)(to - tb) * 1024 / (double)ts : 0.0);
    long page = sysconf(_SC_PAGESIZE);
    long slab1 = read_slab_kib();
    printf("kernel tcp_sockets_before=%ld tcp_sockets_after=%ld tcp_mem_before_kib=%ld "
           "tcp_mem_after_kib=%ld tcp_mem_bytes_per_stream=%.0f slab_before_kib=%ld "
           "slab_after_kib=%ld slab_bytes_per_stream=%.0f (both ends of each stream, whole machine)\n",
           g_sock0, sock_inuse1, g_mem0 * page / 1024, mem1 * page / 1024,
           up ? (double)(mem1 - g_mem0) * (double)page / (double)up : 0.0, g_slab0, slab1,
           up ? (double)(slab1 - g_slab0) * 1024 / (double)up : 0.0);
    printf("tool rss_kib=%ld (this process and its receivers)\n", tool_rss_kib());
    fflush(stdout);
    stop_receivers();
}

/* ---- latency and reconnect: matching deliveries against what was sent */

static int cmp_deliv(const void *a, const void *b)
{
    const struct deliv *x = a, *y = b;
    if (x->msg != y->msg)
        return x->msg < y->msg ? -1 : 1;
    if (x->stream != y->stream)
        return x->stream < y->stream ? -1 : 1;
    return x->recv_ns < y->recv_ns ? -1 : x->recv_ns > y->recv_ns;
}

static int cmp_rec(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->stream != y->stream)
        return x->stream < y->stream ? -1 : 1;
    return x->drop_ns < y->drop_ns ? -1 : x->drop_ns > y->drop_ns;
}

/* Streams of user u: u, u + U, u + 2U, ... below N. */
static long streams_of_user(long u, long *out, long max)
{
    long n = 0;
    for (long s = u; s < o.streams && n < max; s += g_nusers)
        out[n++] = s;
    return n;
}

static int member_of(long conv, long user)
{
    return user >= 0 && user < g_nusers && conv_of_user(user) == conv;
}

struct gaps {
    struct rec *r;
    long n;
    long *first; /* per stream: index of its first gap in r, or -1 */
};

/* Was stream s disconnected at time t (a gap [drop, up) holds t)? */
static int in_gap(const struct gaps *g, long s, int64_t t)
{
    long i = g->first[s];
    if (i < 0)
        return 0;
    for (; i < g->n && g->r[i].stream == (uint32_t)s; i++)
        if (g->r[i].drop_ns <= t && t < g->r[i].up_ns)
            return 1;
    return 0;
}

/* Was stream s down at some moment of (a, b) (a gap overlaps it)? */
static int gap_between(const struct gaps *g, long s, int64_t a, int64_t b)
{
    long i = g->first[s];
    if (i < 0)
        return 0;
    for (; i < g->n && g->r[i].stream == (uint32_t)s; i++)
        if (g->r[i].drop_ns < b && g->r[i].up_ns > a)
            return 1;
    return 0;
}

static int64_t g_last_gap_recv_ns; /* latest arrival of a message sent during its stream's gap */

/* Per conversation, the streams of its members (open_only: those that were open
 * when sending began); one pass over the streams, not one per message. */
static long *streams_per_conv(int open_only)
{
    long *n = xcalloc((size_t)g_nconvs, sizeof *n);
    for (long s = 0; s < o.streams; s++)
        if (!open_only || atomic_load(&g_up[s]))
            n[conv_of_user(user_of_stream(s))]++;
    return n;
}

/* --timeline: for each second of sending (by send time), its deliveries'
 * latency. Shows whether a tail is spread out or one stall. */
static void print_timeline(const uint32_t *lat, const uint32_t *sec, size_t n)
{
    uint32_t last = 0;
    for (size_t i = 0; i < n; i++)
        if (sec[i] > last)
            last = sec[i];
    uint32_t *v = xmalloc(n * sizeof *v);
    for (uint32_t t = 0; t <= last; t++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (sec[i] == t)
                v[k++] = lat[i];
        printf("timeline second=%u deliveries=%zu ", t, k);
        print_pcts("", v, k);
        printf("\n");
    }
    free(v);
}

static void report_deliveries(const struct gaps *gp)
{
    /* gather the receivers' logs */
    size_t nd = 0;
    for (int w = 0; w < o.procs; w++)
        nd += (size_t)LD(g_ws[w].ndeliv);
    struct deliv *d = xmalloc((nd ? nd : 1) * sizeof *d);
    size_t k = 0;
    for (int w = 0; w < o.procs; w++) {
        size_t n = (size_t)LD(g_ws[w].ndeliv);
        memcpy(d + k, g_deliv + (size_t)w * g_dcap, n * sizeof *d);
        k += n;
    }
    qsort(d, nd, sizeof *d, cmp_deliv);

    long max_rcpt = max_recipients();
    long *rcpt = xmalloc((size_t)(max_rcpt + 1) * sizeof *rcpt);
    long expected = 0, delivered = 0, dups = 0, misdelivered = 0, unconfirmed = 0, bad_ts = 0;
    long gap_expected = 0, gap_delivered = 0, crossed = 0;
    uint32_t *lat = xmalloc((nd ? nd : 1) * sizeof *lat);
    uint32_t *lat_sec = xmalloc((nd ? nd : 1) * sizeof *lat_sec); /* --timeline */
    size_t nlat = 0;
    int64_t t0 = INT64_MAX;
    for (long m = 0; m < g_nmsgs; m++)
        if (g_msgs[m].send_ns > 0 && g_msgs[m].send_ns < t0)
            t0 = g_msgs[m].send_ns;
    uint32_t *all = xmalloc((size_t)(g_nmsgs ? g_nmsgs : 1) * sizeof *all);
    size_t nall = 0;
    long incomplete = 0, ok_msgs = 0;
    size_t di = 0;
    int lost_samples = 0;
    /* per stream: expected, delivered, duplicated */
    long *s_exp = xcalloc((size_t)o.streams, sizeof *s_exp);
    long *s_got = xcalloc((size_t)o.streams, sizeof *s_got);
    long *s_dup = xcalloc((size_t)o.streams, sizeof *s_dup);

    for (long m = 0; m < g_nmsgs; m++) {
        const struct msg *mm = &g_msgs[m];
        int ok = mm->status == 201;
        long want = 0, got = 0;
        int64_t last_recv = 0;
        unsigned char *seen = NULL;
        long nr = 0;
        if (ok) {
            ok_msgs++;
            if (o.conv == CONV_GROUP) {
                for (long s = 0; s < o.streams; s++)
                    rcpt[nr++] = s;
            } else if (o.conv == CONV_GROUPS) {
                for (long u = mm->conv * o.group_size; u < (mm->conv + 1) * o.group_size; u++)
                    nr += streams_of_user(u, rcpt + nr, max_rcpt - nr);
            } else {
                nr = streams_of_user(2L * mm->conv, rcpt, max_rcpt);
                nr += streams_of_user(2L * mm->conv + 1, rcpt + nr, max_rcpt - nr);
            }
            /* only streams that were open when sending began count */
            long keep = 0;
            for (long i = 0; i < nr; i++)
                if (atomic_load(&g_up[rcpt[i]]))
                    rcpt[keep++] = rcpt[i];
            nr = keep;
            seen = xcalloc((size_t)(nr ? nr : 1), 1);
            want = nr;
            expected += nr;
            for (long i = 0; i < nr; i++)
                s_exp[rcpt[i]]++;
            if (gp)
                for (long i = 0; i < nr; i++)
                    gap_expected += in_gap(gp, rcpt[i], mm->send_ns);
        }
        /* this message's deliveries */
        for (; di < nd && d[di].msg < (uint32_t)m; di++)
            misdelivered++; /* unreachable: sorted; kept for safety */
        uint32_t prev_stream = UINT32_MAX;
        for (; di < nd && d[di].msg == (uint32_t)m; di++) {
            const struct deliv *x = &d[di];
            if (x->stream == prev_stream) {
                dups++;
                if (x->stream < (uint32_t)o.streams)
                    s_dup[x->stream]++;
                continue;
            }
            prev_stream = x->stream;
            if (x->stream >= (uint32_t)o.streams ||
                !member_of(mm->conv, user_of_stream((long)x->stream))) {
                misdelivered++;
                continue;
            }
            if (!ok) {
                unconfirmed++;
                continue;
            }
            if (x->send_ns != mm->send_ns)
                bad_ts++;
            /* its slot among the recipients (for the loss samples) */
            for (long i = 0; i < nr; i++)
                if (rcpt[i] == (long)x->stream) {
                    seen[i] = 1;
                    break;
                }
            got++;
            delivered++;
            s_got[x->stream]++;
            lat_sec[nlat] = (uint32_t)((mm->send_ns - t0) / 1000000000);
            lat[nlat++] = to_us(x->recv_ns - mm->send_ns);
            if (x->recv_ns > last_recv)
                last_recv = x->recv_ns;
            if (gp && in_gap(gp, (long)x->stream, mm->send_ns)) {
                gap_delivered++;
                if (x->recv_ns > g_last_gap_recv_ns)
                    g_last_gap_recv_ns = x->recv_ns;
            }
            if (gp && gap_between(gp, (long)x->stream, mm->send_ns, x->recv_ns))
                crossed++;
        }
        if (ok) {
            if (got >= want && want > 0)
                all[nall++] = to_us(last_recv - mm->send_ns);
            else if (want > 0)
                incomplete++;
            for (long i = 0; i < nr && lost_samples < 5; i++)
                if (!seen[i]) {
                    lost_samples++;
                    note("lost: message %ld (conversation %lld, sent by user %lld) never reached "
                         "stream %ld (user %lld, target %s)%s",
                         m, g_convs[mm->conv], g_users[mm->sender].id, rcpt[i],
                         g_users[user_of_stream(rcpt[i])].id,
                         g_targets[target_of_stream(rcpt[i])].hostport,
                         gp && in_gap(gp, rcpt[i], mm->send_ns) ? " [sent while it was disconnected]"
                                                                : "");
                }
        }
        free(seen);
    }
    for (; di < nd; di++)
        misdelivered++; /* indices beyond what was sent */

    if (o.timeline && nlat > 0) /* before print_pcts sorts lat */
        print_timeline(lat, lat_sec, nlat);
    printf("deliver expected=%ld delivered=%ld lost=%ld dup=%ld misdelivered=%ld unconfirmed=%ld "
           "out_of_order=%ld overflow=%ld bad_ts=%ld ",
           expected, delivered, expected - delivered, dups, misdelivered, unconfirmed,
           SUM(out_of_order), SUM(deliv_overflow), bad_ts);
    print_pcts("", lat, nlat);
    printf("\n");
    if (o.conv == CONV_GROUP) {
        printf("fanout msgs=%ld recipients=%ld complete=%zu incomplete=%ld ", ok_msgs,
               o.streams, nall, incomplete);
        print_pcts("all_", all, nall);
        printf("\n");
    } else if (o.conv == CONV_GROUPS) {
        /* recipients: streams of one group (of the biggest, when streams are not a
         * multiple of the users and some users have one stream more) */
        long *per = streams_per_conv(0), most = 0;
        for (long c = 0; c < g_nconvs; c++)
            if (per[c] > most)
                most = per[c];
        free(per);
        printf("fanout msgs=%ld groups=%ld members=%ld recipients=%ld complete=%zu incomplete=%ld ",
               ok_msgs, g_nconvs, o.group_size, most, nall, incomplete);
        print_pcts("all_", all, nall);
        printf("\n");
    } else {
        printf("fanout msgs=%ld complete=%zu incomplete=%ld ", ok_msgs, nall, incomplete);
        print_pcts("all_", all, nall);
        printf("\n");
    }
    if (gp)
        printf("gap expected=%ld delivered=%ld lost=%ld crossed=%ld\n", gap_expected,
               gap_delivered, gap_expected - gap_delivered, crossed);
    {
        long with_loss = 0, with_dup = 0, emin = -1, emax = 0, gmin = -1, gmax = 0, dmax = 0;
        for (long st = 0; st < o.streams; st++) {
            if (s_got[st] < s_exp[st])
                with_loss++;
            if (s_dup[st])
                with_dup++;
            if (emin < 0 || s_exp[st] < emin)
                emin = s_exp[st];
            if (s_exp[st] > emax)
                emax = s_exp[st];
            if (gmin < 0 || s_got[st] < gmin)
                gmin = s_got[st];
            if (s_got[st] > gmax)
                gmax = s_got[st];
            if (s_exp[st] - s_got[st] > dmax)
                dmax = s_exp[st] - s_got[st];
        }
        printf("per_stream streams=%ld with_loss=%ld with_dup=%ld expected_min=%ld expected_max=%ld "
               "delivered_min=%ld delivered_max=%ld most_lost=%ld\n",
               o.streams, with_loss, with_dup, emin < 0 ? 0 : emin, emax, gmin < 0 ? 0 : gmin, gmax,
               dmax);
    }
    fflush(stdout);
    free(s_exp);
    free(s_got);
    free(s_dup);
    free(d);
    free(rcpt);
    free(lat);
    free(lat_sec);
    free(all);
}


static void report_sends(double window_s)
{
    long ok = 0, err = 0, late = 0;
    uint32_t *post = xmalloc((size_t)(g_nmsgs ? g_nmsgs : 1) * sizeof *post);
    uint32_t *lag = xmalloc((size_t)(g_nmsgs ? g_nmsgs : 1) * sizeof *lag);
    size_t np = 0, nl = 0;
    for (long i = 0; i < g_nmsgs; i++) {
        const struct msg *m = &g_msgs[i];
        if (!m->send_ns)
            continue;
        lag[nl++] = to_us(m->send_ns - m->due_ns);
        if (m->send_ns - m->due_ns > 10 * 1000000)
            late++;
        if (m->status == 201) {
            ok++;
            post[np++] = to_us(m->done_ns - m->send_ns);
        } else {
            err++;
        }
    }
    printf("send planned=%ld msgs=%zu ok=%ld errors=%ld target_rate=%.1f/s rate=%.1f/s late_10ms=%ld ",
           g_nmsgs, nl, ok, err, o.rate, window_s > 0 ? (double)nl / window_s : 0.0, late);
    print_pcts("post_", post, np);
    printf(" lag_max=%.2fms\n", nl ? (qsort(lag, nl, sizeof *lag, cmp_u32), lag[nl - 1] / 1000.0) : 0.0);
    fflush(stdout);
    free(post);
    free(lag);
}

/* Storm: how long until every stream was live again, and caught up. r: resumptions,
 * sorted by stream. */
static void report_storm(const struct rec *r, long nr)
{
    int64_t first = 0, last = 0, last_up = 0;
    for (int w = 0; w < o.procs; w++) {
        if (g_ws[w].first_drop_ns && (!first || g_ws[w].first_drop_ns < first))
            first = g_ws[w].first_drop_ns;
        if (g_ws[w].last_drop_ns > last)
            last = g_ws[w].last_drop_ns;
    }
    uint32_t *rl = xmalloc((size_t)(nr ? nr : 1) * sizeof *rl);
    uint32_t *gl = xmalloc((size_t)(nr ? nr : 1) * sizeof *gl);
    long n = 0, streams = 0, by_server = 0;
    uint32_t prev = UINT32_MAX;
    for (long i = 0; i < nr; i++) {
        if (!first || r[i].drop_ns < first)
            continue; /* before the storm */
        if (r[i].up_ns > last_up)
            last_up = r[i].up_ns;
        if (r[i].by_server) {
            by_server++;
            continue;
        }
        if (r[i].stream != prev)
            streams++;
        prev = r[i].stream;
        rl[n] = to_us(r[i].up_ns - r[i].connect_ns);
        gl[n++] = to_us(r[i].up_ns - r[i].drop_ns);
    }
    long still_down = o.streams - SUM(up_now) - SUM(dead);
    int64_t caught = g_last_gap_recv_ns > last_up ? g_last_gap_recv_ns : last_up;
    printf("storm streams=%ld dropped=%ld skipped=%ld drop_window_s=%.2f resumed_streams=%ld "
           "resumed_by_server=%ld still_down=%ld given_up=%ld timeouts=%ld all_live_s=%.2f "
           "caught_up_s=%.2f ",
           o.streams, SUM(drops), SUM(drop_skipped), first ? (double)(last - first) / 1e9 : 0.0,
           streams, by_server, still_down, SUM(dead), SUM(timeouts),
           first && last_up && !still_down ? (double)(last_up - first) / 1e9 : -1.0,
           first && last_up && !still_down ? (double)(caught - first) / 1e9 : -1.0);
    print_pcts("", rl, (size_t)n);
    printf(" ");
    print_pcts("gap_", gl, (size_t)n);
    printf("\n");
    fflush(stdout);
    free(rl);
    free(gl);
}

static void run_messages(void)
{
    int64_t t0 = now_ns();
    double open_s = wait_open(t0);
    long up = SUM(up_now);
    printf("open streams=%ld open=%ld given_up=%ld open_s=%.2f open_rate=%.0f/s\n", o.streams, up,
           SUM(dead), open_s, open_s > 0 ? (double)up / open_s : 0.0);
    fflush(stdout);
    if (up == 0)
        die("no stream opened");
    /* Opening streams sends presence notices (a user coming online is told to everyone who
     * shares a conversation with them): wait until no event has arrived for 1.5 s. */
    {
        int64_t s0 = now_ns(), end = s0 + (int64_t)(o.settle * 1e9), quiet = s0;
        long prev = -1;
        for (;;) {
            check_children();
            int64_t now = now_ns();
            long cur = SUM(events) + SUM(other_events);
            if (cur != prev) {
                prev = cur;
                quiet = now;
            }
            if (now - quiet >= 1500 * 1000000LL || now >= end)
                break;
            sleep_ms(50);
        }
        printf("settle s=%.1f quiet=%s notices=%ld slow_reader=%ld closed_by_server=%ld\n",
               (double)(now_ns() - s0) / 1e9, now_ns() - quiet >= 1500 * 1000000LL ? "yes" : "no",
               SUM(other_events), SUM(err_slow), SUM(server_closed));
        fflush(stdout);
    }

    g_nmsgs = o.messages > 0 ? o.messages : (long)(o.rate * o.duration + 0.5);
    if (g_nmsgs < 1)
        g_nmsgs = 1;
    g_msgs = xcalloc((size_t)g_nmsgs, sizeof *g_msgs);
    int nsend = o.senders;
    pthread_t *tids = xcalloc((size_t)nsend, sizeof *tids);
    struct cpu_window cw = {0};
    cpu_begin(&cw);
    g_send_t0 = now_ns() + 20 * 1000000;
    g_ctl->run_start_ns = g_send_t0;
    atomic_store(&g_ctl->phase, PH_RUN);
    note("%s: %ld messages at %.0f/s over %d sender connections%s",
         o.mode == M_RECONNECT ? "reconnect" : o.mode == M_STORM ? "storm" : "latency", g_nmsgs,
         o.rate, nsend,
         o.mode == M_RECONNECT ? ", streams dropping and resuming"
         : o.mode == M_STORM   ? ", every stream dropping once and resuming"
                               : "");
    for (int i = 0; i < nsend; i++)
        if (pthread_create(&tids[i], NULL, sender_main, NULL) != 0)
            die("pthread_create failed");
    int nchores = 0;
    pthread_t chores[66];
    if (o.conv == CONV_PAIRS && o.read_rate > 0 &&
        pthread_create(&chores[nchores++], NULL, reader_main, NULL) != 0)
        die("pthread_create failed");
    if (o.conv == CONV_PAIRS && o.media_rate > 0 &&
        pthread_create(&chores[nchores++], NULL, media_main, NULL) != 0)
        die("pthread_create failed");
    for (int i = 0; i < o.pollers; i++)
        if (pthread_create(&chores[nchores++], NULL, poller_main, (void *)(intptr_t)i) != 0)
            die("pthread_create failed");
    /* bounded: the schedule ends at t0 + nmsgs/rate; a stuck sender is cut off 30 s later */
    int64_t send_end = g_send_t0 + (int64_t)((double)g_nmsgs / o.rate * 1e9);
    int64_t last_note = now_ns(), last_gauge = 0;
    while (atomic_load(&g_next_msg) < g_nmsgs + nsend) {
        check_children();
        int64_t now = now_ns();
        if (now > send_end + 30 * NS) {
            note("senders still busy 30 s after the schedule ended: stopping them");
            atomic_store(&g_stop_sending, 1);
            break;
        }
        if (now - last_gauge >= NS) {
            /* streams the servers still count but this tool has closed (or not yet opened) */
            last_gauge = now;
            long gauge = 0;
            for (int t = 0; t < g_ntargets; t++) {
                long v = server_streams(&g_targets[t]);
                gauge += v > 0 ? v : 0;
            }
            long extra = gauge - SUM(up_now);
            if (extra > g_lingering_max)
                g_lingering_max = extra;
        }
        if (now - last_note > 5 * NS) {
            last_note = now;
            note("sent %ld/%ld, delivered %ld, streams open %ld", atomic_load(&g_next_msg) > g_nmsgs ? g_nmsgs : atomic_load(&g_next_msg),
                 g_nmsgs, SUM(msg_events), SUM(up_now));
        }
        sleep_ms(20);
    }
    for (int i = 0; i < nsend; i++)
        pthread_join(tids[i], NULL);
    atomic_store(&g_chores_stop, 1);
    for (int i = 0; i < nchores; i++)
        pthread_join(chores[i], NULL);
    int64_t sent_at = now_ns();
    if (o.mode == M_RECONNECT || o.mode == M_STORM)
        atomic_store(&g_ctl->phase, PH_OPEN); /* no more drops; resumptions go on */
    double window_s = (double)(sent_at - g_send_t0) / 1e9;
    cpu_end(&cw, o.mode == M_RECONNECT ? "reconnect" : o.mode == M_STORM ? "storm" : "send");

    /* drain: wait for late deliveries (and for dropped streams to come back) */
    long want = 0, *per_conv = streams_per_conv(1);
    for (long i = 0; i < g_nmsgs; i++)
        if (g_msgs[i].status == 201)
            want += per_conv[g_msgs[i].conv];
    free(per_conv);
    int64_t drain_end = now_ns() + (int64_t)(o.drain * 1e9);
    long got = 0;
    while (now_ns() < drain_end) {
        check_children();
        got = SUM(msg_events);
        if (got >= want && SUM(up_now) + SUM(dead) >= o.streams)
            break;
        sleep_ms(20);
    }
    double drained_s = (double)(now_ns() - sent_at) / 1e9;
    report_sends(window_s);
    if (nchores)
        printf("chores reads=%ld read_errors=%ld pollers=%d polls=%ld poll_errors=%ld poll_events=%ld "
               "media=%ld media_errors=%ld\n",
               LD(g_ch.reads), LD(g_ch.read_errors), o.pollers, LD(g_ch.polls), LD(g_ch.poll_errors),
               LD(g_ch.poll_events), LD(g_ch.media), LD(g_ch.media_errors));
    if (o.mode == M_RECONNECT || o.mode == M_STORM) {
        long nr = 0;
        for (int w = 0; w < o.procs; w++)
            nr += LD(g_ws[w].nrec);
        struct rec *r = xmalloc((size_t)(nr ? nr : 1) * sizeof *r);
        long k = 0;
        for (int w = 0; w < o.procs; w++) {
            long n = LD(g_ws[w].nrec);
            memcpy(r + k, g_rec + (size_t)w * g_rcap, (size_t)n * sizeof *r);
            k += n;
        }
        qsort(r, (size_t)nr, sizeof *r, cmp_rec);
        uint32_t *rl = xmalloc((size_t)(nr ? nr : 1) * sizeof *rl);
        uint32_t *gapl = xmalloc((size_t)(nr ? nr : 1) * sizeof *gapl);
        long nrl = 0, by_server = 0, in_window = 0;
        int64_t last_up = 0;
        for (long i = 0; i < nr; i++) {
            if (r[i].by_server)
                by_server++;
            rl[nrl] = to_us(r[i].up_ns - r[i].connect_ns);
            gapl[nrl++] = to_us(r[i].up_ns - r[i].drop_ns);
            if (r[i].up_ns <= sent_at)
                in_window++;
            if (r[i].up_ns > last_up)
                last_up = r[i].up_ns;
        }
        /* achieved: resumptions per second from the first drop to the last resumption */
        double span = last_up > g_ctl->run_start_ns ? (double)(last_up - g_ctl->run_start_ns) / 1e9 : 0;
        printf("reconnect target_rate=%.1f/s drops=%ld drop_rate=%.1f/s resumed=%ld achieved=%.1f/s "
               "resumed_in_window=%ld by_server=%ld skipped=%ld still_down=%ld gap_ms=%.0f ",
               o.reconnect_rate, SUM(drops), window_s > 0 ? (double)SUM(drops) / window_s : 0.0, nr,
               span > 0 ? (double)nr / span : 0.0, in_window, by_server, SUM(drop_skipped),
               o.streams - SUM(up_now) - SUM(dead), o.gap_ms);
        print_pcts("", rl, (size_t)nrl);
        printf(" ");
        print_pcts("gap_", gapl, (size_t)nrl);
        printf("\n");
        struct gaps g = {.r = r, .n = nr, .first = xmalloc((size_t)o.streams * sizeof(long))};
        for (long s = 0; s < o.streams; s++)
            g.first[s] = -1;
        for (long i = nr - 1; i >= 0; i--)
            g.first[r[i].stream] = i;
        report_deliveries(&g);
        if (o.mode == M_STORM)
            report_storm(r, nr);
        free(g.first);
        free(r);
        free(rl);
        free(gapl);
    } else {
        report_deliveries(NULL);
    }
    printf("drain s=%.1f\n", drained_s);
    print_server_streams("end");
    print_stream_counters("streams");
    printf("tool rss_kib=%ld\n", tool_rss_kib());
    fflush(stdout);
    stop_receivers();
    free(tids);
}

/* ------------------------------------------------------------------ main */

static void free_ports(int n)
{
    int fds[64];
    if (n < 1 || n > 64)
        die("--free-ports takes 1..64");
    for (int i = 0; i < n; i++) {
        struct sockaddr_in a;
        socklen_t al = sizeof a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fds[i], (struct sockaddr *)&a, &al) != 0)
            die("cannot pick a free port: %s", strerror(errno));
        printf("%s%d", i ? " " : "", ntohs(a.sin_port));
    }
    printf("\n");
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

static void usage(FILE *f)
{
    fputs(
        "usage: sse_load idle|latency|reconnect|storm --api http://127.0.0.1:PORT --sse HOST:PORT[/PID]...\n"
        "                [options]\n"
        "       sse_load --free-ports N\n"
        "Live-delivery load for missive-sse; see the comment at the top of bench/sse_load.c and\n"
        "bench/README.md.\n"
        "  --api URL             nginx (REST: sign-up, sign-in, conversations, sends)\n"
        "  --sse HOST:PORT[/PID] a missive-sse to open streams on (repeat); PID: read its RSS\n"
        "  --streams N           streams (1000)\n"
        "  --per-user K          streams per user (1); users = ceil(N / K)\n"
        "  --users U             users (overrides --per-user)\n"
        "  --users-file F        existing users: one \"ID ACCESS_TOKEN\" per line, instead of\n"
        "                        signing up (sets --users)\n"
        "  --sources S           source addresses 127.0.0.1..127.0.0.S (1)\n"
        "  --procs P             receiver processes (ceil(N / 18000))\n"
        "  --open-window W       handshakes in flight per receiver process (256)\n"
        "  --open-rate R         new streams per second (0: as fast as the window allows)\n"
        "  --open-timeout S      give up waiting for the streams to open (180)\n"
        "  --hold S              idle: seconds the streams are held open (20)\n"
        "  --rate R              messages per second, open-loop schedule (100)\n"
        "  --duration S          seconds of sending (10); messages = rate * duration\n"
        "  --messages M          send exactly M messages (at --rate)\n"
        "  --conv pairs|group|groups\n"
        "                        pairs (default): direct conversations 2p <-> 2p+1; group: one\n"
        "                        group of all; groups: groups of --group-size consecutive users,\n"
        "                        message i to group i % groups, sent by a random member\n"
        "  --group-size G        groups: members per group, 2..1024; users a multiple of G\n"
        "  --no-accept           pairs: leave them message requests (only the opener sends)\n"
        "  --senders T           concurrent sender connections (16)\n"
        "  --reconnect-rate X    reconnect: streams dropped and resumed per second (100)\n"
        "  --gap-ms G            reconnect, storm: wait G ms before reconnecting (250)\n"
        "  --storm-after A       storm: seconds of sending before the first drop (2)\n"
        "  --storm-window W      storm: every stream dropped once within W seconds (5)\n"
        "  --handshake-timeout S a stream not answered within S seconds is retried (15)\n"
        "  --read-rate R         also read / delivered marks per second (pairs; 0)\n"
        "  --pollers K           also K long-poll loops (GET /v1/events) through --api (0)\n"
        "  --poll-timeout S      their ?timeout= (5)\n"
        "  --media-rate M        also uploads per second: presign, PUT, send, download (pairs; 0)\n"
        "  --drain S             wait up to S seconds for late deliveries (10)\n"
        "  --settle S            wait up to S seconds for the notices of the opens to end (60)\n"
        "  --setup-threads T     concurrent setup requests (16)\n"
        "  --watch NAME=PID      report CPU of PID and its children per window (repeat; same\n"
        "                        NAME adds up)\n"
        "  --max-time S          abort the whole run after S seconds (900)\n"
        "  --timeline            also a line per second of sending: deliveries, p50, max\n",
        f);
}

static double parse_num(const char *opt, const char *v, double lo, double hi)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || d < lo || d > hi)
        die("%s: expected a number in [%g, %g], got '%s'", opt, lo, hi, v);
    return d;
}

int main(int argc, char **argv)
{
    enum {
        O_API = 256, O_SSE, O_STREAMS, O_PER_USER, O_USERS, O_SOURCES, O_PROCS, O_WINDOW,
        O_OPEN_RATE, O_OPEN_TIMEOUT, O_HOLD, O_RATE, O_DURATION, O_MESSAGES, O_CONV, O_NO_ACCEPT,
        O_SENDERS, O_RECONNECT_RATE, O_GAP, O_DRAIN, O_SETUP_THREADS, O_WATCH, O_MAX_TIME,
        O_FREE_PORTS, O_SETTLE, O_STORM_AFTER, O_STORM_WINDOW, O_HANDSHAKE, O_USERS_FILE, O_READ_RATE,
        O_POLLERS, O_POLL_TIMEOUT, O_MEDIA_RATE, O_TIMELINE, O_GROUP_SIZE, O_HELP
    };
    static const struct option opts[] = {
        {"api", required_argument, NULL, O_API},
        {"sse", required_argument, NULL, O_SSE},
        {"streams", required_argument, NULL, O_STREAMS},
        {"per-user", required_argument, NULL, O_PER_USER},
        {"users", required_argument, NULL, O_USERS},
        {"sources", required_argument, NULL, O_SOURCES},
        {"procs", required_argument, NULL, O_PROCS},
        {"open-window", required_argument, NULL, O_WINDOW},
        {"open-rate", required_argument, NULL, O_OPEN_RATE},
        {"open-timeout", required_argument, NULL, O_OPEN_TIMEOUT},
        {"hold", required_argument, NULL, O_HOLD},
        {"rate", required_argument, NULL, O_RATE},
        {"duration", required_argument, NULL, O_DURATION},
        {"messages", required_argument, NULL, O_MESSAGES},
        {"conv", required_argument, NULL, O_CONV},
        {"group-size", required_argument, NULL, O_GROUP_SIZE},
        {"no-accept", no_argument, NULL, O_NO_ACCEPT},
        {"senders", required_argument, NULL, O_SENDERS},
        {"reconnect-rate", required_argument, NULL, O_RECONNECT_RATE},
        {"gap-ms", required_argument, NULL, O_GAP},
        {"drain", required_argument, NULL, O_DRAIN},
        {"setup-threads", required_argument, NULL, O_SETUP_THREADS},
        {"watch", required_argument, NULL, O_WATCH},
        {"max-time", required_argument, NULL, O_MAX_TIME},
        {"timeline", no_argument, NULL, O_TIMELINE},
        {"free-ports", required_argument, NULL, O_FREE_PORTS},
        {"settle", required_argument, NULL, O_SETTLE},
        {"storm-after", required_argument, NULL, O_STORM_AFTER},
        {"storm-window", required_argument, NULL, O_STORM_WINDOW},
        {"handshake-timeout", required_argument, NULL, O_HANDSHAKE},
        {"users-file", required_argument, NULL, O_USERS_FILE},
        {"read-rate", required_argument, NULL, O_READ_RATE},
        {"pollers", required_argument, NULL, O_POLLERS},
        {"poll-timeout", required_argument, NULL, O_POLL_TIMEOUT},
        {"media-rate", required_argument, NULL, O_MEDIA_RATE},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *api = NULL;
    long users_opt = 0;
    int opt;

    if (argc > 1 && argv[1][0] != '-') {
        if (strcmp(argv[1], "idle") == 0)
            o.mode = M_IDLE;
        else if (strcmp(argv[1], "latency") == 0)
            o.mode = M_LATENCY;
        else if (strcmp(argv[1], "reconnect") == 0)
            o.mode = M_RECONNECT;
        else if (strcmp(argv[1], "storm") == 0)
            o.mode = M_STORM;
        else
            die("unknown mode '%s' (idle, latency, reconnect, storm)", argv[1]);
        argv++;
        argc--;
    } else if (argc > 1 && strcmp(argv[1], "--free-ports") != 0 && strcmp(argv[1], "--help") != 0 &&
               strcmp(argv[1], "-h") != 0) {
        usage(stderr);
        return 2;
    }
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case O_API: api = optarg; break;
        case O_SSE: add_target(optarg); break;
        case O_STREAMS: o.streams = (long)parse_num("--streams", optarg, 1, MAX_STREAMS); break;
        case O_PER_USER: o.per_user = (long)parse_num("--per-user", optarg, 1, 10000); break;
        case O_USERS: users_opt = (long)parse_num("--users", optarg, 1, MAX_STREAMS); break;
        case O_SOURCES: o.nsources = (int)parse_num("--sources", optarg, 1, MAX_SOURCES); break;
        case O_PROCS: o.procs = (int)parse_num("--procs", optarg, 1, MAX_PROCS); break;
        case O_WINDOW: o.open_window = (long)parse_num("--open-window", optarg, 1, 20000); break;
        case O_OPEN_RATE: o.open_rate = parse_num("--open-rate", optarg, 0, 1e6); break;
        case O_OPEN_TIMEOUT: o.open_timeout = parse_num("--open-timeout", optarg, 1, 3600); break;
        case O_HOLD: o.hold = parse_num("--hold", optarg, 0, 3600); break;
        case O_RATE: o.rate = parse_num("--rate", optarg, 0.1, 100000); break;
        case O_DURATION: o.duration = parse_num("--duration", optarg, 0.1, 3600); break;
        case O_MESSAGES: o.messages = (long)parse_num("--messages", optarg, 1, 10000000); break;
        case O_CONV:
            if (strcmp(optarg, "pairs") == 0)
                o.conv = CONV_PAIRS;
            else if (strcmp(optarg, "group") == 0)
                o.conv = CONV_GROUP;
            else if (strcmp(optarg, "groups") == 0)
                o.conv = CONV_GROUPS;
            else
                die("--conv takes pairs, group or groups");
            break;
        case O_GROUP_SIZE: o.group_size = (long)parse_num("--group-size", optarg, 2, 1024); break;
        case O_NO_ACCEPT: o.no_accept = 1; break;
        case O_SENDERS: o.senders = (int)parse_num("--senders", optarg, 1, 512); break;
        case O_RECONNECT_RATE: o.reconnect_rate = parse_num("--reconnect-rate", optarg, 0, 1e6); break;
        case O_GAP: o.gap_ms = parse_num("--gap-ms", optarg, 0, 60000); break;
        case O_DRAIN: o.drain = parse_num("--drain", optarg, 0, 600); break;
        case O_SETUP_THREADS: o.setup_threads = (int)parse_num("--setup-threads", optarg, 1, 64); break;
        case O_WATCH: {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || (size_t)(eq - optarg) >= sizeof g_watch[0].name ||
                g_nwatch == MAX_WATCH)
                die("--watch takes NAME=PID (at most %d)", MAX_WATCH);
            struct watch *w = &g_watch[g_nwatch++];
            memcpy(w->name, optarg, (size_t)(eq - optarg));
            w->name[eq - optarg] = '\0';
            w->pid = (int)parse_num("--watch", eq + 1, 1, 1 << 30);
            break;
        }
        case O_SETTLE: o.settle = parse_num("--settle", optarg, 0, 600); break;
        case O_STORM_AFTER: o.storm_after = parse_num("--storm-after", optarg, 0, 3600); break;
        case O_STORM_WINDOW: o.storm_window = parse_num("--storm-window", optarg, 0, 3600); break;
        case O_USERS_FILE: g_users_file = optarg; break;
        case O_READ_RATE: o.read_rate = parse_num("--read-rate", optarg, 0, 10000); break;
        case O_POLLERS: o.pollers = (int)parse_num("--pollers", optarg, 0, 64); break;
        case O_POLL_TIMEOUT: o.poll_timeout = parse_num("--poll-timeout", optarg, 0, 60); break;
        case O_MEDIA_RATE: o.media_rate = parse_num("--media-rate", optarg, 0, 1000); break;
        case O_HANDSHAKE: o.handshake_timeout = parse_num("--handshake-timeout", optarg, 1, 3600); break;
        case O_MAX_TIME: o.max_time = parse_num("--max-time", optarg, 1, 86400); break;
        case O_TIMELINE: o.timeline = 1; break;
        case O_FREE_PORTS: free_ports((int)parse_num("--free-ports", optarg, 1, 64)); return 0;
        case O_HELP:
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || !api || g_ntargets == 0) {
        usage(stderr);
        return 2;
    }
    parse_api(api);
    if (g_users_file) {
        long n = read_users_file(NULL);
        if (n < 1 || (users_opt && users_opt != n))
            die("--users-file %s holds %ld users%s", g_users_file, n,
                users_opt ? ", not --users" : "");
        if (o.mode != M_IDLE && o.conv == CONV_PAIRS && n % 2)
            die("--users-file: pairs need an even number of users (%ld)", n);
        users_opt = n;
    }
    if (o.mode == M_STORM && o.conv != CONV_PAIRS)
        die("storm: --conv pairs only");
    if ((o.conv == CONV_GROUPS) != (o.group_size > 0))
        die("--group-size goes with --conv groups, and --conv groups needs it");
    if (o.mode == M_STORM && o.messages == 0 && o.duration < o.storm_after + o.storm_window + 0.5)
        die("storm: --duration must cover --storm-after + --storm-window (+ 0.5 s)");

    /* users and processes */
    if (o.mode != M_IDLE && o.conv == CONV_GROUP) {
        g_nusers = users_opt ? users_opt : (o.streams + o.per_user - 1) / o.per_user;
        if (g_nusers < 2 || g_nusers > 1024)
            die("--conv group: 2 to 1024 users (one group: the creator and up to 1023 others)");
    } else if (o.mode != M_IDLE && o.conv == CONV_GROUPS) {
        /* whole groups only: every message then has the same number of recipients */
        g_nusers = users_opt ? users_opt : (o.streams + o.per_user - 1) / o.per_user;
        if (g_nusers < o.group_size || g_nusers % o.group_size)
            die("--conv groups: the users (%ld) must be a multiple of --group-size (%ld)", g_nusers,
                o.group_size);
    } else {
        g_nusers = users_opt ? users_opt : (o.streams + o.per_user - 1) / o.per_user;
        if (o.mode != M_IDLE && g_nusers < 2)
            die("pairs need at least 2 users");
        if (o.mode != M_IDLE && g_nusers % 2)
            g_nusers++; /* whole pairs */
    }
    if (g_nusers > o.streams && o.mode != M_IDLE)
        die("more users (%ld) than streams (%ld): every user needs a stream", g_nusers, o.streams);
    if (g_nusers > o.streams)
        g_nusers = o.streams;
    if (!o.procs)
        o.procs = (int)((o.streams + FDS_PER_PROC - 1) / FDS_PER_PROC);
    if (o.procs > MAX_PROCS)
        die("%ld streams need more than %d receiver processes", o.streams, MAX_PROCS);
    if (o.streams / o.procs > FDS_PER_PROC + 1000)
        note("warning: %ld streams per receiver process; the open-files limit may stop them",
             o.streams / o.procs);
    for (long s = 0; s < o.streams; s++)
        g_targets[target_of_stream(s)].streams++;

    /* files: as many as the hard limit allows */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)(o.streams / o.procs + 64) > rl.rlim_cur)
        note("warning: %ld streams per process but only %llu files allowed: use --procs",
             o.streams / o.procs, (unsigned long long)rl.rlim_cur);

    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)o.max_time);

    struct rng rng;
    rng_seed(&rng);
    snprintf(g_run, sizeof g_run, "%08" PRIx32, (uint32_t)rng_next(&rng));
    g_mark_len = (size_t)snprintf(g_mark, sizeof g_mark, "sseload:%s:", g_run);

    /* the tool's own CPU: itself and its receivers (its children) */
    if (g_nwatch < MAX_WATCH) {
        memmove(&g_watch[1], &g_watch[0], (size_t)g_nwatch * sizeof *g_watch);
        snprintf(g_watch[0].name, sizeof g_watch[0].name, "tool");
        g_watch[0].pid = getpid();
        g_nwatch++;
    }

    printf("run mode=%s id=%s streams=%ld users=%ld per_user=%.2f targets=%d sources=%d procs=%d\n",
           o.mode == M_IDLE      ? "idle"
           : o.mode == M_LATENCY ? "latency"
           : o.mode == M_STORM   ? "storm"
                                 : "reconnect",
           g_run,
           o.streams, g_nusers, (double)o.streams / (double)g_nusers, g_ntargets, o.nsources,
           o.procs);
    fflush(stdout);
    setup();

    /* shared memory, sized for what the run can log */
    long msgs = o.mode == M_IDLE ? 0 : o.messages > 0 ? o.messages : (long)(o.rate * o.duration + 1);
    long per_msg = o.mode == M_IDLE ? 0 : max_recipients();
    g_dcap = (size_t)((double)msgs * (double)per_msg * 1.5 / o.procs) + 4096;
    g_rcap = o.mode == M_RECONNECT
                 ? (size_t)(o.reconnect_rate * (o.duration + 60) * 1.5 / o.procs) +
                       (size_t)(o.streams / o.procs) * 4 + 4096
                 : (size_t)(o.streams / o.procs) * 4 + 1024;
    g_ctl = shared_alloc(sizeof *g_ctl);
    g_ws = shared_alloc((size_t)o.procs * sizeof *g_ws);
    g_up = shared_alloc((size_t)o.streams);
    g_deliv = shared_alloc((size_t)o.procs * g_dcap * sizeof *g_deliv);
    g_rec = shared_alloc((size_t)o.procs * g_rcap * sizeof *g_rec);
    atomic_store(&g_ctl->phase, PH_OPEN);

    if (o.mode == M_IDLE) {
        idle_before();
        cpu_begin(&g_open_cw);
        g_open_t0 = now_ns();
    }
    fflush(stdout);
    fflush(stderr);
    for (int w = 0; w < o.procs; w++) {
        pid_t p = fork();
        if (p < 0)
            die("fork: %s", strerror(errno));
        if (p == 0) {
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            alarm(0);
            receiver_main(w);
        }
        g_children[g_nchildren++] = p;
    }
    if (o.mode == M_IDLE)
        run_idle();
    else
        run_messages();
    print_first_errors();
    return 0;
}

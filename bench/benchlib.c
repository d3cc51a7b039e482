/*
 * benchlib: code shared by the load tools (benchlib.h). A struct conn belongs
 * to one thread; the rest keeps no state but the target set by parse_url().
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>


#include "benchlib.h"

const char *bench_name = "bench";

/* ------------------------------------------------------------------ misc */

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(bench_name, stderr);
    fputs(": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(bench_name, stderr);
    fputs(": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Growable byte buffer. */

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

void buf_printf(struct buf *b, const char *fmt, ...)
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

/* Drops the first n bytes. */
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

/* xoshiro256** seeded from getrandom: per-thread UUID source. */

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(struct rng *r)
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

void rng_seed(struct rng *r)
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

/* Writes a random (version 4, RFC 9562 variant) UUID in text form: 36 chars + NUL. */
void uuid_v4(struct rng *r, char out[37])
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

/* ------------------------------------------------------------------ tiny JSON reader */

/* Skips whitespace. */
const char *jws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* Returns the end of the string starting at p (on its opening quote), past the
 * closing quote, or NULL. */
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

/* Returns the end of the JSON value starting at p, or NULL. */
const char *jvalue_end(const char *p)
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

/* Finds the top-level member `key` of the JSON object text; returns a pointer to
 * its value (whitespace skipped), or NULL. */
const char *json_member(const char *obj, const char *key)
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

long long json_id(const char *obj, const char *key)
{
    const char *v = json_member(obj, key);
    if (!v || !isdigit((unsigned char)*v))
        return -1;
    return strtoll(v, NULL, 10);
}

/* Copies a top-level string member without escapes (tokens have none) into out. */
int json_plain_string(const char *obj, const char *key, char *out, size_t outlen)
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

/* ------------------------------------------------------------------ HTTP/1.1 client */

struct sockaddr_storage g_addr;
socklen_t g_addrlen;
char g_hostport[300]; /* Host header */
char g_prefix[256];   /* path prefix from --url, without trailing '/' */



void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->reused = 0;
    c->in.len = 0;
}

static int conn_open(struct conn *c, char *err, size_t errlen)
{
    struct timeval tv = {IO_TIMEOUT_S, 0};
    int one = 1;
    int fd = socket(g_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* also bounds connect() */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    while (connect(fd, (struct sockaddr *)&g_addr, g_addrlen) != 0) {
        if (errno == EINTR)
            continue;
        snprintf(err, errlen, "connect: %s", strerror(errno));
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->reused = 0;
    c->in.len = 0;
    return 0;
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

/* Reads more bytes into c->in. >0 bytes read, 0 EOF, -1 error (errno). */
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

/* Case-insensitive: does the comma-separated header value list contain token? */
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

/*
 * Decodes a chunked body that starts at in[start]. Returns 1 when complete
 * (*wire = bytes of the chunked encoding including trailers, dst holds the
 * data), 0 when more input is needed, -1 when malformed.
 */
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
            /* trailers: lines until an empty one */
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
        if (dst->len > MAX_BODY_BYTES)
            return -1;
        p += (size_t)sz + 2;
    }
}

/*
 * Reads one whole answer. Returns 0 with r filled, -1 on failure (r->err), and
 * sets *close_after when the connection cannot carry another request.
 * *got_any tells whether any byte of the answer arrived.
 */
static int read_response(struct conn *c, int head_request, struct response *r, int *close_after,
                         int *got_any, struct buf *scratch)
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
            snprintf(r->err, sizeof r->err, "answer header over %d bytes", MAX_HEADER_BYTES);
            return -1;
        }
        ssize_t n = fill(c);
        if (n == 0) {
            snprintf(r->err, sizeof r->err, "connection closed before the answer%s",
                     c->in.len ? " was complete" : "");
            return -1;
        }
        if (n < 0) {
            snprintf(r->err, sizeof r->err, "recv: %s",
                     errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : strerror(errno));
            return -1;
        }
        *got_any = 1;
    }

    /* Status line: HTTP/1.x NNN reason */
    const char *h = c->in.p;
    int minor;
    if (strncmp(h, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)h[7]) || h[8] != ' ' ||
        !isdigit((unsigned char)h[9]) || !isdigit((unsigned char)h[10]) ||
        !isdigit((unsigned char)h[11])) {
        snprintf(r->err, sizeof r->err, "bad status line: %.40s", h);
        return -1;
    }
    minor = h[7] - '0';
    r->status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');

    long long content_length = -1;
    int chunked = 0, conn_close_hdr = 0, conn_keep = 0;
    const char *line = memchr(h, '\n', hdr_end) + 1;
    const char *hend = h + hdr_end - 2; /* the final empty line */
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
            if (nl == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
                char tmp[32];
                if (vl == 0 || vl >= sizeof tmp) {
                    snprintf(r->err, sizeof r->err, "bad Content-Length");
                    return -1;
                }
                memcpy(tmp, v, vl);
                tmp[vl] = '\0';
                char *endp;
                long long cl = strtoll(tmp, &endp, 10);
                while (*endp == ' ' || *endp == '\t')
                    endp++;
                if (*endp || cl < 0 || cl > MAX_BODY_BYTES ||
                    (content_length >= 0 && content_length != cl)) {
                    snprintf(r->err, sizeof r->err, "bad Content-Length: %s", tmp);
                    return -1;
                }
                content_length = cl;
            } else if (nl == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
                if (has_token(v, vl, "chunked"))
                    chunked = 1;
            } else if (nl == 10 && strncasecmp(line, "Connection", 10) == 0) {
                if (has_token(v, vl, "close"))
                    conn_close_hdr = 1;
                if (has_token(v, vl, "keep-alive"))
                    conn_keep = 1;
            }
        }
        line = eol + 1;
    }
    *close_after = conn_close_hdr || (minor == 0 && !conn_keep);

    /* Body (RFC 9112 section 6.3). */
    int no_body = head_request || r->status / 100 == 1 || r->status == 204 || r->status == 304;
    if (no_body) {
        scratch->len = 0;
        buf_add(scratch, "", 0);
        buf_consume(&c->in, hdr_end);
    } else if (chunked) {
        size_t wire = 0;
        int rc;
        while ((rc = dechunk(c->in.p, c->in.len, hdr_end, scratch, &wire)) == 0) {
            ssize_t n = fill(c);
            if (n <= 0) {
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
        while (c->in.len < hdr_end + (size_t)content_length) {
            ssize_t n = fill(c);
            if (n <= 0) {
                snprintf(r->err, sizeof r->err, "answer body cut short (%s)",
                         n == 0 ? "closed" : strerror(errno));
                return -1;
            }
        }
        scratch->len = 0;
        buf_add(scratch, c->in.p + hdr_end, (size_t)content_length);
        buf_consume(&c->in, hdr_end + (size_t)content_length);
    } else {
        /* Delimited by the end of the connection. */
        ssize_t n;
        while ((n = fill(c)) > 0) {
            if (c->in.len - hdr_end > MAX_BODY_BYTES) {
                snprintf(r->err, sizeof r->err, "answer body too large");
                return -1;
            }
        }
        if (n < 0) {
            snprintf(r->err, sizeof r->err, "recv: %s", strerror(errno));
            return -1;
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

/*
 * One request/answer on c, connecting first if needed. A failure before any
 * byte of the answer on a connection that had been used before (nginx closed an
 * idle keep-alive connection) is retried once on a new connection; a retried
 * send reuses its client_msg_id, so it cannot store twice.
 * Returns 0 (r->status set) or -1 (r->err set, connection closed).
 */
int http_do(struct conn *c, const char *method, const char *path, const char *token,
                   const char *body, struct response *r, struct buf *scratch)
{
    r->status = 0;
    r->body = "";
    r->body_len = 0;
    r->err[0] = '\0';

    c->out.len = 0;
    buf_printf(&c->out,
               "%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: missive-%s\r\n"
               "Accept: application/json\r\n",
               method, g_prefix, path, g_hostport, bench_name);
    if (token)
        buf_printf(&c->out, "Authorization: Bearer %s\r\n", token);
    if (body)
        buf_printf(&c->out, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                   strlen(body), body);
    else
        buf_printf(&c->out, "\r\n");

    for (int attempt = 0; attempt < 2; attempt++) {
        if (c->fd < 0) {
            c->connects++;
            if (conn_open(c, r->err, sizeof r->err) != 0)
                return -1;
        }
        int was_reused = c->reused, close_after = 0, got_any = 0;
        if (send_all(c->fd, c->out.p, c->out.len) != 0) {
            snprintf(r->err, sizeof r->err, "send: %s", strerror(errno));
            conn_close(c);
            if (was_reused)
                continue;
            return -1;
        }
        if (read_response(c, strcmp(method, "HEAD") == 0, r, &close_after, &got_any, scratch) !=
            0) {
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

/* ------------------------------------------------------------------ target */

void parse_url(const char *url)
{
    const char *p;
    char host[256], port[16] = "80";
    if (strncmp(url, "http://", 7) != 0)
        die("--url must start with http:// (got '%s')", url);
    p = url + 7;
    const char *slash = strchr(p, '/');
    size_t hplen = slash ? (size_t)(slash - p) : strlen(p);
    if (hplen == 0 || hplen >= sizeof g_hostport)
        die("bad --url '%s'", url);
    memcpy(g_hostport, p, hplen);
    g_hostport[hplen] = '\0';
    if (slash) {
        size_t pl = strlen(slash);
        while (pl > 0 && slash[pl - 1] == '/')
            pl--;
        if (pl >= sizeof g_prefix)
            die("--url path too long");
        memcpy(g_prefix, slash, pl);
        g_prefix[pl] = '\0';
    }
    if (g_hostport[0] == '[') {
        const char *rb = strchr(g_hostport, ']');
        if (!rb || (size_t)(rb - g_hostport - 1) >= sizeof host)
            die("bad --url host '%s'", g_hostport);
        memcpy(host, g_hostport + 1, (size_t)(rb - g_hostport - 1));
        host[rb - g_hostport - 1] = '\0';
        if (rb[1] == ':')
            snprintf(port, sizeof port, "%s", rb + 2);
    } else {
        const char *colon = strrchr(g_hostport, ':');
        size_t hl = colon ? (size_t)(colon - g_hostport) : strlen(g_hostport);
        if (hl >= sizeof host)
            die("bad --url host");
        memcpy(host, g_hostport, hl);
        host[hl] = '\0';
        if (colon)
            snprintf(port, sizeof port, "%s", colon + 1);
    }
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        die("cannot resolve '%s' port '%s': %s", host, port, gai_strerror(rc));
    int ok = 0;
    for (struct addrinfo *a = res; a && !ok; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            const struct sockaddr_in *sin = (const struct sockaddr_in *)a->ai_addr;
            ok = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
        } else if (a->ai_family == AF_INET6) {
            const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a->ai_addr;
            ok = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
        }
        if (ok) {
            memcpy(&g_addr, a->ai_addr, a->ai_addrlen);
            g_addrlen = a->ai_addrlen;
        }
    }
    freeaddrinfo(res);
    if (!ok)
        die("'%s' is not a loopback address: this benchmark only targets this machine", host);
}

/* ------------------------------------------------------------------ setup */
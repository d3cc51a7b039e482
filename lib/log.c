/*
 * log: JSON-lines logging to stderr.
 *
 * Each event is built in a heap buffer and handed to the kernel with one write(),
 * so lines from concurrent threads never interleave (stderr's stdio buffer is
 * bypassed on purpose). Owns a copy of the program name and, per thread, a copy
 * of the current request id. Thread-safe once log_init() has run; call log_init()
 * before starting threads. The minimum level may be changed at any time.
 */
#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG_MAX 64
#define REQ_MAX  64

static char prog_name[PROG_MAX] = "missive";
static atomic_int min_level = LOG_INFO;
static _Thread_local char req_id[REQ_MAX];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_reserve(struct sbuf *b, size_t extra)
{
    if (b->cap - b->len > extra)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= extra)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/*
 * Appends s as a JSON string. Messages can carry client input, so invalid UTF-8
 * becomes U+FFFD rather than producing a line that JSON parsers reject.
 */
static void sb_json_str(struct sbuf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)u);
    size_t i = 0;
    sb_put(b, "\"", 1);
    while (i < n) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            sb_put(b, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_put(b, esc, 6);
            i++;
        } else if (c < 0x80) {
            sb_put(b, (const char *)&u[i], 1);
            i++;
        } else {
            size_t len = utf8_seq(u + i, n - i);
            if (len == 0) {
                sb_puts(b, "\\ufffd");
                i++;
            } else {
                sb_put(b, (const char *)&u[i], len);
                i += len;
            }
        }
    }
    sb_put(b, "\"", 1);
}

static void sb_field(struct sbuf *b, const char *key, const char *val)
{
    sb_put(b, ",", 1);
    sb_json_str(b, key);
    sb_put(b, ":", 1);
    sb_json_str(b, val);
}

static void sb_head(struct sbuf *b, enum log_level lvl, const char *event)
{
    struct timespec ts;
    struct tm tm;
    char date[32], stamp[64];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp, sizeof stamp, "%s.%03ldZ", date, ts.tv_nsec / 1000000L);

    sb_puts(b, "{\"ts\":");
    sb_json_str(b, stamp);
    sb_field(b, "level", level_names[lvl]);
    sb_field(b, "prog", prog_name);
    sb_field(b, "event", event);
    if (req_id[0])
        sb_field(b, "req", req_id);
}

static void emit(struct sbuf *b)
{
    sb_put(b, "}\n", 2);
    const char *p = b->p;
    size_t left = b->len;
    while (left > 0) {
        ssize_t w = write(STDERR_FILENO, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break; /* nowhere left to report a logging failure */
        }
        p += w;
        left -= (size_t)w;
    }
}

static int valid_level(enum log_level lvl)
{
    return (int)lvl >= LOG_DEBUG && (int)lvl <= LOG_ERROR;
}

void log_init(const char *prog, enum log_level min)
{
    if (prog)
        snprintf(prog_name, sizeof prog_name, "%s", prog);
    atomic_store(&min_level, valid_level(min) ? (int)min : LOG_INFO);
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; s && i <= LOG_ERROR; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            if (out)
                *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

int log_enabled(enum log_level lvl)
{
    return valid_level(lvl) && (int)lvl >= atomic_load(&min_level);
}

void log_set_request_id(const char *id)
{
    if (!id) {
        req_id[0] = '\0';
        return;
    }
    snprintf(req_id, sizeof req_id, "%s", id);
}

const char *log_request_id(void)
{
    return req_id[0] ? req_id : NULL;
}

void log_msg(enum log_level lvl, const char *event, const char *fmt, ...)
{
    if (!log_enabled(lvl))
        return;
    int saved_errno = errno; /* callers often log, then inspect errno */
    struct sbuf b = {0};
    char *msg = NULL;

    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        msg = NULL;

    sb_head(&b, lvl, event);
    sb_field(&b, "msg", msg ? msg : fmt);
    emit(&b);

    free(msg);
    free(b.p);
    errno = saved_errno;
}

void log_fields(enum log_level lvl, const char *event, int n, const char *const keys[],
                const char *const vals[])
{
    if (!log_enabled(lvl))
        return;
    int saved_errno = errno;
    struct sbuf b = {0};

    sb_head(&b, lvl, event);
    for (int i = 0; i < n; i++)
        sb_field(&b, keys[i], vals[i]);
    emit(&b);

    free(b.p);
    errno = saved_errno;
}

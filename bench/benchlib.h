/*
 * benchlib: what the load tools share: a blocking HTTP/1.1 keep-alive client
 * for loopback targets, a small JSON reader for the API's answers, growable
 * buffers, a UUIDv4 generator and error helpers. Each tool sets bench_name
 * (used in messages and the User-Agent) and calls parse_url() before anything.
 */
#ifndef MISSIVE_BENCHLIB_H
#define MISSIVE_BENCHLIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define MAX_CLIENTS      4096
#define MAX_WATCH        16
#define IO_TIMEOUT_S     10 /* per socket read/write/connect */
#define MAX_HEADER_BYTES 65536
#define MAX_BODY_BYTES   (4 << 20)
#define ERROR_SAMPLES    5

extern const char *bench_name;

struct buf {
    char *p;
    size_t len, cap;
};

struct rng {
    uint64_t s[4];
};

struct conn {
    int fd;
    int reused; /* at least one answer was read on this connection */
    struct buf in;
    struct buf out;
    long connects;
};

struct response {
    int status;
    const char *body; /* NUL-terminated, inside conn->in until the next request */
    size_t body_len;
    char err[160]; /* transport/protocol failure when status == 0 */
};

extern struct sockaddr_storage g_addr;
extern socklen_t g_addrlen;
extern char g_hostport[300]; /* Host header */
extern char g_prefix[256];   /* path prefix from --url, without trailing '/' */

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
int64_t now_ns(void);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t rng_next(struct rng *r);
void rng_seed(struct rng *r);
void uuid_v4(struct rng *r, char out[37]);
const char *jws(const char *p);
const char *jvalue_end(const char *p);
const char *json_member(const char *obj, const char *key);
long long json_id(const char *obj, const char *key);
int json_plain_string(const char *obj, const char *key, char *out, size_t outlen);
void conn_close(struct conn *c);
int http_do(struct conn *c, const char *method, const char *path, const char *token,
                   const char *body, struct response *r, struct buf *scratch);
void parse_url(const char *url);

#endif

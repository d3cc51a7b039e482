/*
 * xalloc: malloc wrappers that abort on out-of-memory.
 *
 * Owns nothing; every returned pointer belongs to the caller (free()).
 * Thread-safe (only calls thread-safe libc functions).
 */
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void oom(size_t n)
{
    /* stdio may itself need memory, so format by hand into a stack buffer. */
    char msg[96];
    int len = snprintf(msg, sizeof msg, "fatal: out of memory (%zu bytes)\n", n);
    if (len > 0) {
        ssize_t w =
            write(STDERR_FILENO, msg, (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1);
        (void)w;
    }
    abort();
}

void *xmalloc(size_t n)
{
    /* malloc(0) may return NULL legitimately; asking for 1 keeps "NULL means OOM" true. */
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
    if (nmemb == 0 || size == 0)
        nmemb = size = 1;
    void *p = calloc(nmemb, size);
    if (!p)
        oom(size && nmemb > (size_t)-1 / size ? (size_t)-1 : nmemb * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s);
    char *p = xmalloc(n + 1);
    memcpy(p, s, n + 1);
    return p;
}

char *xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    return s;
}

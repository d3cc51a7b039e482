/*
 * arena: a per-request memory pool.
 *
 * Everything a request allocates comes from its arena and is released at once by
 * arena_free(). Objects that are not arena memory (PGresult, json_t) are handed to
 * arena_defer() so that they die with the request, on the same single cleanup path.
 * An arena is used by one thread at a time.
 */
#ifndef MISSIVE_ARENA_H
#define MISSIVE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

struct arena *arena_new(void);
/* Runs deferred cleanups (last registered first), then frees all blocks. NULL is ok. */
void arena_free(struct arena *a);
/* Frees everything but keeps the first block, for reuse by the next request. */
void arena_reset(struct arena *a);

void *arena_alloc(struct arena *a, size_t n);  /* 16-byte aligned, uninitialised */
void *arena_zalloc(struct arena *a, size_t n); /* zeroed */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_sprintf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vsprintf(struct arena *a, const char *fmt, va_list ap);

/* Calls fn(p) when the arena is freed or reset. */
void arena_defer(struct arena *a, void (*fn)(void *), void *p);

#endif

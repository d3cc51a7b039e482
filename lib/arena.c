/*
 * arena: a block-chained bump allocator with deferred cleanups.
 *
 * Owns its blocks and runs the cleanups registered with arena_defer(), last
 * registered first, on arena_free() and arena_reset(). The first block (4 KiB)
 * survives arena_reset() so a per-thread arena costs no malloc per request.
 * Not thread-safe: an arena belongs to one thread at a time.
 */
#include "arena.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN       16
#define FIRST_BLOCK 4096
#define MAX_BLOCK   65536

struct block {
    struct block *next; /* older block; the first block ends the chain */
    size_t size;        /* usable bytes in data */
    size_t used;
    unsigned char data[];
};

struct cleanup {
    struct cleanup *next;
    void (*fn)(void *);
    void *p;
};

struct arena {
    struct block *head;  /* the block being bumped */
    struct block *first; /* kept by arena_reset */
    struct cleanup *cleanups;
};

static struct block *block_new(size_t size)
{
    /* The ALIGN slack lets any malloc alignment be rounded up to 16 inside data. */
    if (size > SIZE_MAX - sizeof(struct block) - ALIGN)
        size = SIZE_MAX - sizeof(struct block) - ALIGN; /* xmalloc aborts on it */
    struct block *b = xmalloc(sizeof(struct block) + size + ALIGN);
    b->next = NULL;
    b->size = size + ALIGN;
    b->used = 0;
    return b;
}

/* Offset of the next 16-byte aligned address in b at or after b->used. */
static size_t aligned_offset(const struct block *b)
{
    uintptr_t addr = (uintptr_t)(b->data + b->used);
    uintptr_t pad = (ALIGN - (addr & (ALIGN - 1))) & (ALIGN - 1);
    return b->used + (size_t)pad;
}

static void *bump(struct block *b, size_t n)
{
    size_t off = aligned_offset(b);
    if (off > b->size || b->size - off < n)
        return NULL;
    b->used = off + n;
    return b->data + off;
}

struct arena *arena_new(void)
{
    struct arena *a = xmalloc(sizeof *a);
    a->first = block_new(FIRST_BLOCK);
    a->head = a->first;
    a->cleanups = NULL;
    return a;
}

static void run_cleanups(struct arena *a)
{
    /* A cleanup may register another (e.g. freeing a wrapper); keep draining. */
    while (a->cleanups) {
        struct cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->p);
    }
}

static void free_blocks_after_first(struct arena *a)
{
    /* Big blocks can sit behind the first block, so walk the whole chain. */
    struct block *b = a->head;
    while (b) {
        struct block *next = b->next;
        if (b != a->first)
            free(b);
        b = next;
    }
    a->head = a->first;
    a->first->next = NULL;
    a->first->used = 0;
}

void arena_free(struct arena *a)
{
    if (!a)
        return;
    run_cleanups(a);
    free_blocks_after_first(a);
    free(a->first);
    free(a);
}

void arena_reset(struct arena *a)
{
    if (!a)
        return;
    run_cleanups(a);
    free_blocks_after_first(a);
}

void *arena_alloc(struct arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    void *p = bump(a->head, n);
    if (p)
        return p;

    size_t next_size = a->head->size * 2;
    if (next_size > MAX_BLOCK)
        next_size = MAX_BLOCK;

    if (n > next_size / 4) {
        /* Big allocations get a block of their own, linked behind the current
         * one, so the free space left in the current block is not wasted. */
        struct block *big = block_new(n);
        big->next = a->head->next;
        a->head->next = big;
        p = bump(big, n);
    } else {
        struct block *b = block_new(next_size);
        b->next = a->head;
        a->head = b;
        p = bump(b, n);
    }
    return p;
}

void *arena_zalloc(struct arena *a, size_t n)
{
    void *p = arena_alloc(a, n);
    memset(p, 0, n ? n : 1);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    size_t len = strlen(s);
    char *p = arena_alloc(a, len + 1);
    memcpy(p, s, len + 1);
    return p;
}

char *arena_vsprintf(struct arena *a, const char *fmt, va_list ap)
{
    /* Most strings fit the current block: format straight into its free space
     * and only format a second time when they do not. */
    struct block *b = a->head;
    size_t off = aligned_offset(b);
    size_t room = off < b->size ? b->size - off : 0;
    char *dst = room ? (char *)b->data + off : NULL;
    char dummy[1];

    va_list ap2;
    va_copy(ap2, ap);
    int len = vsnprintf(dst ? dst : dummy, dst ? room : sizeof dummy, fmt, ap2);
    va_end(ap2);
    if (len < 0)
        return arena_strdup(a, ""); /* only on a bad format: a programming error */

    if (dst && (size_t)len < room) {
        b->used = off + (size_t)len + 1;
        return dst;
    }
    char *p = arena_alloc(a, (size_t)len + 1);
    vsnprintf(p, (size_t)len + 1, fmt, ap);
    return p;
}

char *arena_sprintf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = arena_vsprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

void arena_defer(struct arena *a, void (*fn)(void *), void *p)
{
    struct cleanup *c = arena_alloc(a, sizeof *c);
    c->fn = fn;
    c->p = p;
    c->next = a->cleanups;
    a->cleanups = c;
}

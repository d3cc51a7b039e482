/*
 * xalloc: allocation that never returns NULL.
 *
 * Out of memory aborts the process: the programs run under a supervisor, and a
 * half-handled OOM path is an untested path (see docs/architecture.md).
 */
#ifndef MISSIVE_XALLOC_H
#define MISSIVE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new heap string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

/*
 * listener: LISTEN/NOTIFY to hub fan-out on a thread of its own (listener.c).
 */
#ifndef MISSIVE_LISTENER_H
#define MISSIVE_LISTENER_H

#include "hub.h"

#include <stddef.h>

struct listener;

/* Starts the thread; it connects (and reconnects) by itself. */
struct listener *listener_new(struct hub *hub, const char *conninfo);
void listener_free(struct listener *l);
/* "FIRST:LAST" of a missive_events notice; 0, or -1 if malformed (exposed for fuzzing). */
int listener_parse_range(const char *payload, long long *first, long long *last);
/* "{1,2,3}" (a PostgreSQL bigint[]) into a heap array; returns the count. */
size_t listener_parse_ids(const char *text, long long **out);

/* Events fanned out so far (for metrics; read without locking, approximate). */
unsigned long long listener_delivered(const struct listener *l);

#endif

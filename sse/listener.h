/*
 * listener: LISTEN/NOTIFY to hub fan-out on a thread of its own (listener.c).
 */
#ifndef MISSIVE_LISTENER_H
#define MISSIVE_LISTENER_H

#include "hub.h"

struct listener;

/* Starts the thread; it connects (and reconnects) by itself. */
struct listener *listener_new(struct hub *hub, const char *conninfo);
void listener_free(struct listener *l);
/* Events fanned out so far (for metrics; read without locking, approximate). */
unsigned long long listener_delivered(const struct listener *l);

#endif

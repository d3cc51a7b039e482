/*
 * presence: who is online, kept in PostgreSQL for every missive-sse instance.
 *
 * Once a second a thread of its own compares the users holding streams in the
 * hub with the users it has announced: newcomers are recorded at once (and, if
 * no other instance had them, announced online); users whose last stream closed
 * are recorded as gone only after presence_grace seconds without a new one, so a
 * reconnect does not flap. Every few seconds it beats for this instance and
 * reaps instances that stopped beating (crashed), whose users then go offline.
 */
#ifndef MISSIVE_PRESENCE_H
#define MISSIVE_PRESENCE_H

#include "config.h"
#include "hub.h"

struct presence;

struct presence *presence_new(const struct config *cfg, struct hub *hub);
/* Stops the thread and records this instance's users as gone. */
void presence_free(struct presence *p);

#endif

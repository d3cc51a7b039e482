/*
 * auth: who opens a stream or long-poll.
 *
 * Browsers (EventSource cannot send headers) present a one-time ticket from
 * POST /v1/stream/tickets as ?ticket=; other clients may send their access token
 * as "Authorization: Bearer". Either way the session must still be live. Runs on
 * a database thread (jobs.c), never on the event loop.
 */
#ifndef MISSIVE_SSE_AUTH_H
#define MISSIVE_SSE_AUTH_H

#include "db.h"

#include <stddef.h>

enum auth_result {
    AUTH_OK = 0,
    AUTH_MISSING,     /* neither ticket nor token */
    AUTH_INVALID,     /* unknown, used or expired ticket; bad token; ended session */
    AUTH_UNAVAILABLE, /* the database could not be asked */
};

struct auth_who {
    long long user;
    long long session;
};

/* ticket or bearer (the token after "Bearer ") may be NULL. */
enum auth_result auth_check(struct db *db, const unsigned char *key, size_t keylen,
                            const char *ticket, const char *bearer, struct auth_who *who);

#endif

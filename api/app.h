/*
 * app: what every request handler may read, set up once by main and then
 * shared read-only by all request threads (metrics has its own locking).
 */
#ifndef MISSIVE_APP_H
#define MISSIVE_APP_H

#include "config.h"
#include "password.h"

#include <stddef.h>

struct metrics;
struct sendq;
struct ratelimit;
struct storage;

struct app {
    const struct config *cfg;
    struct metrics *metrics;
    struct sendq *sendq;
    struct ratelimit *limits;
    struct storage *storage; /* media bytes: lib/storage.h */
    const unsigned char *token_key; /* HS256 key: cfg->token_secret's bytes */
    size_t token_keylen;
    struct password_params pw;
};

#endif

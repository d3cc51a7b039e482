/*
 * server: missive-sse's HTTP endpoints and the threads behind them (server.c).
 */
#ifndef MISSIVE_SSE_SERVER_H
#define MISSIVE_SSE_SERVER_H

#include "config.h"

struct server;
struct hub;

/* Starts listening, the database threads and the LISTEN thread. NULL on failure. */
struct server *server_new(const struct config *cfg);
/* Once a second from main: long-poll deadlines; heartbeat = 1 to send heartbeats. */
void server_tick(struct server *srv, int heartbeat);
struct hub *server_hub(struct server *srv);
/* Graceful: clients are told to reconnect, then everything stops. */
void server_free(struct server *srv);

#endif

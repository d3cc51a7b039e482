/*
 * server: missive-sse's HTTP endpoints and the threads behind them (server.c).
 */
#ifndef MISSIVE_SSE_SERVER_H
#define MISSIVE_SSE_SERVER_H

#include "config.h"

struct server;

/* A cursor / Last-Event-ID: a non-negative decimal, -1 when s is NULL, -2 when
 * malformed (exposed for fuzzing). */
long long sse_parse_pos(const char *s);
struct hub;

/* Starts listening, the database threads and the LISTEN thread. NULL on failure. */
struct server *server_new(const struct config *cfg);
/* Once a second from main: long-poll deadlines, hung-up clients, heartbeats. */
void server_tick(struct server *srv);
struct hub *server_hub(struct server *srv);
/* Graceful: clients are told to reconnect, then everything stops. */
void server_free(struct server *srv);

#endif

/*
 * server: the FastCGI front of missive-api.
 *
 * A fixed pool of threads, each with its own arena and PostgreSQL connection,
 * takes connections from one listening socket (libfcgi serves one connection per
 * thread, so nginx must not keep FastCGI connections open: fastcgi_keep_conn off).
 * server_stop() closes the listening socket and lets requests in flight finish.
 */
#ifndef MISSIVE_SERVER_H
#define MISSIVE_SERVER_H

#include "app.h"

struct server;

/* Opens the listening socket from cfg->api_listen. NULL (logged) on failure. */
struct server *server_new(const struct app *app);
/* Starts cfg->api_threads threads. -1 on failure. */
int server_start(struct server *s);
/* Stops accepting, waits for in-flight requests, joins the threads. */
void server_stop(struct server *s);
void server_free(struct server *s);

/* Handles one parsed request end to end (routing, auth, handler). For tests too. */
struct req;
void server_dispatch(struct req *r);

#endif

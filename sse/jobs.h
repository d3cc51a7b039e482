/*
 * jobs: a few threads, each with its own PostgreSQL connection, for the work the
 * event loop must never wait on (authentication, catch-up queries, presence).
 * A job is a function and its argument; it runs on whichever thread is free.
 */
#ifndef MISSIVE_JOBS_H
#define MISSIVE_JOBS_H

#include "db.h"

struct jobs;

struct jobs *jobs_new(const char *conninfo, int nthreads);
/* Runs the queued jobs, then stops the threads. */
void jobs_free(struct jobs *j);
void jobs_submit(struct jobs *j, void (*fn)(struct db *db, void *arg), void *arg);
/* Jobs waiting for a thread. */
size_t jobs_backlog(struct jobs *j);

#endif

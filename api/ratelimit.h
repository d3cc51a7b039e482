/*
 * ratelimit: token buckets by key, shared by this process's request threads.
 *
 * Each key (e.g. "login-ip:203.0.113.7") has a bucket holding up to `burst`
 * tokens that refills at `rate` per second; a request takes one. Buckets live
 * in a fixed table of slots chosen by hash: no allocation per key, bounded
 * memory whatever an attacker sends. Two keys sharing a slot reset each other,
 * which can only let a request through that should have waited, never refuse
 * one that should not. Limits are per process: with N API processes a client
 * gets at most N times the configured rate.
 */
#ifndef MISSIVE_RATELIMIT_H
#define MISSIVE_RATELIMIT_H

#include <stddef.h>

struct ratelimit;

struct ratelimit *ratelimit_new(size_t slots);
void ratelimit_free(struct ratelimit *rl);

/*
 * Takes a token from key's bucket at time now (seconds, monotonic). Returns 0
 * if allowed, else the whole seconds to wait for the next token (>= 1).
 */
int ratelimit_take(struct ratelimit *rl, const char *key, double rate, double burst, double now);

#endif

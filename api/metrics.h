/*
 * metrics: Prometheus counters and latency histograms for the API.
 *
 * Labels are bounded by construction: route is a pattern from the route table
 * (or "unmatched"), method one of a fixed set, status a three-digit code. Safe to
 * call from every request thread.
 */
#ifndef MISSIVE_METRICS_H
#define MISSIVE_METRICS_H

#include <stddef.h>

struct metrics;

struct metrics *metrics_new(size_t nroutes);
void metrics_free(struct metrics *m);

/* Records one request. route_idx == nroutes means "unmatched". */
void metrics_observe(struct metrics *m, size_t route_idx, const char *method, int status,
                     double seconds);

/* Renders the Prometheus text format into a heap string; route_name(i) names routes. */
char *metrics_render(struct metrics *m, const char *(*route_name)(size_t i));

#endif

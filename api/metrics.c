/*
 * metrics: request counters by (route, method, status) and a latency histogram
 * per route, rendered in the Prometheus text format. One mutex guards it all:
 * an observation is a few adds, far cheaper than the request it measures.
 */
#include "metrics.h"

#include "xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double bucket_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                   0.05,   0.1,   0.25,   0.5,   1,    2.5, 5, 10};
#define NBUCKETS (sizeof bucket_le / sizeof bucket_le[0])

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OTHER"};
#define NMETHODS (sizeof methods / sizeof methods[0])

struct counter {
    size_t route;
    int method;
    int status;
    unsigned long long n;
};

struct histogram {
    unsigned long long buckets[NBUCKETS];
    unsigned long long count;
    double sum;
};

struct metrics {
    pthread_mutex_t mu;
    size_t nroutes;
    struct histogram *hist; /* (nroutes + 1 ("unmatched")) x NMETHODS */
    struct counter *counters;
    size_t ncounters, cap;
};

struct metrics *metrics_new(size_t nroutes)
{
    struct metrics *m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    m->nroutes = nroutes;
    m->hist = xcalloc((nroutes + 1) * NMETHODS, sizeof *m->hist);
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m->hist);
    free(m->counters);
    free(m);
}

static int method_index(const char *method)
{
    for (size_t i = 0; i + 1 < NMETHODS; i++)
        if (strcmp(methods[i], method) == 0)
            return (int)i;
    return (int)NMETHODS - 1;
}

void metrics_observe(struct metrics *m, size_t route_idx, const char *method, int status,
                     double seconds)
{
    int mi = method_index(method ? method : "");
    struct counter *c = NULL;

    if (route_idx > m->nroutes)
        route_idx = m->nroutes;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->ncounters; i++) {
        struct counter *x = &m->counters[i];
        if (x->route == route_idx && x->method == mi && x->status == status) {
            c = x;
            break;
        }
    }
    if (!c) {
        if (m->ncounters == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 64;
            m->counters = xrealloc(m->counters, m->cap * sizeof *m->counters);
        }
        c = &m->counters[m->ncounters++];
        *c = (struct counter){route_idx, mi, status, 0};
    }
    c->n++;
    struct histogram *h = &m->hist[route_idx * NMETHODS + (size_t)mi];
    for (size_t b = 0; b < NBUCKETS; b++)
        if (seconds <= bucket_le[b])
            h->buckets[b]++;
    h->count++;
    h->sum += seconds;
    pthread_mutex_unlock(&m->mu);
}

char *metrics_render(struct metrics *m, const char *(*route_name)(size_t i))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        abort();
    pthread_mutex_lock(&m->mu);
    fputs("# HELP missive_http_requests_total Requests answered, by route, method and status.\n"
          "# TYPE missive_http_requests_total counter\n",
          f);
    for (size_t i = 0; i < m->ncounters; i++) {
        const struct counter *c = &m->counters[i];
        fprintf(f, "missive_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %llu\n",
                c->route < m->nroutes ? route_name(c->route) : "unmatched", methods[c->method],
                c->status, c->n);
    }
    fputs("# HELP missive_http_request_duration_seconds Time from request start to answer.\n"
          "# TYPE missive_http_request_duration_seconds histogram\n",
          f);
    for (size_t k = 0; k < (m->nroutes + 1) * NMETHODS; k++) {
        const struct histogram *h = &m->hist[k];
        size_t r = k / NMETHODS;
        const char *name = r < m->nroutes ? route_name(r) : "unmatched";
        const char *method = methods[k % NMETHODS];
        if (h->count == 0)
            continue;
        for (size_t b = 0; b < NBUCKETS; b++)
            fprintf(f,
                    "missive_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\","
                    "le=\"%g\"} %llu\n",
                    name, method, bucket_le[b], h->buckets[b]);
        fprintf(f,
                "missive_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\","
                "le=\"+Inf\"} %llu\n",
                name, method, h->count);
        fprintf(f, "missive_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} %.6f\n",
                name, method, h->sum);
        fprintf(f, "missive_http_request_duration_seconds_count{route=\"%s\",method=\"%s\"} %llu\n",
                name, method, h->count);
    }
    pthread_mutex_unlock(&m->mu);
    fclose(f);
    return buf;
}

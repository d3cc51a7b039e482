/*
 * ratelimit: hashed token buckets (ratelimit.h). Slots are guarded by striped
 * mutexes so threads rarely meet.
 */
#include "ratelimit.h"

#include "xalloc.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define STRIPES 64

struct slot {
    uint64_t key;
    double tokens;
    double at; /* when tokens was last brought up to date */
};

struct ratelimit {
    size_t nslots;
    struct slot *slots;
    pthread_mutex_t mu[STRIPES];
};

/* FNV-1a: fast, and good enough to spread short keys over slots. */
static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}

struct ratelimit *ratelimit_new(size_t slots)
{
    struct ratelimit *rl = xcalloc(1, sizeof *rl);
    rl->nslots = slots ? slots : 1;
    rl->slots = xcalloc(rl->nslots, sizeof *rl->slots);
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&rl->mu[i], NULL);
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&rl->mu[i]);
    free(rl->slots);
    free(rl);
}

int ratelimit_take(struct ratelimit *rl, const char *key, double rate, double burst, double now)
{
    uint64_t h = hash(key);
    size_t i = (size_t)(h % rl->nslots);
    pthread_mutex_t *mu = &rl->mu[i % STRIPES];
    struct slot *s = &rl->slots[i];
    int wait = 0;

    if (rate <= 0 || burst < 1)
        return 0; /* a limit of 0 means none */
    pthread_mutex_lock(mu);
    if (s->key != h) {
        s->key = h;
        s->tokens = burst;
        s->at = now;
    } else if (now > s->at) {
        s->tokens = fmin(burst, s->tokens + (now - s->at) * rate);
        s->at = now;
    }
    if (s->tokens >= 1.0) {
        s->tokens -= 1.0;
    } else {
        wait = (int)ceil((1.0 - s->tokens) / rate);
        if (wait < 1)
            wait = 1;
    }
    pthread_mutex_unlock(mu);
    return wait;
}

/*
 * job: what missive-worker runs. Each job is a row in main.c's table: a name,
 * the NOTIFY channel that wakes it (or NULL), the shortest time between two
 * woken passes (so work gathers), and one pass that does what there is to do now.
 */
#ifndef MISSIVE_JOB_H
#define MISSIVE_JOB_H

#include "config.h"
#include "db.h"

struct job {
    const char *name;
    const char *channel;  /* LISTENed; NULL: runs on the poll interval only */
    int gather_ms;        /* a wake-up within this long of the last pass waits for its end */
    /* One pass. Returns units of work done (0: nothing left), -1 on a database error. */
    int (*pass)(const struct config *cfg, struct db *db);
    /* Optional (NULL: none). init runs once before the first pass; 0, or -1 after
     * logging why (the job is then left out). fini runs at exit after a good init.
     * next_ms, asked after each pass: milliseconds until the job has work due
     * (a timer sooner than the poll interval), or -1 for none. */
    int (*init)(const struct config *cfg);
    void (*fini)(void);
    long (*next_ms)(void);
};

/* receipts.c */
int receipts_pass(const struct config *cfg, struct db *db);
/* sweep.c */
int sweep_pass(const struct config *cfg, struct db *db);
/* push.c: Web Push deliveries (docs/push.md) */
int push_pass(const struct config *cfg, struct db *db);
int push_init(const struct config *cfg);
void push_fini(void);
long push_next_ms(void);
/* thumbs.c: thumbnails of images (docs/media.md) */
int thumbs_pass(const struct config *cfg, struct db *db);
int thumbs_init(const struct config *cfg);
void thumbs_fini(void);
long thumbs_next_ms(void);

#endif

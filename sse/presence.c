/*
 * presence: online/offline bookkeeping for this instance (presence.h).
 *
 * The thread owns its database connection and its table of announced users
 * (sorted by id, with the time each was last seen absent). It reads the hub only
 * through hub_users().
 */
#include "presence.h"

#include "crypto.h"
#include "db.h"
#include "log.h"
#include "xalloc.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BEAT_EVERY 5 /* seconds */

struct seen {
    long long user;
    time_t absent_since; /* 0 while connected here */
};

struct presence {
    const struct config *cfg;
    struct hub *hub;
    struct db *db;
    char instance[33];
    struct seen *seen;
    size_t nseen;
    int stop_pipe[2];
    pthread_t tid;
    int started;
};

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* "{1,2,3}" for a list of ids (heap). */
static char *id_list(const long long *v, size_t n)
{
    char *out = xmalloc(n * 21 + 3), *o = out;
    *o++ = '{';
    for (size_t i = 0; i < n; i++)
        o += sprintf(o, "%s%lld", i ? "," : "", v[i]);
    strcpy(o, "}");
    return out;
}

static void call(struct presence *p, const char *fn, const long long *users, size_t n)
{
    char *list = id_list(users, n), timeout[16];
    char *sql = xasprintf("SELECT %s($1, $2, $3)", fn);
    const char *params[3] = {p->instance, list, timeout};
    snprintf(timeout, sizeof timeout, "%d", p->cfg->presence_timeout);
    for (int attempt = 0; attempt < 3; attempt++) {
        enum db_status st = db_exec(p->db, NULL, sql, 3, params);
        if (st == DB_OK)
            break;
        log_warn("presence", "%s for %zu users: %s", fn, n, db_last_error(p->db));
        if (st != DB_RETRY)
            break;
    }
    free(sql);
    free(list);
}

static void beat(struct presence *p)
{
    char timeout[16];
    const char *params[2] = {p->instance, timeout};
    snprintf(timeout, sizeof timeout, "%d", p->cfg->presence_timeout);
    if (db_exec(p->db, NULL, "SELECT missive_presence_beat($1, $2)", 2, params) != DB_OK)
        log_warn("presence", "heartbeat: %s", db_last_error(p->db));
}

/* One comparison of the hub with what was announced. */
static void sync_once(struct presence *p, time_t now)
{
    long long *here = NULL;
    size_t nhere = hub_users(p->hub, &here);
    long long *arrive = xcalloc(nhere + 1, sizeof *arrive);
    long long *leave = xcalloc(p->nseen + 1, sizeof *leave);
    struct seen *next = xcalloc(nhere + p->nseen + 1, sizeof *next);
    size_t na = 0, nl = 0, nn = 0, i = 0, j = 0;

    qsort(here, nhere, sizeof *here, cmp_ll);
    while (i < nhere || j < p->nseen) {
        if (j >= p->nseen || (i < nhere && here[i] < p->seen[j].user)) {
            arrive[na++] = here[i];
            next[nn++] = (struct seen){here[i], 0};
            i++;
        } else if (i >= nhere || p->seen[j].user < here[i]) {
            struct seen s = p->seen[j++];
            if (s.absent_since == 0)
                s.absent_since = now;
            if (now - s.absent_since >= p->cfg->presence_grace)
                leave[nl++] = s.user;
            else
                next[nn++] = s;
        } else {
            next[nn++] = (struct seen){here[i], 0};
            i++;
            j++;
        }
    }
    if (na)
        call(p, "missive_presence_arrive", arrive, na);
    if (nl)
        call(p, "missive_presence_leave", leave, nl);
    free(p->seen);
    p->seen = next;
    p->nseen = nn;
    free(here);
    free(arrive);
    free(leave);
}

static void *run(void *arg)
{
    struct presence *p = arg;
    time_t last_beat = 0;

    for (;;) {
        struct pollfd s = {p->stop_pipe[0], POLLIN, 0};
        time_t now = time(NULL);
        if (now - last_beat >= BEAT_EVERY) {
            beat(p);
            last_beat = now;
        }
        sync_once(p, now);
        if (poll(&s, 1, 1000) > 0)
            break;
    }
    return NULL;
}

struct presence *presence_new(const struct config *cfg, struct hub *hub)
{
    struct presence *p = xcalloc(1, sizeof *p);
    p->cfg = cfg;
    p->hub = hub;
    p->db = db_new(cfg->db_url);
    crypto_random_hex16(p->instance);
    if (pipe(p->stop_pipe) != 0 || pthread_create(&p->tid, NULL, run, p) != 0) {
        log_error("presence", "cannot start the presence thread");
        db_free(p->db);
        free(p);
        return NULL;
    }
    p->started = 1;
    log_info("presence", "instance %s", p->instance);
    return p;
}

void presence_free(struct presence *p)
{
    if (!p)
        return;
    if (write(p->stop_pipe[1], "x", 1) < 0)
        log_warn("presence", "cannot signal the presence thread");
    pthread_join(p->tid, NULL);
    /* Everyone here goes now: no grace for a process that is leaving. */
    if (p->nseen) {
        long long *all = xcalloc(p->nseen, sizeof *all);
        for (size_t i = 0; i < p->nseen; i++)
            all[i] = p->seen[i].user;
        call(p, "missive_presence_leave", all, p->nseen);
        free(all);
    }
    const char *params[1] = {p->instance};
    db_exec(p->db, NULL, "DELETE FROM sse_instances WHERE id = $1", 1, params);
    close(p->stop_pipe[0]);
    close(p->stop_pipe[1]);
    db_free(p->db);
    free(p->seen);
    free(p);
}

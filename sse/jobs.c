/*
 * jobs: a fixed pool of database threads fed by one FIFO queue (jobs.h).
 * j->mu guards the queue; each thread owns its struct db.
 */
#include "jobs.h"

#include "xalloc.h"

#include <pthread.h>
#include <stdlib.h>

struct job {
    struct job *next;
    void (*fn)(struct db *, void *);
    void *arg;
};

struct jobs {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    size_t backlog;
    int stopping;
    int nthreads;
    pthread_t *tids;
    char *conninfo;
};

static void *run(void *arg)
{
    struct jobs *j = arg;
    struct db *db = db_new(j->conninfo);
    db_set_generic_plans(db); /* it runs only the prepared hot statements */

    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->head && !j->stopping)
            pthread_cond_wait(&j->cv, &j->mu);
        if (!j->head)
            break;
        struct job *x = j->head;
        j->head = x->next;
        if (!j->head)
            j->tail = NULL;
        j->backlog--;
        pthread_mutex_unlock(&j->mu);
        x->fn(db, x->arg);
        free(x);
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    db_free(db);
    return NULL;
}

struct jobs *jobs_new(const char *conninfo, int nthreads)
{
    struct jobs *j = xcalloc(1, sizeof *j);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->conninfo = xstrdup(conninfo);
    j->tids = xcalloc((size_t)nthreads, sizeof *j->tids);
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&j->tids[i], NULL, run, j) == 0)
            j->nthreads++;
    return j;
}

void jobs_free(struct jobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->stopping = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    for (int i = 0; i < j->nthreads; i++)
        pthread_join(j->tids[i], NULL);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j->tids);
    free(j->conninfo);
    free(j);
}

void jobs_submit(struct jobs *j, void (*fn)(struct db *, void *), void *arg)
{
    struct job *x = xmalloc(sizeof *x);
    x->next = NULL;
    x->fn = fn;
    x->arg = arg;
    pthread_mutex_lock(&j->mu);
    if (j->tail)
        j->tail->next = x;
    else
        j->head = x;
    j->tail = x;
    j->backlog++;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

size_t jobs_backlog(struct jobs *j)
{
    size_t n;
    pthread_mutex_lock(&j->mu);
    n = j->backlog;
    pthread_mutex_unlock(&j->mu);
    return n;
}

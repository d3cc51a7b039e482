/*
 * sendq: the batched message writer (see sendq.h).
 *
 * Threads: any request thread calls sendq_send(); one writer thread owns q->db
 * and runs the batches. q->mu guards the queue and every waiter's done flag; a
 * waiter sleeps on its own condition variable until the writer marks it done,
 * so a finished batch wakes just its own senders (one shared variable woke every
 * queued sender after every batch, most of them only to sleep again).
 */
#include "sendq.h"

#include "log.h"
#include "xalloc.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct waiter {
    struct sendq_item *item;
    int done;
    pthread_cond_t cv;
    struct waiter *next;
};

struct sendq {
    pthread_mutex_t mu;
    pthread_cond_t wake_cv; /* the writer waits here for work */
    struct waiter *head, *tail;
    int stopping;
    int batching;
    int max_batch;
    struct db *db;
    pthread_t tid;
    int started;
};

static const struct {
    const char *name;
    enum sendq_result result;
} results[] = {
    {"created", SEND_CREATED},       {"existing", SEND_EXISTING},
    {"session", SEND_SESSION},       {"not_member", SEND_NOT_MEMBER},
    {"request", SEND_REQUEST},       {"blocked", SEND_BLOCKED},
    {"bad_reply", SEND_BAD_REPLY},
};

static enum sendq_result parse_result(const char *s)
{
    for (size_t i = 0; i < sizeof results / sizeof results[0]; i++)
        if (strcmp(results[i].name, s) == 0)
            return results[i].result;
    return SEND_DB_ERROR;
}

static void fail_all(struct sendq_item **items, int n, enum sendq_result r)
{
    for (int i = 0; i < n; i++)
        items[i]->result = r;
}

/* Run for every batch: parsed and planned once per connection. */
static const struct db_stmt batch_stmt = {
    "send_batch", "SELECT idx, result, seq, created_at FROM missive_send_batch($1::jsonb)"};

int sendq_run_batch(struct db *db, struct sendq_item **items, int n)
{
    json_t *arr = json_array();
    char *text = NULL;
    PGresult *res = NULL;
    enum db_status st;
    int rc = -1;

    for (int i = 0; i < n; i++) {
        const struct sendq_item *it = items[i];
        json_array_append_new(
            arr, json_pack("{s:i,s:I,s:I,s:I,s:s,s:o,s:o,s:o}", "idx", i, "conv",
                           (json_int_t)it->conversation_id, "sender", (json_int_t)it->sender_id,
                           "session", (json_int_t)it->session_id, "cmid", it->client_msg_id,
                           "body", it->body ? json_string(it->body) : json_null(), "reply",
                           it->reply_to > 0 ? json_integer(it->reply_to) : json_null(), "media",
                           it->media ? json_deep_copy(it->media) : json_null()));
    }
    text = json_dumps(arr, JSON_COMPACT);
    const char *p[1] = {text};
    st = db_exec_stmt(db, &res, &batch_stmt, 1, p);
    if (st != DB_OK) {
        /* "May": a connection lost during the commit leaves its outcome unknown. */
        if (st == DB_UNAVAILABLE || st == DB_RETRY)
            log_warn("send_batch_unavailable", "%d sends may not be stored: %s", n,
                     db_last_error(db));
        else
            log_error("send_batch_failed", "%d sends may not be stored: %s", n, db_last_error(db));
        fail_all(items, n, st == DB_UNAVAILABLE || st == DB_RETRY ? SEND_DB_UNAVAILABLE
                                                                  : SEND_DB_ERROR);
        goto out;
    }
    if (PQntuples(res) != n) {
        log_error("send_batch_rows", "%d rows for %d sends", PQntuples(res), n);
        fail_all(items, n, SEND_DB_ERROR);
        goto out;
    }
    for (int row = 0; row < n; row++) {
        int idx = atoi(PQgetvalue(res, row, 0));
        struct sendq_item *it;
        if (idx < 0 || idx >= n)
            continue;
        it = items[idx];
        it->result = parse_result(PQgetvalue(res, row, 1));
        it->seq = PQgetisnull(res, row, 2) ? 0 : strtoll(PQgetvalue(res, row, 2), NULL, 10);
        snprintf(it->created_at, sizeof it->created_at, "%s", PQgetvalue(res, row, 3));
    }
    rc = 0;
out:
    PQclear(res);
    free(text);
    json_decref(arr);
    return rc;
}

static void *writer_main(void *arg)
{
    struct sendq *q = arg;
    struct sendq_item **items = xcalloc((size_t)q->max_batch, sizeof *items);
    struct waiter **taken = xcalloc((size_t)q->max_batch, sizeof *taken);

    pthread_mutex_lock(&q->mu);
    for (;;) {
        int n = 0;
        while (!q->head && !q->stopping)
            pthread_cond_wait(&q->wake_cv, &q->mu);
        if (!q->head)
            break; /* stopping and drained */
        while (q->head && n < q->max_batch) {
            taken[n] = q->head;
            items[n] = q->head->item;
            q->head = q->head->next;
            n++;
        }
        if (!q->head)
            q->tail = NULL;
        pthread_mutex_unlock(&q->mu);

        sendq_run_batch(q->db, items, n);

        pthread_mutex_lock(&q->mu);
        for (int i = 0; i < n; i++) {
            taken[i]->done = 1;
            pthread_cond_signal(&taken[i]->cv);
        }
    }
    pthread_mutex_unlock(&q->mu);
    free(items);
    free(taken);
    return NULL;
}

struct sendq *sendq_new(const char *conninfo, int batching, int max_batch)
{
    struct sendq *q = xcalloc(1, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->wake_cv, NULL);
    q->batching = batching;
    q->max_batch = max_batch > 0 ? max_batch : 1;
    if (batching) {
        q->db = db_new(conninfo);
        db_connect(q->db);
        if (pthread_create(&q->tid, NULL, writer_main, q) != 0) {
            log_error("sendq", "cannot start the writer thread; sending without batching");
            q->batching = 0;
        } else {
            q->started = 1;
        }
    }
    return q;
}

void sendq_free(struct sendq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->stopping = 1;
    pthread_cond_signal(&q->wake_cv);
    pthread_mutex_unlock(&q->mu);
    if (q->started)
        pthread_join(q->tid, NULL);
    db_free(q->db);
    pthread_cond_destroy(&q->wake_cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

void sendq_send(struct sendq *q, struct db *db, struct sendq_item *item)
{
    struct waiter w = {item, 0, PTHREAD_COND_INITIALIZER, NULL};

    if (!q->batching) {
        sendq_run_batch(db, &item, 1);
        return;
    }
    pthread_mutex_lock(&q->mu);
    if (q->stopping) {
        pthread_mutex_unlock(&q->mu);
        item->result = SEND_DB_UNAVAILABLE;
    } else {
        if (q->tail)
            q->tail->next = &w;
        else
            q->head = &w;
        q->tail = &w;
        pthread_cond_signal(&q->wake_cv);
        while (!w.done)
            pthread_cond_wait(&w.cv, &q->mu);
        pthread_mutex_unlock(&q->mu);
    }
    pthread_cond_destroy(&w.cv);
}

/*
 * sendq: the batched message writer.
 *
 * PostgreSQL serialises the commits of every transaction that NOTIFYs, so one
 * message per transaction caps a cluster near 4,000 sends/s. Instead, request
 * threads hand their sends to one writer thread per process, which stores all
 * the sends waiting at that moment in one transaction (missive_send_batch: seqs,
 * events, one NOTIFY) and then wakes each request. While one batch commits the
 * next one gathers, so a busy server makes big batches and an idle one adds no
 * delay. A request is answered only after its batch has committed
 * (synchronous_commit stays on), so a 2xx means the message is durable.
 *
 * With batching off (send_batching = 0) each request thread runs the same
 * function for its one send on its own connection: the baseline for benchmarks.
 */
#ifndef MISSIVE_SENDQ_H
#define MISSIVE_SENDQ_H

#include "db.h"

#include <jansson.h>

enum sendq_result {
    SEND_CREATED = 0,
    SEND_EXISTING,   /* a retry: the message stored before is answered */
    SEND_SESSION,    /* the session ended */
    SEND_NOT_MEMBER, /* unknown conversation, or not a member of it */
    SEND_REQUEST,    /* the sender has not accepted this message request */
    SEND_BLOCKED,    /* a block between the two people of a direct conversation */
    SEND_BAD_REPLY,  /* reply_to names no message of the conversation */
    SEND_DB_UNAVAILABLE,
    SEND_DB_ERROR,
};

struct sendq_item {
    /* in (borrowed until sendq_send returns) */
    long long conversation_id;
    long long sender_id;
    long long session_id;
    long long reply_to; /* 0 = none */
    const char *client_msg_id;
    const char *body;       /* NULL for a message that is only media */
    const json_t *media;    /* array of checked media ids, or NULL */
    /* out */
    enum sendq_result result;
    long long seq;
    char created_at[32];
};

struct sendq;

/* Starts the writer thread (batching on) with its own connection to conninfo. */
struct sendq *sendq_new(const char *conninfo, int batching, int max_batch);
/* Stops the writer after the batch in flight; pending sends fail as unavailable. */
void sendq_free(struct sendq *q);

/*
 * Stores one send; blocks until its batch commits. db is the calling thread's
 * connection, used only when batching is off.
 */
void sendq_send(struct sendq *q, struct db *db, struct sendq_item *item);

/* Runs missive_send_batch for items[0..n) on db. 0, or -1 with every item's result set. */
int sendq_run_batch(struct db *db, struct sendq_item **items, int n);

#endif

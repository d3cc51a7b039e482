/*
 * h_receipts: delivered and read marks.
 *
 * POST /v1/conversations/{id}/delivered {"seq":N}   204 | 400 | 404 | 422
 * POST /v1/conversations/{id}/read      {"seq":N}   204 | 400 | 404 | 422
 *
 * Cheap on purpose: one statement records the member's newest mark in
 * pending_receipts and returns; the receipts worker applies marks and emits the
 * coalesced receipt events. A mark at or below the current one is accepted and
 * ignored; read implies delivered; a seq past the conversation's last is a 422.
 * "Delivered" is what the client says it has received (its stream, or a history
 * fetch), not what the server wrote to a socket.
 */
#include "handlers.h"

#include "access.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

/* Wake the worker at most this often per process: NOTIFY serialises commits. */
#define WAKE_EVERY_MS 50

static atomic_llong last_wake_ms;

static int should_wake(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long long now = (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
    long long last = atomic_load(&last_wake_ms);
    return now - last >= WAKE_EVERY_MS && atomic_compare_exchange_strong(&last_wake_ms, &last, now);
}

static void mark(struct req *r, int read)
{
    static const struct jsonv_field fields[] = {
        {"seq", JV_ID, 1, 0, 0, 0},
        JSONV_END,
    };
    long long conv;
    json_t *body;
    PGresult *res = NULL;
    enum db_status st;

    if (http_path_id(r, 0, "id", &conv) != 0 || !(body = http_body(r, fields)))
        return;
    long long seq = jsonv_int(body, "seq", 0);
    int wake = should_wake();
    const char *p[5] = {access_itoa(r, conv), access_itoa(r, r->user_id), access_itoa(r, seq),
                        read ? "true" : "false", wake ? "true" : "false"};
    st = db_exec(r->db, &res, "SELECT missive_mark($1, $2, $3, $4, $5)", 5, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    const char *s = PQgetvalue(res, 0, 0);
    /* Taking the wake-up turn makes this request the one that wakes the worker for
     * every mark queued in the next WAKE_EVERY_MS (those skip their NOTIFY), but
     * missive_mark notifies only when it queues something: a mark that was ignored
     * (or refused) owes the NOTIFY still, else those marks wait for the worker's
     * poll (worker_poll_interval). */
    if (wake && strcmp(s, "ok") != 0)
        db_exec(r->db, NULL, "SELECT pg_notify('missive_receipts', '')", 0, NULL);
    if (strcmp(s, "ok") == 0 || strcmp(s, "ignored") == 0)
        http_empty(r, 204);
    else if (strcmp(s, "beyond") == 0)
        http_problem(r, PROB_VALIDATION, "seq", "seq %lld is past the conversation's last message.",
                     seq);
    else
        http_problem(r, PROB_NOT_FOUND, NULL, "There is no conversation %lld that you are in.", conv);
    PQclear(res);
}

void h_receipts_delivered(struct req *r)
{
    mark(r, 0);
}

void h_receipts_read(struct req *r)
{
    mark(r, 1);
}

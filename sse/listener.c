/*
 * listener: the one LISTEN connection of this process, and live fan-out.
 *
 * A thread of its own owns a PostgreSQL connection that LISTENs on
 * missive_events, missive_sessions and missive_ephemeral. NOTIFY arrives only
 * after commit and in commit order, and event positions are commit-ordered, so
 * the listener keeps a watermark: the last pos it fanned out. Each notice
 * "FIRST:LAST" makes it read every event in (watermark, LAST] with, for each, the
 * users allowed to see it (missive_events_range), and hand them to the hub.
 *
 * Nothing is lost across a broken connection: the listener reconnects, LISTENs
 * again, and then reads from its watermark, so events committed while it was
 * away reach the streams in order, late rather than never. TCP keepalives make a
 * half-open connection show itself.
 */
#include "listener.h"

#include "db.h"
#include "log.h"
#include "xalloc.h"

#include <jansson.h>
#include <libpq-fe.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RANGE_PAGE 500

struct listener {
    struct hub *hub;
    char *conninfo;
    PGconn *conn;
    long long watermark; /* -1 until first connected */
    int stop_pipe[2];
    pthread_t tid;
    int started;
    unsigned long long delivered; /* events fanned out */
    /* Typing and presence notices waiting their turn: stored events always go
     * first, ephemeral notices a batch at a time in between. */
    char **notes;
    size_t nnotes, notes_head, notes_cap;
};

#define NOTES_PER_TURN 256

int listener_parse_range(const char *payload, long long *first, long long *last)
{
    long long v[2] = {0, 0};
    int part = 0, digits = 0;

    for (const char *p = payload; *p; p++) {
        if (*p == ':' && part == 0 && digits > 0) {
            part = 1;
            digits = 0;
        } else if (*p >= '0' && *p <= '9' && digits < 18) {
            v[part] = v[part] * 10 + (*p - '0');
            digits++;
        } else {
            return -1;
        }
    }
    if (part != 1 || digits == 0 || v[0] < 1 || v[0] > v[1])
        return -1;
    *first = v[0];
    *last = v[1];
    return 0;
}

/* Parses "{1,2,3}" into a heap array. */
size_t listener_parse_ids(const char *text, long long **out)
{
    size_t n = 0, cap = 16;
    long long *v = xmalloc(cap * sizeof *v);
    const char *p = text;

    while (*p) {
        char *end;
        if (*p < '0' || *p > '9') {
            p++;
            continue;
        }
        long long x = strtoll(p, &end, 10);
        if (n == cap) {
            cap *= 2;
            v = xrealloc(v, cap * sizeof *v);
        }
        v[n++] = x;
        p = end;
    }
    *out = v;
    return n;
}

static PGresult *query(struct listener *l, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(l->conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
        log_warn("listener_query", "%s", PQerrorMessage(l->conn));
        PQclear(r);
        return NULL;
    }
    return r;
}

/* The fan-out query runs once per NOTIFY: prepared when the listener connects,
 * since planning it cost more than running it (bench/README.md). */
#define RANGE_STMT "events_range"
#define RANGE_SQL  "SELECT pos, type, json, users FROM missive_events_range($1, $2)"

static PGresult *query_range(struct listener *l, const char *const *params)
{
    PGresult *r = PQexecPrepared(l->conn, RANGE_STMT, 2, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_warn("listener_query", "%s", PQerrorMessage(l->conn));
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Fans out every event in (watermark, upto]. -1 if the database failed. */
static int catch_up(struct listener *l, long long upto)
{
    while (l->watermark < upto) {
        char from[24], to[24];
        long long last = l->watermark + RANGE_PAGE < upto ? l->watermark + RANGE_PAGE : upto;
        const char *p[2] = {from, to};
        PGresult *r;

        snprintf(from, sizeof from, "%lld", l->watermark + 1);
        snprintf(to, sizeof to, "%lld", last);
        r = query_range(l, p);
        if (!r)
            return -1;
        for (int i = 0; i < PQntuples(r); i++) {
            long long *users = NULL;
            size_t n = PQgetisnull(r, i, 3) ? 0 : listener_parse_ids(PQgetvalue(r, i, 3), &users);
            if (n)
                hub_deliver(l->hub, strtoll(PQgetvalue(r, i, 0), NULL, 10), PQgetvalue(r, i, 1),
                            PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2), users, n);
            free(users);
            l->delivered++;
        }
        PQclear(r);
        l->watermark = last;
    }
    return 0;
}

/* Presence notices of several users: one audience query for all of them. */
static void presence_batch(struct listener *l, char **payloads, const long long *users, size_t n)
{
    char *list = xmalloc(n * 21 + 3), *o = list;
    PGresult *r;
    *o++ = '{';
    for (size_t i = 0; i < n; i++)
        o += sprintf(o, "%s%lld", i ? "," : "", users[i]);
    strcpy(o, "}");
    const char *p[1] = {list};
    r = query(l, "SELECT missive_presence_audience(u) FROM unnest($1::bigint[]) WITH ORDINALITY AS x(u, k)"
                 " ORDER BY k",
              1, p);
    for (int i = 0; r && i < PQntuples(r) && (size_t)i < n; i++) {
        long long *audience = NULL;
        size_t na = listener_parse_ids(PQgetvalue(r, i, 0), &audience);
        hub_deliver_ephemeral(l->hub, "presence", payloads[i], strlen(payloads[i]), audience, na);
        free(audience);
    }
    PQclear(r);
    free(list);
}

/* typing / presence notices: who may see them is asked of the database. */
static void ephemeral(struct listener *l, const char *payload)
{
    json_error_t err;
    json_t *j = json_loads(payload, 0, &err);
    const char *type = json_string_value(json_object_get(j, "type"));
    long long user = json_integer_value(json_object_get(j, "user_id"));
    long long conv = json_integer_value(json_object_get(j, "conversation_id"));
    char a[24], b[24];
    const char *p[2] = {a, b};
    PGresult *r = NULL;

    if (!type || user < 1)
        goto out;
    snprintf(a, sizeof a, "%lld", user);
    snprintf(b, sizeof b, "%lld", conv);
    if (strcmp(type, "typing") == 0 && conv > 0)
        r = query(l, "SELECT missive_typing_audience($2, $1)", 2, p);
    else if (strcmp(type, "presence") == 0)
        r = query(l, "SELECT missive_presence_audience($1)", 1, p);
    if (r && PQntuples(r) == 1) {
        long long *users = NULL;
        size_t n = listener_parse_ids(PQgetvalue(r, 0, 0), &users);
        hub_deliver_ephemeral(l->hub, type, payload, strlen(payload), users, n);
        free(users);
    }
out:
    PQclear(r);
    json_decref(j);
}

static int connect_and_listen(struct listener *l)
{
    const char *keys[] = {"dbname", "keepalives", "keepalives_idle", "keepalives_interval",
                          "keepalives_count", "application_name", NULL};
    const char *vals[] = {l->conninfo, "1", "10", "5", "3", "missive-sse listener", NULL};
    PGresult *r;

    if (l->conn)
        PQfinish(l->conn);
    l->conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(l->conn) != CONNECTION_OK) {
        log_warn("listener_connect", "%s", PQerrorMessage(l->conn));
        return -1;
    }
    /* Its statements are few and hot: one plan each (see db_set_generic_plans). */
    r = PQexec(l->conn, DB_GENERIC_PLANS_SQL);
    int set = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!set) {
        log_warn("listener_connect", "set: %s", PQerrorMessage(l->conn));
        return -1;
    }
    r = PQprepare(l->conn, RANGE_STMT, RANGE_SQL, 2, NULL);
    int prepared = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!prepared) {
        log_warn("listener_connect", "prepare: %s", PQerrorMessage(l->conn));
        return -1;
    }
    /* Before reading the watermark, so nothing committed in between is missed. */
    const char *chans[] = {"LISTEN missive_events", "LISTEN missive_sessions",
                           "LISTEN missive_ephemeral"};
    for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++) {
        r = PQexec(l->conn, chans[i]);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok)
            return -1;
    }
    r = query(l, "SELECT pos FROM event_counter WHERE id = 1", 0, NULL);
    if (!r)
        return -1;
    long long now = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (l->watermark < 0) {
        l->watermark = now; /* streams catch up by themselves; we start from here */
        log_info("listener_ready", "listening from pos %lld", now);
        return 0;
    }
    log_info("listener_reconnected", "catching up from pos %lld to %lld", l->watermark, now);
    return catch_up(l, now);
}

/* Takes every pending notification: fans out stored events at once, queues the rest. */
static void drain(struct listener *l)
{
    PGnotify *n;
    long long last = -1;

    while ((n = PQnotifies(l->conn)) != NULL) {
        if (strcmp(n->relname, "missive_events") == 0) {
            long long a, x;
            if (listener_parse_range(n->extra, &a, &x) != 0)
                log_warn("listener_notice", "ignoring a malformed missive_events notice");
            else if (x > last)
                last = x;
        } else if (strcmp(n->relname, "missive_sessions") == 0) {
            hub_end_session(l->hub, strtoll(n->extra, NULL, 10));
        } else if (strcmp(n->relname, "missive_ephemeral") == 0) {
            if (l->nnotes == l->notes_cap) {
                l->notes_cap = l->notes_cap ? l->notes_cap * 2 : 256;
                l->notes = xrealloc(l->notes, l->notes_cap * sizeof *l->notes);
            }
            l->notes[l->nnotes++] = xstrdup(n->extra);
        }
        PQfreemem(n);
    }
    if (last > l->watermark + 100000) {
        /* Any role may NOTIFY: a notice far ahead is checked against the counter
         * rather than followed through empty pages. */
        PGresult *r = query(l, "SELECT pos FROM event_counter WHERE id = 1", 0, NULL);
        if (r) {
            long long real = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            if (last > real)
                last = real;
            PQclear(r);
        }
    }
    if (last > l->watermark && catch_up(l, last) != 0)
        log_warn("listener_fanout", "events up to %lld wait for the next notice", last);
}

/* Handles up to NOTES_PER_TURN queued notices; presence ones in one query. */
static void notes_turn(struct listener *l)
{
    size_t end = l->notes_head + NOTES_PER_TURN < l->nnotes ? l->notes_head + NOTES_PER_TURN
                                                            : l->nnotes;
    char **pres = xcalloc(NOTES_PER_TURN, sizeof *pres);
    long long *users = xcalloc(NOTES_PER_TURN, sizeof *users);
    size_t np = 0;

    for (size_t i = l->notes_head; i < end; i++) {
        const char *note = l->notes[i];
        json_t *j = json_loads(note, 0, NULL);
        const char *type = json_string_value(json_object_get(j, "type"));
        long long u = json_integer_value(json_object_get(j, "user_id"));
        if (type && strcmp(type, "presence") == 0) {
            if (u > 0) {
                pres[np] = l->notes[i];
                users[np++] = u;
            }
        } else {
            ephemeral(l, note);
        }
        json_decref(j);
    }
    if (np)
        presence_batch(l, pres, users, np);
    for (size_t i = l->notes_head; i < end; i++)
        free(l->notes[i]);
    l->notes_head = end;
    if (l->notes_head == l->nnotes)
        l->notes_head = l->nnotes = 0;
    free(pres);
    free(users);
}

static void *run(void *arg)
{
    struct listener *l = arg;
    int backoff_ms = 100;

    for (;;) {
        struct pollfd fds[2];
        if (!l->conn || PQstatus(l->conn) != CONNECTION_OK) {
            if (connect_and_listen(l) != 0) {
                struct pollfd s = {l->stop_pipe[0], POLLIN, 0};
                if (poll(&s, 1, backoff_ms) > 0)
                    break;
                backoff_ms = backoff_ms < 2000 ? backoff_ms * 2 : 2000;
                if (l->conn) {
                    PQfinish(l->conn);
                    l->conn = NULL;
                }
                continue;
            }
            backoff_ms = 100;
        }
        fds[0] = (struct pollfd){PQsocket(l->conn), POLLIN, 0};
        fds[1] = (struct pollfd){l->stop_pipe[0], POLLIN, 0};
        /* With notices queued, only look for new input, don't wait for it. */
        if (poll(fds, 2, l->nnotes ? 0 : 1000) < 0 && errno != EINTR)
            break;
        if (fds[1].revents)
            break;
        if (!PQconsumeInput(l->conn)) {
            log_warn("listener_lost", "%s", PQerrorMessage(l->conn));
            PQfinish(l->conn);
            l->conn = NULL;
            continue;
        }
        drain(l);
        if (l->nnotes)
            notes_turn(l);
    }
    return NULL;
}

struct listener *listener_new(struct hub *hub, const char *conninfo)
{
    struct listener *l = xcalloc(1, sizeof *l);
    l->hub = hub;
    l->conninfo = xstrdup(conninfo);
    l->watermark = -1;
    if (pipe(l->stop_pipe) != 0 || pthread_create(&l->tid, NULL, run, l) != 0) {
        log_error("listener", "cannot start the listener thread");
        free(l->conninfo);
        free(l);
        return NULL;
    }
    l->started = 1;
    return l;
}

void listener_free(struct listener *l)
{
    if (!l)
        return;
    if (l->started) {
        if (write(l->stop_pipe[1], "x", 1) < 0)
            log_warn("listener", "cannot signal the listener to stop");
        pthread_join(l->tid, NULL);
    }
    close(l->stop_pipe[0]);
    close(l->stop_pipe[1]);
    if (l->conn)
        PQfinish(l->conn);
    for (size_t i = l->notes_head; i < l->nnotes; i++)
        free(l->notes[i]);
    free(l->notes);
    free(l->conninfo);
    free(l);
}

unsigned long long listener_delivered(const struct listener *l)
{
    return l->delivered;
}

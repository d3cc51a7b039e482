/*
 * h_live: the API side of live delivery.
 *
 * POST /v1/stream/tickets                 201 {ticket, expires_in}     401
 * POST /v1/conversations/{id}/typing      204 | 400 | 404 | 429
 * GET  /v1/presence?user_ids=1,2,3        200 {presence: [...]} | 400
 *
 * Tickets let a browser's EventSource, which cannot send headers, open
 * /v1/stream without a long-lived token in its URL: one connection, ~30 s.
 * Typing is a NOTIFY and nothing else: never stored, never replayed.
 */
#include "handlers.h"

#include "access.h"
#include "crypto.h"
#include "xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PRESENCE_MAX_USERS 100

void h_stream_ticket(struct req *r)
{
    char *ticket, hash[65];
    int ttl = r->app->cfg->ticket_ttl;
    enum db_status st;

    if (http_limit(r, "stream tickets", access_itoa(r, r->user_id), r->app->cfg->rate_tickets, 60) !=
        0)
        return;
    ticket = crypto_random_token(32);
    crypto_sha256_hex(ticket, strlen(ticket), hash);
    const char *p[4] = {hash, access_itoa(r, r->user_id), access_itoa(r, r->session_id),
                        access_itoa(r, ttl)};
    st = db_exec(r->db, NULL,
                 "WITH gone AS (DELETE FROM stream_tickets WHERE expires_at < now() - interval '1 hour')"
                 " INSERT INTO stream_tickets (token_hash, user_id, session_id, expires_at)"
                 " VALUES (decode($1, 'hex'), $2, $3, now() + make_interval(secs => $4::int))",
                 4, p);
    if (st != DB_OK) {
        free(ticket);
        http_db_error(r, st);
        return;
    }
    http_json(r, 201, json_pack("{s:s,s:i}", "ticket", ticket, "expires_in", ttl));
    free(ticket);
}

/*
 * Per-user typing rate limit, shared by this process's threads: a small
 * open-addressed table of (user, last notice). Collisions just overwrite, which
 * at worst lets one extra notice through.
 */
#define TYPING_SLOTS 4096
static struct {
    long long user;
    long long conv;
    time_t at;
} typing_last[TYPING_SLOTS];
static pthread_mutex_t typing_mu = PTHREAD_MUTEX_INITIALIZER;

/* 0 if the user may send a typing notice now, else seconds to wait. */
static int typing_wait(long long user, long long conv, int interval)
{
    size_t k = (size_t)((unsigned long long)user * 0x9E3779B97F4A7C15ULL >> 52) % TYPING_SLOTS;
    time_t now = time(NULL);
    int wait = 0;

    pthread_mutex_lock(&typing_mu);
    if (typing_last[k].user == user && typing_last[k].conv == conv &&
        now - typing_last[k].at < interval)
        wait = interval - (int)(now - typing_last[k].at);
    else {
        typing_last[k].user = user;
        typing_last[k].conv = conv;
        typing_last[k].at = now;
    }
    pthread_mutex_unlock(&typing_mu);
    return wait;
}

void h_typing(struct req *r)
{
    long long conv;
    struct membership m;
    int wait;
    enum db_status st;

    if (http_path_id(r, 0, "id", &conv) != 0 || access_member(r, conv, &m) != 0)
        return;
    if (strcmp(m.state, "active") != 0) {
        /* A pending request shares no typing: accepted silently, told to nobody. */
        http_empty(r, 204);
        return;
    }
    wait = typing_wait(r->user_id, conv, r->app->cfg->typing_interval);
    if (wait > 0) {
        http_header(r, "Retry-After", access_itoa(r, wait));
        http_problem(r, PROB_RATE_LIMITED, NULL,
                     "Typing notices are limited to one every %d seconds per conversation.",
                     r->app->cfg->typing_interval);
        return;
    }
    const char *payload = arena_sprintf(
        r->arena, "{\"type\":\"typing\",\"conversation_id\":%lld,\"user_id\":%lld}", conv,
        r->user_id);
    const char *p[1] = {payload};
    st = db_exec(r->db, NULL, "SELECT pg_notify('missive_ephemeral', $1)", 1, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    http_empty(r, 204);
}

void h_presence(struct req *r)
{
    int bad = 0;
    const char *ids = http_query(r, "user_ids", &bad);
    char *list, *o;
    size_t n = 0;
    PGresult *res = NULL;
    enum db_status st;

    if (bad)
        return;
    if (!ids || !*ids) {
        http_problem(r, PROB_BAD_REQUEST, "user_ids",
                     "user_ids is a comma-separated list of 1 to %d user ids.", PRESENCE_MAX_USERS);
        return;
    }
    list = o = arena_alloc(r->arena, strlen(ids) + 3);
    *o++ = '{';
    for (const char *p = ids; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char one[24];
        long long id;
        if (len == 0 || len >= sizeof one || ++n > PRESENCE_MAX_USERS) {
            http_problem(r, PROB_BAD_REQUEST, "user_ids",
                         "user_ids is a comma-separated list of 1 to %d user ids.",
                         PRESENCE_MAX_USERS);
            return;
        }
        memcpy(one, p, len);
        one[len] = '\0';
        if (http_parse_id(one, &id) != 0) {
            http_problem(r, PROB_BAD_REQUEST, "user_ids", "'%s' is not a user id.", one);
            return;
        }
        o += sprintf(o, "%s%lld", n > 1 ? "," : "", id);
        p = end ? end + 1 : p + len;
    }
    strcpy(o, "}");
    const char *p[3] = {access_itoa(r, r->user_id), list,
                        access_itoa(r, r->app->cfg->presence_timeout)};
    /* Only people who share an active conversation with the caller, and no block
     * either way, are shown; anyone else reads as offline and never seen. */
    st = db_exec(r->db, &res,
                 "WITH audience AS (SELECT unnest(missive_presence_audience($1)) AS id),"
                 " asked AS (SELECT DISTINCT x AS id FROM unnest($2::bigint[]) x)"
                 " SELECT jsonb_build_object('presence', coalesce(jsonb_agg(jsonb_build_object("
                 "   'user_id', a.id,"
                 "   'online', v.id IS NOT NULL AND missive_is_online(a.id, $3),"
                 "   'last_active_at', CASE WHEN v.id IS NOT NULL THEN missive_ts(u.last_active_at) END)"
                 "   ORDER BY a.id), '[]'::jsonb))::text"
                 " FROM asked a JOIN users u ON u.id = a.id"
                 " LEFT JOIN (SELECT id FROM audience UNION SELECT $1::bigint) v ON v.id = a.id",
                 3, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    http_text(r, 200, "application/json", PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    PQclear(res);
}

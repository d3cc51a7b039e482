/*
 * h_push: Web Push subscriptions (docs/push.md).
 *
 * GET    /v1/push/vapid-key           200 {public_key}                        401 503
 * POST   /v1/push/subscriptions       201 (new) | 200 (same endpoint again)
 *                                      {id, endpoint, created_at}  400 401 409 413 415 422 429 503
 * GET    /v1/push/subscriptions       200 {subscriptions: [{id, endpoint, created_at}]} 401 503
 * DELETE /v1/push/subscriptions/{id}  204 | 404 (not the caller's)         400 401 503
 *
 * The POST body is the browser's PushSubscription.toJSON(): {endpoint,
 * expirationTime, keys: {p256dh, auth}}. An endpoint is a URL the client chooses
 * and the worker will POST to, so it is vetted like one: https only, an origin
 * webpush_origin() accepts, and every address its host resolves to must be public
 * (lib/netguard.h) unless push_allow_private is set for tests. The worker checks
 * the address again when it connects (DNS may change in between).
 */
#include "handlers.h"

#include "access.h"
#include "crypto.h"
#include "log.h"
#include "netguard.h"
#include "vapidkey.h"
#include "webpush.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PUSH_ENDPOINT_MAX   2048 /* real endpoints are 100-500 bytes */
#define PUSH_MAX_PER_USER   20   /* the least recently registered go first */
#define PUSH_SUBSCRIBE_RATE 30   /* per user per minute (each resolves a host name) */

/* The VAPID key, loaded (or created) on first use and kept for the process. */
static pthread_mutex_t vapid_mu = PTHREAD_MUTEX_INITIALIZER;
static struct webpush_vapid *vapid;
static time_t vapid_failed_at;

static const struct webpush_vapid *vapid_get(struct req *r)
{
    const struct webpush_vapid *v;
    pthread_mutex_lock(&vapid_mu);
    if (!vapid && time(NULL) - vapid_failed_at >= 10) {
        char err[512];
        if (vapidkey_load_or_create(r->app->cfg->vapid_key_file, &vapid, NULL, err, sizeof err) !=
            0) {
            log_error("vapid_key", "%s", err);
            vapid_failed_at = time(NULL);
        }
    }
    v = vapid;
    pthread_mutex_unlock(&vapid_mu);
    return v;
}

void h_push_vapid_key(struct req *r)
{
    const struct webpush_vapid *v = vapid_get(r);
    if (!v) {
        http_header(r, "Retry-After", "10");
        http_problem(r, PROB_UNAVAILABLE, NULL, "Push notifications are not available right now.");
        return;
    }
    http_json(r, 200, json_pack("{s:s}", "public_key", webpush_vapid_public(v)));
}

static void hex_of(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The host of an origin "https://host[:port]" (IPv6 without brackets), in the arena. */
static char *origin_host(struct req *r, const char *origin)
{
    const char *h = strstr(origin, "://");
    size_t n;
    h = h ? h + 3 : origin;
    if (*h == '[') {
        h++;
        n = strcspn(h, "]");
    } else {
        n = strcspn(h, ":");
    }
    char *out = arena_alloc(r->arena, n + 1);
    memcpy(out, h, n);
    out[n] = '\0';
    return out;
}

void h_push_subscribe(struct req *r)
{
    static const struct jsonv_field fields[] = {
        {"endpoint", JV_STRING, 1, 1, PUSH_ENDPOINT_MAX, 0},
        {"keys", JV_OBJECT, 1, 0, 0, 0},
        {"expirationTime", JV_ANY, 0, 0, 0, 1},
        JSONV_END,
    };
    static const struct jsonv_field key_fields[] = {
        {"p256dh", JV_STRING, 1, 1, 200, 0},
        {"auth", JV_STRING, 1, 1, 100, 0},
        JSONV_END,
    };
    json_t *body = http_body(r, fields), *keys, *exp;
    struct jsonv_error jerr;
    const char *endpoint, *p256dh, *auth, *expires = NULL;
    char *origin = NULL, why[256], pub_hex[2 * WEBPUSH_PUBLIC_LEN + 1],
                      auth_hex[2 * WEBPUSH_AUTH_LEN + 1];
    unsigned char pub[WEBPUSH_PUBLIC_LEN], secret[WEBPUSH_AUTH_LEN];
    PGresult *res = NULL;
    enum db_status st;

    if (!body)
        return;
    keys = json_object_get(body, "keys");
    if (jsonv_check(keys, key_fields, &jerr) != 0) {
        http_problem(r, PROB_BAD_REQUEST,
                     arena_sprintf(r->arena, "keys%s%s", jerr.field[0] ? "." : "", jerr.field),
                     "keys: %s", jerr.detail);
        return;
    }
    endpoint = jsonv_str(body, "endpoint", "");
    p256dh = jsonv_str(keys, "p256dh", "");
    auth = jsonv_str(keys, "auth", "");

    exp = json_object_get(body, "expirationTime");
    if (exp && !json_is_null(exp)) {
        double ms = json_number_value(exp), now_ms = (double)time(NULL) * 1000.0;
        if (!json_is_number(exp) || !isfinite(ms) || ms <= now_ms ||
            ms > now_ms + 10.0 * 365 * 86400 * 1000) {
            http_problem(r, PROB_VALIDATION, "expirationTime",
                         "expirationTime is null or a time in the future, in milliseconds since "
                         "1970 (as PushSubscription.toJSON() gives it).");
            return;
        }
        expires = arena_sprintf(r->arena, "%.0f", ms);
    }

    if (webpush_origin(endpoint, 0, &origin) != 0) {
        http_problem(r, PROB_VALIDATION, "endpoint",
                     "endpoint must be an https:// URL of a push service.");
        return;
    }
    /* Which key is wrong, for the field name. */
    size_t alen = 0;
    unsigned char *araw = crypto_b64url_decode(auth, &alen);
    int auth_ok = araw && alen == WEBPUSH_AUTH_LEN;
    free(araw);
    if (!auth_ok) {
        free(origin);
        http_problem(r, PROB_VALIDATION, "keys.auth",
                     "keys.auth must be the subscription's 16-byte auth secret, base64url.");
        return;
    }
    if (webpush_decode_keys(p256dh, auth, pub, secret) != 0) {
        free(origin);
        http_problem(r, PROB_VALIDATION, "keys.p256dh",
                     "keys.p256dh must be the subscription's P-256 public key (65 bytes, "
                     "uncompressed), base64url.");
        return;
    }
    if (http_limit(r, "push subscriptions", access_itoa(r, r->user_id), PUSH_SUBSCRIBE_RATE, 60) !=
        0) {
        free(origin);
        return;
    }
    /* SSRF: the worker must never be made to POST into our own network. */
    if (netguard_check_host(origin_host(r, origin), r->app->cfg->push_allow_private, why,
                            sizeof why) != 0) {
        log_info("push_endpoint_refused", "user %lld: %s", r->user_id, why);
        free(origin);
        http_problem(r, PROB_VALIDATION, "endpoint",
                     "The endpoint's host must resolve, and only to public addresses: %s.", why);
        return;
    }
    free(origin);

    hex_of(pub, sizeof pub, pub_hex);
    hex_of(secret, sizeof secret, auth_hex);
    const char *p[7] = {access_itoa(r, r->user_id), access_itoa(r, r->session_id), endpoint,
                        pub_hex, auth_hex, expires, access_itoa(r, PUSH_MAX_PER_USER)};
    st = db_exec(r->db, &res,
                 "SELECT status, sub_id, created FROM missive_push_subscribe($1, $2, $3,"
                 " decode($4, 'hex'), decode($5, 'hex'), to_timestamp($6::float8 / 1000), $7)",
                 7, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    const char *status = PQgetvalue(res, 0, 0);
    if (strcmp(status, "conflict") == 0) {
        PQclear(res);
        http_problem(r, PROB_CONFLICT, "endpoint",
                     "Another registration of this endpoint happened at the same time; try again.");
        return;
    }
    json_t *o = json_pack("{s:I,s:s,s:s}", "id", (json_int_t)strtoll(PQgetvalue(res, 0, 1), NULL, 10),
                          "endpoint", endpoint, "created_at", PQgetvalue(res, 0, 2));
    int code = strcmp(status, "created") == 0 ? 201 : 200;
    PQclear(res);
    http_json(r, code, o);
}

void h_push_list(struct req *r)
{
    PGresult *res = NULL;
    const char *p[1] = {access_itoa(r, r->user_id)};
    enum db_status st = db_exec(
        r->db, &res,
        "SELECT jsonb_build_object('subscriptions', coalesce(jsonb_agg(jsonb_build_object("
        "  'id', s.id, 'endpoint', s.endpoint, 'created_at', missive_ts(s.created_at))"
        "  ORDER BY s.id), '[]'::jsonb))::text"
        " FROM push_subscriptions s WHERE s.user_id = $1",
        1, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    http_text(r, 200, "application/json", PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    PQclear(res);
}

void h_push_delete(struct req *r)
{
    long long id;
    PGresult *res = NULL;

    if (http_path_id(r, 0, "id", &id) != 0)
        return;
    const char *p[2] = {access_itoa(r, id), access_itoa(r, r->user_id)};
    enum db_status st = db_exec(
        r->db, &res, "DELETE FROM push_subscriptions WHERE id = $1 AND user_id = $2 RETURNING 1",
        2, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    int n = PQntuples(res);
    PQclear(res);
    if (n == 0) {
        http_problem(r, PROB_NOT_FOUND, NULL, "You have no push subscription %lld.", id);
        return;
    }
    http_empty(r, 204);
}

/*
 * h_sessions: sign-in, token refresh, sign-out.
 *
 * POST /v1/sessions {username, password}   201 Session  400  401  413  415  503
 * POST /v1/sessions/refresh {refresh_token} 200 Session  400  401  503
 * DELETE /v1/sessions/current               204  401  503
 *
 * A session is one device's sign-in. Refresh tokens are opaque random strings
 * stored only as SHA-256; each refresh spends one and issues the next. A token
 * spent twice means it leaked: the whole session (the token family) is revoked,
 * which also ends its access tokens at once (auth.c checks the session).
 */
#include "handlers.h"

#include "crypto.h"
#include "log.h"
#include "password.h"
#include "token.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REFRESH_TOKEN_BYTES 32

/* A new refresh token (heap) and its SHA-256 as hex into hash_hex. */
static char *new_refresh_token(char hash_hex[65])
{
    char *t = crypto_random_token(REFRESH_TOKEN_BYTES);
    crypto_sha256_hex(t, strlen(t), hash_hex);
    return t;
}

/* Answers status with a Session built from the user row (H_USER_COLUMNS) and ids. */
static void answer_session(struct req *r, int status, const PGresult *user, long long sid,
                           const char *refresh)
{
    long long uid = strtoll(PQgetvalue(user, 0, 0), NULL, 10);
    int ttl = r->app->cfg->access_ttl;
    char jti[33];
    crypto_random_hex16(jti); /* two tokens issued in the same second still differ */
    char *access = token_issue(r->app->token_key, r->app->token_keylen, "access", uid, sid, jti,
                               time(NULL), ttl);
    if (!access) {
        http_problem(r, PROB_INTERNAL, NULL, "The access token could not be issued.");
        return;
    }
    json_t *o = json_pack("{s:s,s:s,s:i,s:s,s:I,s:o}", "access_token", access, "token_type",
                          "Bearer", "expires_in", ttl, "refresh_token", refresh, "session_id",
                          (json_int_t)sid, "user", h_user_json(user, 0, 1));
    free(access);
    http_json(r, status, o);
}

static void unauthorized_login(struct req *r)
{
    /* The same words for an unknown user and a wrong password. */
    http_problem(r, PROB_UNAUTHORIZED, NULL, "The username or password is not correct.");
}

void h_sessions_create(struct req *r)
{
    static const struct jsonv_field fields[] = {
        {"username", JV_STRING, 1, 0, 0, 0},
        {"password", JV_STRING, 1, 0, 0, 0},
        JSONV_END,
    };
    json_t *body = http_body(r, fields);
    const char *username, *password;
    PGresult *user = NULL, *ins = NULL;
    char *refresh = NULL, hash[65], ttl[24], uid[24];
    enum db_status st;

    if (!body)
        return;
    username = jsonv_str(body, "username", "");
    password = jsonv_str(body, "password", "");
    /* Before any password work: brute force costs the attacker, not our CPU. */
    if (http_limit(r, "sign-in attempts from this address", r->remote_addr ? r->remote_addr : "-",
                   r->app->cfg->rate_login_ip, 60) != 0 ||
        http_limit(r, "sign-in attempts for this username", username, r->app->cfg->rate_login_user,
                   60) != 0)
        goto out;
    if (strlen(password) > PASSWORD_MAX_BYTES || strlen(username) > 64) {
        unauthorized_login(r);
        goto out;
    }
    const char *p1[1] = {username};
    st = db_exec(r->db, &user,
                 "SELECT " H_USER_COLUMNS ", password_hash FROM users WHERE username = $1", 1, p1);
    if (st != DB_OK) {
        http_db_error(r, st);
        goto out;
    }
    if (PQntuples(user) == 0) {
        password_verify_dummy(&r->app->pw, password);
        unauthorized_login(r);
        goto out;
    }
    if (!password_verify(PQgetvalue(user, 0, H_USER_NCOLUMNS), password)) {
        log_info("login_failed", "wrong password for user %s", PQgetvalue(user, 0, 0));
        unauthorized_login(r);
        goto out;
    }

    refresh = new_refresh_token(hash);
    snprintf(ttl, sizeof ttl, "%d", r->app->cfg->refresh_ttl);
    snprintf(uid, sizeof uid, "%s", PQgetvalue(user, 0, 0));
    const char *p2[4] = {uid, ttl, r->user_agent ? r->user_agent : "", hash};
    st = db_exec(r->db, &ins,
                 "WITH s AS (INSERT INTO sessions (user_id, expires_at, user_agent)"
                 "  VALUES ($1, now() + make_interval(secs => $2::int), left($3, 256))"
                 "  RETURNING id)"
                 " INSERT INTO refresh_tokens (token_hash, session_id)"
                 " SELECT decode($4, 'hex'), id FROM s RETURNING session_id",
                 4, p2);
    if (st != DB_OK) {
        http_db_error(r, st);
        goto out;
    }
    answer_session(r, 201, user, strtoll(PQgetvalue(ins, 0, 0), NULL, 10), refresh);
out:
    PQclear(user);
    PQclear(ins);
    free(refresh);
}

/* A refresh token that was already spent: revoke its whole family. */
static void revoke_on_reuse(struct req *r, const char *old_hash)
{
    const char *p[1] = {old_hash};
    PGresult *res = NULL;
    if (db_exec(r->db, &res,
                "UPDATE sessions SET revoked_at = now(), revoke_reason = 'refresh_token_reuse'"
                " WHERE revoked_at IS NULL AND id = (SELECT session_id FROM refresh_tokens"
                "  WHERE token_hash = decode($1, 'hex') AND used_at IS NOT NULL)"
                " RETURNING id, user_id",
                1, p) == DB_OK &&
        PQntuples(res) == 1)
        log_warn("refresh_token_reuse", "refresh token reused: revoked session %s of user %s",
                 PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    PQclear(res);
}

void h_sessions_refresh(struct req *r)
{
    static const struct jsonv_field fields[] = {
        {"refresh_token", JV_STRING, 1, 0, 0, 0},
        JSONV_END,
    };
    json_t *body = http_body(r, fields);
    const char *old;
    char old_hash[65], new_hash[65], ttl[24];
    char *refresh = NULL;
    PGresult *res = NULL;
    enum db_status st;

    if (!body)
        return;
    old = jsonv_str(body, "refresh_token", "");
    if (strlen(old) > 256) {
        http_problem(r, PROB_UNAUTHORIZED, NULL, "The refresh token is not valid.");
        return;
    }
    crypto_sha256_hex(old, strlen(old), old_hash);
    refresh = new_refresh_token(new_hash);
    snprintf(ttl, sizeof ttl, "%d", r->app->cfg->refresh_ttl);
    const char *p[3] = {old_hash, new_hash, ttl};
    /* One statement: spend the old token (only if unspent and its session live),
     * issue the next one and slide the session's expiry, all or nothing. */
    st = db_exec(r->db, &res,
                 "WITH spent AS ("
                 "  UPDATE refresh_tokens t SET used_at = now() FROM sessions s"
                 "  WHERE t.token_hash = decode($1, 'hex') AND t.used_at IS NULL"
                 "    AND s.id = t.session_id AND s.revoked_at IS NULL AND s.expires_at > now()"
                 "  RETURNING t.session_id, s.user_id),"
                 " issued AS (INSERT INTO refresh_tokens (token_hash, session_id)"
                 "  SELECT decode($2, 'hex'), session_id FROM spent),"
                 " touched AS (UPDATE sessions SET last_used_at = now(),"
                 "  expires_at = now() + make_interval(secs => $3::int)"
                 "  WHERE id IN (SELECT session_id FROM spent))"
                 " SELECT u.id, u.username, u.display_name, "
                 SQL_TS("u.created_at") ", u.dm_policy, u.send_read_receipts, u.push_previews,"
                 " spent.session_id"
                 " FROM spent JOIN users u ON u.id = spent.user_id",
                 3, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        goto out;
    }
    if (PQntuples(res) == 0) {
        revoke_on_reuse(r, old_hash);
        http_problem(r, PROB_UNAUTHORIZED, NULL,
                     "The refresh token is not valid, was already used, or its session ended.");
        goto out;
    }
    answer_session(r, 200, res, strtoll(PQgetvalue(res, 0, H_USER_NCOLUMNS), NULL, 10), refresh);
out:
    PQclear(res);
    free(refresh);
}

void h_sessions_delete_current(struct req *r)
{
    char sid[24];
    const char *p[1] = {sid};
    enum db_status st;

    snprintf(sid, sizeof sid, "%lld", r->session_id);
    /* Signing out also ends the push subscriptions made in this session. */
    st = db_exec(r->db, NULL,
                 "WITH unsubscribed AS (DELETE FROM push_subscriptions WHERE session_id = $1)"
                 " UPDATE sessions SET revoked_at = now(), revoke_reason = 'logout'"
                 " WHERE id = $1 AND revoked_at IS NULL",
                 1, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    http_empty(r, 204);
}

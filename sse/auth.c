/*
 * auth: ticket and bearer checks for missive-sse (auth.h). Thread-safe: all
 * state is the caller's database connection.
 */
#include "auth.h"

#include "crypto.h"
#include "token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct db_stmt session_stmt = {
    "session_live", "SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2"
                    " AND revoked_at IS NULL AND expires_at > now()"};

static enum auth_result by_ticket(struct db *db, const char *ticket, struct auth_who *who)
{
    char hash[65];
    const char *p[1] = {hash};
    PGresult *res = NULL;
    enum auth_result rc = AUTH_INVALID;

    if (strlen(ticket) > 128)
        return AUTH_INVALID;
    crypto_sha256_hex(ticket, strlen(ticket), hash);
    if (db_exec(db, &res, "SELECT user_id, session_id FROM missive_use_ticket($1)", 1, p) != DB_OK)
        return AUTH_UNAVAILABLE;
    if (PQntuples(res) == 1) {
        who->user = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        who->session = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        rc = AUTH_OK;
    }
    PQclear(res);
    return rc;
}

static enum auth_result by_token(struct db *db, const unsigned char *key, size_t keylen,
                                 const char *bearer, struct auth_who *who)
{
    struct token_claims c;
    char sid[24], uid[24];
    const char *p[2] = {sid, uid};
    PGresult *res = NULL;
    enum auth_result rc = AUTH_INVALID;

    if (token_verify(key, keylen, "access", bearer, time(NULL), &c) != TOKEN_OK)
        return AUTH_INVALID;
    snprintf(sid, sizeof sid, "%lld", c.sid);
    snprintf(uid, sizeof uid, "%lld", c.sub);
    if (db_exec_stmt(db, &res, &session_stmt, 2, p) != DB_OK)
        return AUTH_UNAVAILABLE;
    if (PQntuples(res) == 1) {
        who->user = c.sub;
        who->session = c.sid;
        rc = AUTH_OK;
    }
    PQclear(res);
    return rc;
}

enum auth_result auth_check(struct db *db, const unsigned char *key, size_t keylen,
                            const char *ticket, const char *bearer, struct auth_who *who)
{
    if (ticket && *ticket)
        return by_ticket(db, ticket, who);
    if (bearer && *bearer)
        return by_token(db, key, keylen, bearer, who);
    return AUTH_MISSING;
}

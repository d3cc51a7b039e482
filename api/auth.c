/*
 * auth: bearer-token authentication for routes marked ROUTE_USER / ROUTE_TOKEN.
 */
#include "auth.h"

#include "token.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* 1 if the session is live and belongs to the user, 0 if not, -1 after answering 503. */
static int session_live(struct req *r, const struct token_claims *c)
{
    char sid[24], uid[24];
    const char *p[2] = {sid, uid};
    PGresult *res = NULL;
    enum db_status st;
    int live;

    snprintf(sid, sizeof sid, "%lld", c->sid);
    snprintf(uid, sizeof uid, "%lld", c->sub);
    st = db_exec(r->db, &res,
                 "SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2"
                 " AND revoked_at IS NULL AND expires_at > now()",
                 2, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return -1;
    }
    live = PQntuples(res) == 1;
    PQclear(res);
    return live;
}

int auth_require_user(struct req *r, int check_session)
{
    const char *h = r->authorization;
    struct token_claims c;

    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
        http_problem(r, PROB_UNAUTHORIZED, NULL,
                     "This endpoint needs an access token: Authorization: Bearer <token>.");
        return -1;
    }
    switch (token_verify(r->app->token_key, r->app->token_keylen, "access", h + 7, time(NULL),
                         &c)) {
    case TOKEN_OK:
        break;
    case TOKEN_EXPIRED:
        http_problem(r, PROB_UNAUTHORIZED, NULL,
                     "The access token has expired; refresh the session.");
        return -1;
    default:
        http_problem(r, PROB_UNAUTHORIZED, NULL, "The access token is not valid.");
        return -1;
    }
    if (check_session) {
        int live = session_live(r, &c);
        if (live < 0)
            return -1;
        if (!live) {
            http_problem(r, PROB_UNAUTHORIZED, NULL, "The session has ended; sign in again.");
            return -1;
        }
    }
    r->user_id = c.sub;
    r->session_id = c.sid;
    return 0;
}

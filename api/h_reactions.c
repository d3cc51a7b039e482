/*
 * h_reactions: one reaction of each emoji per user per message.
 *
 * PUT    /v1/conversations/{id}/messages/{seq}/reactions/{emoji}   204 | 400 | 404 | 422
 * DELETE /v1/conversations/{id}/messages/{seq}/reactions/{emoji}   204 | 400 | 404
 *
 * Both are idempotent: repeating them changes nothing and emits no event.
 */
#include "handlers.h"

#include "access.h"

#include <string.h>

/* One emoji: 1..8 code points of valid UTF-8, none of them ASCII (no text as reactions). */
static int valid_emoji(const char *s)
{
    long long n = utf8_length(s, strlen(s));
    if (n < 1 || n > 8 || strlen(s) > 64)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x80)
            return 0;
    return 1;
}

static void react(struct req *r, int add)
{
    long long conv, seq;
    const char *emoji = r->nparams > 2 ? r->params[2] : "";
    PGresult *res = NULL;
    enum db_status st;

    if (http_path_id(r, 0, "id", &conv) != 0 || http_path_id(r, 1, "seq", &seq) != 0)
        return;
    if (!valid_emoji(emoji)) {
        http_problem(r, PROB_VALIDATION, "emoji",
                     "A reaction is one emoji (percent-encoded UTF-8 in the path).");
        return;
    }
    const char *p[5] = {access_itoa(r, conv), access_itoa(r, r->user_id), access_itoa(r, seq), emoji,
                        add ? "true" : "false"};
    st = db_exec(r->db, &res, "SELECT missive_react($1, $2, $3, $4, $5)", 5, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    const char *s = PQgetvalue(res, 0, 0);
    if (strcmp(s, "ok") == 0 || strcmp(s, "unchanged") == 0)
        http_empty(r, 204);
    else if (strcmp(s, "no_message") == 0)
        http_problem(r, PROB_NOT_FOUND, "seq", "There is no message %lld here.", seq);
    else
        http_problem(r, PROB_NOT_FOUND, NULL, "There is no conversation %lld that you are in.", conv);
    PQclear(res);
}

void h_reactions_put(struct req *r)
{
    react(r, 1);
}

void h_reactions_delete(struct req *r)
{
    react(r, 0);
}

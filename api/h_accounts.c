/*
 * h_accounts: sign-up.
 *
 * POST /v1/accounts {username, password, display_name?}
 *   201 User (+ Location)  400 malformed  409 username taken  413  415
 *   422 a value breaks a rule (field names it)  503 database unavailable
 */
#include "handlers.h"

#include "password.h"
#include "validate.h"

#include <stdlib.h>
#include <string.h>

static int valid_username(const char *u)
{
    size_t n = strlen(u);
    if (n < 3 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = u[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

void h_accounts_create(struct req *r)
{
    static const struct jsonv_field fields[] = {
        {"username", JV_STRING, 1, 0, 0, 0},
        {"password", JV_STRING, 1, 0, 0, 0},
        {"display_name", JV_STRING, 0, 0, 0, 1},
        JSONV_END,
    };
    json_t *body = http_body(r, fields);
    const char *username, *password, *display;
    char *hash = NULL;
    PGresult *res = NULL;
    enum db_status st;
    size_t pwlen;

    if (!body)
        return;
    if (http_limit(r, "accounts created from this address", r->remote_addr ? r->remote_addr : "-",
                   r->app->cfg->rate_signup_ip, 3600) != 0)
        return;
    username = jsonv_str(body, "username", "");
    password = jsonv_str(body, "password", "");
    display = jsonv_str(body, "display_name", username);
    pwlen = strlen(password);

    if (!valid_username(username)) {
        http_problem(r, PROB_VALIDATION, "username",
                     "A username is 3 to 32 characters of a-z, 0-9, '_' and '.'.");
        return;
    }
    if (pwlen < 8 || pwlen > PASSWORD_MAX_BYTES) {
        http_problem(r, PROB_VALIDATION, "password", "A password is 8 to %d bytes long.",
                     PASSWORD_MAX_BYTES);
        return;
    }
    if (!validate_display_name(display)) {
        http_problem(r, PROB_VALIDATION, "display_name",
                     "A display name is 1 to 64 characters with no control characters.");
        return;
    }
    hash = password_hash(&r->app->pw, password);
    if (!hash) {
        http_problem(r, PROB_INTERNAL, NULL, "The password could not be hashed.");
        return;
    }
    const char *p[3] = {username, display, hash};
    st = db_exec(r->db, &res,
                 "INSERT INTO users (username, display_name, password_hash) VALUES ($1, $2, $3)"
                 " RETURNING " H_USER_COLUMNS,
                 3, p);
    free(hash);
    if (st == DB_CONFLICT) {
        http_problem(r, PROB_CONFLICT, "username", "The username '%s' is taken.", username);
        return;
    }
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    http_header(r, "Location", arena_sprintf(r->arena, "/v1/users/%s", PQgetvalue(res, 0, 0)));
    http_json(r, 201, h_user_json(res, 0, 1));
    PQclear(res);
}

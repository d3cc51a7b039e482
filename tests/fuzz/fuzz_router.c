/*
 * fuzz_router: request lines through api/router.c and the query getters of api/http.c.
 *
 * Input: "METHOD PATH[?QUERY]" (the first space splits method from URI; no space means
 * GET). The URI is split at the first '?' the way api/server.c does it. The path is
 * matched against the real routes[] table (api/routes.c); no handler is called. Then the
 * query goes through every http_query / http_query_int the handlers use, and the path
 * and query through http_pct_decode directly.
 *
 * Properties checked besides memory safety:
 *  - a match names a route whose method equals the request's, with one non-NULL,
 *    NUL-free parameter per {name} in its pattern;
 *  - a 405 answer lists only methods of routes, never the request's own;
 *  - http_pct_decode never grows its input and decodes what it must;
 *  - http_query_int answers a value within its bounds, or -1 after a 400.
 */
#include "arena.h"
#include "config.h"
#include "http.h"
#include "router.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_check(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static struct config cfg;
static struct app app;

static int count_params(const char *pattern)
{
    int n = 0;
    for (const char *p = pattern; *p; p++)
        n += *p == '{';
    return n;
}

static void check_decode(struct arena *a, const char *s, size_t n, int plus)
{
    char *out = http_pct_decode(a, s, n, plus);
    int must_fail = 0;
    size_t expect = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            /* Reference: '%' then two hex digits, and not %00 (an embedded NUL). */
            if (i + 2 >= n || !strchr("0123456789abcdefABCDEF", s[i + 1]) || !s[i + 1] ||
                !strchr("0123456789abcdefABCDEF", s[i + 2]) || !s[i + 2] ||
                (s[i + 1] == '0' && s[i + 2] == '0')) {
                must_fail = 1;
                break;
            }
            i += 2;
        }
        expect++;
    }
    if (must_fail) {
        fuzz_check(out == NULL);
        return;
    }
    fuzz_check(out != NULL);
    fuzz_check(strlen(out) == expect);
    fuzz_check(expect <= n);
}

static const char *const str_params[] = {"cd", "cursor", "exp", "filter",   "k",      "m",
                                         "n",  "q",      "sig", "user_ids", "variant"};
static const struct {
    const char *name;
    long long min, max, def;
} int_params[] = {
    {"after", 0, 0x7fffffffffffffffLL, -1},
    {"before", 1, 0x7fffffffffffffffLL, 0},
    {"cursor", 0, 0x7fffffffffffffffLL, 0},
    {"limit", 1, 100, 20},
    {"limit", 1, 1000, 100},
    {"limit", 1, 200, 50},
    {"timeout", 0, 60, 0},
};

static void reset_req(struct req *r, struct arena *a, const char *method, const char *path,
                      const char *query)
{
    memset(r, 0, sizeof *r);
    r->arena = a;
    r->app = &app;
    r->method = method;
    r->path = path;
    r->query = query;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        config_defaults(&cfg);
        app.cfg = &cfg;
        inited = 1;
    }

    /* A C string, as FastCGI parameters are. */
    char *line = malloc(size + 1);
    memcpy(line, data, size);
    line[size] = '\0';

    const char *method = "GET", *uri = line;
    char *sp = strchr(line, ' ');
    if (sp) {
        *sp = '\0';
        method = line;
        uri = sp + 1;
    }

    struct arena *a = arena_new();
    struct req r;
    char allow[64]; /* api/server.c's size */

    char *q = strchr(uri, '?');
    const char *path = q ? arena_strndup(a, uri, (size_t)(q - uri)) : uri;
    const char *query = q ? q + 1 : "";

    reset_req(&r, a, method, path, query);
    enum router_result rr = router_match(routes, routes_count, &r, allow, sizeof allow);
    switch (rr) {
    case ROUTER_MATCH:
        fuzz_check(r.route != NULL && r.route >= routes && r.route < routes + routes_count);
        fuzz_check(strcmp(r.route->method, method) == 0);
        fuzz_check(router_index(r.route) < routes_count);
        fuzz_check(r.nparams == count_params(r.route->pattern));
        for (int i = 0; i < r.nparams; i++) {
            long long id;
            fuzz_check(r.params[i] != NULL);
            /* What the handlers do with them: ids, or an emoji that is validated. */
            if (http_path_id(&r, i, "id", &id) == 0)
                fuzz_check(id >= 1);
        }
        break;
    case ROUTER_METHOD:
        fuzz_check(allow[0] != '\0');
        fuzz_check(strlen(allow) < sizeof allow);
        /* The request's own method cannot be among the allowed ones. */
        for (char *tok = allow; *tok;) {
            size_t n = strcspn(tok, ",");
            fuzz_check(!(n == strlen(method) && strncmp(tok, method, n) == 0));
            tok += n;
            while (*tok == ',' || *tok == ' ')
                tok++;
        }
        /* As server_dispatch answers it. */
        http_header(&r, "Allow", allow);
        http_problem(&r, PROB_METHOD, NULL, "%s is not allowed here; allowed: %s.", r.method,
                     allow);
        fuzz_check(r.status == 405 && r.resp_body != NULL);
        break;
    case ROUTER_NOT_FOUND:
        /* allow may hold methods here: a route under another method matched the path
         * before this method's route failed to decode a parameter. server_dispatch
         * ignores allow on a 404. */
        fuzz_check(strlen(allow) < sizeof allow);
        http_problem(&r, PROB_NOT_FOUND, NULL, "There is no resource at %s.", "this path");
        fuzz_check(r.status == 404 && r.resp_body != NULL);
        break;
    }

    /* Query getters, each on a fresh request as a handler would see it. */
    for (size_t i = 0; i < sizeof str_params / sizeof str_params[0]; i++) {
        int bad = -1;
        reset_req(&r, a, method, path, query);
        const char *v = http_query(&r, str_params[i], &bad);
        fuzz_check(bad == 0 || bad == 1);
        if (bad)
            fuzz_check(v == NULL && r.status == 400);
        else if (v)
            fuzz_check(strlen(v) <= strlen(query));
    }
    for (size_t i = 0; i < sizeof int_params / sizeof int_params[0]; i++) {
        long long out = 0x5a5a5a5a;
        reset_req(&r, a, method, path, query);
        int rc = http_query_int(&r, int_params[i].name, int_params[i].min, int_params[i].max,
                                int_params[i].def, &out);
        if (rc == 0)
            fuzz_check(out == int_params[i].def ||
                       (out >= int_params[i].min && out <= int_params[i].max));
        else
            fuzz_check(rc == -1 && r.status == 400);
    }

    check_decode(a, path, strlen(path), 0);
    check_decode(a, query, strlen(query), 1);

    arena_free(a);
    free(line);
    return 0;
}

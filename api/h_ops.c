/*
 * h_ops: operations endpoints.
 *
 * GET /healthz  200 {"status":"ok","checks":{"database":"ok"}} | 503 when the database is down
 * GET /metrics  200 Prometheus text (nginx lets only loopback reach it)
 */
#include "handlers.h"

#include "metrics.h"
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void h_ops_healthz(struct req *r)
{
    enum db_status st = db_exec(r->db, NULL, "SELECT 1", 0, NULL);
    const char *db = st == DB_OK ? "ok" : "unavailable";
    http_json(r, st == DB_OK ? 200 : 503,
              json_pack("{s:s,s:{s:s}}", "status", st == DB_OK ? "ok" : "unavailable", "checks",
                        "database", db));
}

static const char *route_name(size_t i)
{
    return routes[i].pattern;
}

/* The push worker's figures live in the database (missive_push_metrics): any
 * API process can render them, whichever worker did the work. */
static char *push_metrics(struct req *r)
{
    PGresult *res = NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f;
    const char *last = "";

    if (db_exec(r->db, &res, "SELECT name, labels, value, type, help FROM missive_push_metrics()"
                             " ORDER BY name, labels", 0, NULL) != DB_OK)
        return NULL;
    f = open_memstream(&buf, &len);
    for (int i = 0; f && i < PQntuples(res); i++) {
        const char *name = PQgetvalue(res, i, 0), *labels = PQgetvalue(res, i, 1);
        if (strcmp(name, last) != 0) {
            fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, PQgetvalue(res, i, 4), name,
                    PQgetvalue(res, i, 3));
            last = name;
        }
        fprintf(f, "%s%s%s%s %s\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
                PQgetvalue(res, i, 2));
    }
    if (f)
        fclose(f);
    PQclear(res);
    return buf;
}

void h_ops_metrics(struct req *r)
{
    char *text = metrics_render(r->app->metrics, route_name);
    char *push = push_metrics(r);
    char *all = arena_sprintf(r->arena, "%s%s", text, push ? push : "");
    http_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", all, strlen(all));
    free(push);
    free(text);
}

/*
 * h_ops: operations endpoints.
 *
 * GET /healthz  200 {"status":"ok","checks":{"database":"ok"}} | 503 when the database is down
 * GET /metrics  200 Prometheus text (nginx lets only loopback reach it)
 */
#include "handlers.h"

#include "metrics.h"
#include "router.h"

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

void h_ops_metrics(struct req *r)
{
    char *text = metrics_render(r->app->metrics, route_name);
    http_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
    free(text);
}

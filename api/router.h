/*
 * router: the route table and its matcher.
 *
 * Routes are data (routes.c): method, path pattern, handler, whether a signed-in
 * user is required. Patterns are literal segments and {name} segments, which match
 * one non-empty segment and are handed to the handler percent-decoded. A path that
 * matches some pattern under another method is a 405 with an Allow list; a path
 * that matches none is a 404.
 */
#ifndef MISSIVE_ROUTER_H
#define MISSIVE_ROUTER_H

#include "http.h"

#include <stddef.h>

/*
 * ROUTE_USER: a valid access token whose session is live (one query).
 * ROUTE_TOKEN: a valid access token; the handler's own SQL checks the session.
 */
enum route_auth { ROUTE_PUBLIC = 0, ROUTE_USER, ROUTE_TOKEN };

struct route {
    const char *method;
    const char *pattern; /* "/v1/users/{id}" */
    void (*handler)(struct req *r);
    enum route_auth auth;
};

extern const struct route routes[];
extern const size_t routes_count;

enum router_result { ROUTER_MATCH = 0, ROUTER_NOT_FOUND, ROUTER_METHOD };

/*
 * Matches method + path against table[0..n). On ROUTER_MATCH fills r->route and
 * r->params. On ROUTER_METHOD writes the allowed methods ("GET, PATCH") into allow.
 * Path parameters that fail to decode make the path not match.
 */
enum router_result router_match(const struct route *table, size_t n, struct req *r,
                                 char *allow, size_t allowlen);

/* Index of a route in routes[], for metrics; routes_count for "no route". */
size_t router_index(const struct route *rt);

#endif

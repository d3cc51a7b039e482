/*
 * router: matches a request against the route table (see router.h).
 * Pure function of the table and the request; thread-safe.
 */
#include "router.h"

#include <string.h>

/* Next segment of a path or pattern: [*p, end), advancing *p past it and its '/'. */
static int next_segment(const char **p, const char **seg, size_t *len)
{
    const char *s = *p, *e;
    if (*s != '/')
        return 0;
    s++;
    e = strchr(s, '/');
    if (!e)
        e = s + strlen(s);
    *seg = s;
    *len = (size_t)(e - s);
    *p = e;
    return 1;
}

/* 1 if path matches pattern; fills params (percent-decoded) when r is not NULL. */
static int match_pattern(const char *pattern, const char *path, struct req *r)
{
    const char *pp = pattern, *sp = path, *pseg, *sseg;
    size_t plen, slen;
    int np = 0;

    for (;;) {
        int more_p = next_segment(&pp, &pseg, &plen);
        int more_s = next_segment(&sp, &sseg, &slen);
        if (!more_p || !more_s) {
            if (more_p || more_s || *sp != '\0')
                return 0;
            if (r)
                r->nparams = np;
            return 1;
        }
        if (plen >= 2 && pseg[0] == '{' && pseg[plen - 1] == '}') {
            if (slen == 0 || np >= HTTP_MAX_PARAMS)
                return 0;
            if (r) {
                const char *v = http_pct_decode(r->arena, sseg, slen, 0);
                if (!v)
                    return 0;
                r->params[np] = v;
            }
            np++;
        } else if (plen != slen || memcmp(pseg, sseg, plen) != 0) {
            return 0;
        }
    }
}

enum router_result router_match(const struct route *table, size_t n, struct req *r,
                                 char *allow, size_t allowlen)
{
    size_t used = 0;
    int path_seen = 0;

    if (allowlen)
        allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!match_pattern(table[i].pattern, r->path, NULL))
            continue;
        if (strcmp(table[i].method, r->method) == 0) {
            if (!match_pattern(table[i].pattern, r->path, r))
                return ROUTER_NOT_FOUND; /* undecodable parameter */
            r->route = &table[i];
            return ROUTER_MATCH;
        }
        path_seen = 1;
        size_t mlen = strlen(table[i].method);
        if (used + mlen + 3 < allowlen) {
            if (used) {
                memcpy(allow + used, ", ", 2);
                used += 2;
            }
            memcpy(allow + used, table[i].method, mlen);
            used += mlen;
            allow[used] = '\0';
        }
    }
    return path_seen ? ROUTER_METHOD : ROUTER_NOT_FOUND;
}

size_t router_index(const struct route *rt)
{
    if (!rt)
        return routes_count;
    return (size_t)(rt - routes);
}

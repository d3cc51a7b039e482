/*
 * problem: the table of problem kinds and the builder of problem+json bodies.
 *
 * Owns nothing; problem_new() returns a new jansson reference for the caller.
 * Thread-safe: the table is read-only.
 */
#include "problem.h"

#include <stdio.h>
#include <stdlib.h>

struct kind_row {
    const char *slug;
    int status;
    const char *title;
};

/* Indexed by enum problem_kind; the order must follow the enum. */
static const struct kind_row kinds[PROB_KIND_COUNT] = {
    [PROB_BAD_REQUEST] = {"bad-request", 400, "Bad request"},
    [PROB_VALIDATION] = {"validation", 422, "Invalid value"},
    [PROB_UNAUTHORIZED] = {"unauthorized", 401, "Authentication required"},
    [PROB_FORBIDDEN] = {"forbidden", 403, "Forbidden"},
    [PROB_NOT_FOUND] = {"not-found", 404, "Not found"},
    [PROB_METHOD] = {"method-not-allowed", 405, "Method not allowed"},
    [PROB_CONFLICT] = {"conflict", 409, "Conflict"},
    [PROB_TOO_LARGE] = {"payload-too-large", 413, "Payload too large"},
    [PROB_UNSUPPORTED_TYPE] = {"unsupported-media-type", 415, "Unsupported media type"},
    [PROB_RATE_LIMITED] = {"rate-limited", 429, "Too many requests"},
    [PROB_INTERNAL] = {"internal", 500, "Internal error"},
    [PROB_UNAVAILABLE] = {"unavailable", 503, "Service unavailable"},
};

/* An out-of-range kind is a programming error; answer it as an internal error
 * rather than reading past the table. */
static const struct kind_row *row(enum problem_kind k)
{
    if ((int)k < 0 || k >= PROB_KIND_COUNT)
        k = PROB_INTERNAL;
    return &kinds[k];
}

int problem_status(enum problem_kind k)
{
    return row(k)->status;
}

const char *problem_slug(enum problem_kind k)
{
    return row(k)->slug;
}

const char *problem_title(enum problem_kind k)
{
    return row(k)->title;
}

json_t *problem_new(enum problem_kind k, const char *detail, const char *field)
{
    const struct kind_row *r = row(k);
    json_t *p = json_object();
    if (!p) {
        fputs("fatal: out of memory (problem_new)\n", stderr); /* project policy: OOM aborts */
        abort();
    }
    json_object_set_new(p, "type", json_sprintf("%s%s", PROBLEM_TYPE_BASE, r->slug));
    json_object_set_new(p, "title", json_string(r->title));
    json_object_set_new(p, "status", json_integer(r->status));
    /* json_string() yields NULL for invalid UTF-8, and set_new(NULL) is a no-op
     * error, so a bad detail is dropped instead of breaking the answer. */
    if (detail)
        json_object_set_new(p, "detail", json_string(detail));
    if (field && *field)
        json_object_set_new(p, "field", json_string(field));
    return p;
}

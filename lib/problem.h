/*
 * problem: RFC 9457 problem details.
 *
 * Every error answer is application/problem+json with
 *   type   "https://missive.dev/problems/<slug>" (stable, documented in openapi.yaml)
 *   title  a short human summary for the slug
 *   status the HTTP status
 *   detail what was wrong with this request, in plain words
 * and optionally "field" naming the offending input. One table maps slugs to
 * status and title so the same failure always reads the same.
 */
#ifndef MISSIVE_PROBLEM_H
#define MISSIVE_PROBLEM_H

#include <jansson.h>

enum problem_kind {
    PROB_BAD_REQUEST = 0,  /* 400 malformed input */
    PROB_VALIDATION,       /* 422 well-formed but invalid values */
    PROB_UNAUTHORIZED,     /* 401 */
    PROB_FORBIDDEN,        /* 403 */
    PROB_NOT_FOUND,        /* 404 */
    PROB_METHOD,           /* 405 */
    PROB_CONFLICT,         /* 409 */
    PROB_TOO_LARGE,        /* 413 */
    PROB_UNSUPPORTED_TYPE, /* 415 */
    PROB_RATE_LIMITED,     /* 429 */
    PROB_INTERNAL,         /* 500 */
    PROB_UNAVAILABLE,      /* 503 */
    PROB_KIND_COUNT
};

int problem_status(enum problem_kind k);
const char *problem_slug(enum problem_kind k);
const char *problem_title(enum problem_kind k);

/* A new problem object. detail and field may be NULL. */
json_t *problem_new(enum problem_kind k, const char *detail, const char *field);

#define PROBLEM_TYPE_BASE "https://missive.dev/problems/"
#define PROBLEM_CONTENT_TYPE "application/problem+json"

#endif

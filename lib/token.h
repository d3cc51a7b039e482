/*
 * token: signed JWTs for access tokens and stream tickets (libjwt, HS256).
 *
 * libjwt 1.10 takes the algorithm from the token and checks no claims, so this
 * module pins HS256, refuses a NULL key, and checks typ, exp, iat and sub itself
 * (clock skew 60 s). Each kind of token has its own "typ" claim so one can never
 * pass for another.
 */
#ifndef MISSIVE_TOKEN_H
#define MISSIVE_TOKEN_H

#include <stddef.h>
#include <time.h>

#define TOKEN_SKEW 60

enum token_status {
    TOKEN_OK = 0,
    TOKEN_MALFORMED, /* not a JWT, bad signature, wrong alg */
    TOKEN_EXPIRED,
    TOKEN_WRONG_TYPE,
};

struct token_claims {
    long long sub;   /* user id */
    long long sid;   /* session id */
    long long iat;
    long long exp;
    char jti[40];    /* "" if none */
};

/*
 * Issues a token of kind typ ("access", "ticket") for user sub and session sid,
 * valid ttl seconds from now. jti may be NULL. Returns a heap string or NULL.
 */
char *token_issue(const unsigned char *key, size_t keylen, const char *typ, long long sub,
                  long long sid, const char *jti, time_t now, int ttl);

/* Verifies signature, alg, typ, exp, iat and sub. Fills *out on TOKEN_OK. */
enum token_status token_verify(const unsigned char *key, size_t keylen, const char *typ,
                               const char *jwt, time_t now, struct token_claims *out);

#endif

/*
 * token: issue and verify HS256 JWTs with libjwt 1.10.
 *
 * libjwt verifies the signature with whatever algorithm the token names, and
 * skips verification for "alg":"none", so after decoding we insist on HS256 and
 * then check every claim ourselves against strict JSON types. Owns nothing;
 * issued tokens are heap strings for the caller. Thread-safe (no shared state).
 */
#include "token.h"

#include <jansson.h>
#include <jwt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_MAX_BYTES 4096

char *token_issue(const unsigned char *key, size_t keylen, const char *typ, long long sub,
                  long long sid, const char *jti, time_t now, int ttl)
{
    jwt_t *jwt = NULL;
    char *out = NULL;

    if (!key || keylen == 0 || keylen > INT_MAX || !typ)
        goto out;
    if (jwt_new(&jwt) != 0)
        goto out;
    if (jwt_add_grant(jwt, "typ", typ) != 0 || jwt_add_grant_int(jwt, "sub", (long)sub) != 0 ||
        jwt_add_grant_int(jwt, "sid", (long)sid) != 0 ||
        jwt_add_grant_int(jwt, "iat", (long)now) != 0 ||
        jwt_add_grant_int(jwt, "exp", (long)now + ttl) != 0)
        goto out;
    if (jti && *jti && jwt_add_grant(jwt, "jti", jti) != 0)
        goto out;
    if (jwt_set_alg(jwt, JWT_ALG_HS256, key, (int)keylen) != 0)
        goto out;
    out = jwt_encode_str(jwt);

out:
    jwt_free(jwt);
    return out;
}

/* Integer claim; -1 if absent or not a JSON integer. */
static int get_int(json_t *claims, const char *name, long long *out)
{
    json_t *v = json_object_get(claims, name);
    if (!json_is_integer(v))
        return -1;
    *out = (long long)json_integer_value(v);
    return 0;
}

static enum token_status check_claims(json_t *claims, const char *typ, time_t now,
                                      struct token_claims *c)
{
    const char *t = json_string_value(json_object_get(claims, "typ"));
    if (!t || strcmp(t, typ) != 0)
        return TOKEN_WRONG_TYPE;

    /* Written as subtractions so that a huge exp/iat cannot overflow. */
    long long n = (long long)now;
    if (get_int(claims, "exp", &c->exp) != 0)
        return TOKEN_MALFORMED;
    if (n - TOKEN_SKEW >= c->exp)
        return TOKEN_EXPIRED;
    if (get_int(claims, "iat", &c->iat) != 0 || c->iat > n + TOKEN_SKEW)
        return TOKEN_MALFORMED;
    if (get_int(claims, "sub", &c->sub) != 0 || c->sub < 1)
        return TOKEN_MALFORMED;
    if (get_int(claims, "sid", &c->sid) != 0 || c->sid < 0)
        return TOKEN_MALFORMED;

    json_t *jti = json_object_get(claims, "jti");
    if (jti) {
        const char *s = json_string_value(jti);
        if (!s || strlen(s) >= sizeof c->jti)
            return TOKEN_MALFORMED;
        memcpy(c->jti, s, strlen(s) + 1);
    }
    return TOKEN_OK;
}

enum token_status token_verify(const unsigned char *key, size_t keylen, const char *typ,
                               const char *token, time_t now, struct token_claims *out)
{
    enum token_status st = TOKEN_MALFORMED;
    struct token_claims c = {0};
    jwt_t *jwt = NULL;
    char *grants = NULL;
    json_t *claims = NULL;

    /* A NULL key would make libjwt skip the signature check entirely. */
    if (!key || keylen == 0 || keylen > INT_MAX || !typ || !token)
        goto out;
    if (strnlen(token, TOKEN_MAX_BYTES + 1) > TOKEN_MAX_BYTES)
        goto out;
    if (jwt_decode(&jwt, token, key, (int)keylen) != 0 || !jwt)
        goto out;
    /* The alg:none and algorithm-confusion defence: only HS256 was verified
     * the way we intend. */
    if (jwt_get_alg(jwt) != JWT_ALG_HS256)
        goto out;

    grants = jwt_get_grants_json(jwt, NULL);
    if (!grants)
        goto out;
    claims = json_loads(grants, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(claims))
        goto out;
    st = check_claims(claims, typ, now, &c);
    if (st == TOKEN_OK && out)
        *out = c;

out:
    json_decref(claims);
    free(grants);
    jwt_free(jwt);
    return st;
}

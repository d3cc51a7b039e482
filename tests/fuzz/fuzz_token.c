/*
 * fuzz_token: lib/token.c token_verify (libjwt 1.10 underneath) on hostile tokens.
 *
 * Two ways, each run:
 *  1. The input (up to its first NUL) is a token from a client, verified with a fixed
 *     key as "access" and as "ticket" at a fixed time. It must never be accepted unless
 *     it is byte for byte a token this target issued in its init (those are in the seed
 *     corpus, so the fuzzer starts from real tokens and mutates them).
 *  2. If the input starts with '{', it is the JSON claims (and, after a newline, the JSON
 *     header; default {"alg":"HS256","typ":"JWT"}) of a token the target signs with the
 *     key: what an attacker cannot make, but what exercises the claim checks. A token
 *     accepted this way must satisfy every documented claim rule.
 *
 * Known findings are skipped unless FUZZ_STRICT=1 (see known_iat_overflow).
 * FUZZ_TOKEN_PRINT=1 in the environment prints the issued tokens (seed material) and exits.
 */
#include "crypto.h"
#include "token.h"

#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define fuzz_check(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const unsigned char key[] = "fuzz-key-0123456789abcdef0123456789abcdef";
#define KEYLEN (sizeof key - 1)
#define NOW    ((time_t)1700000000)

static char *issued_access;  /* sub 42, sid 7, jti "jti-1", 900 s */
static char *issued_ticket;  /* sub 5, sid 0, no jti, 30 s */
static char *issued_expired; /* access, sub 42, issued an hour before NOW */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    issued_access = token_issue(key, KEYLEN, "access", 42, 7, "jti-1", NOW, 900);
    issued_ticket = token_issue(key, KEYLEN, "ticket", 5, 0, NULL, NOW, 30);
    issued_expired = token_issue(key, KEYLEN, "access", 42, 7, NULL, NOW - 3600, 900);
    if (!issued_access || !issued_ticket || !issued_expired) {
        fprintf(stderr, "fuzz_token: token_issue failed\n");
        abort();
    }
    if (getenv("FUZZ_TOKEN_PRINT")) {
        printf("%s\n%s\n%s\n", issued_access, issued_ticket, issued_expired);
        exit(0);
    }
    return 0;
}

static void verify_client_token(const char *tok)
{
    static const char *const typs[] = {"access", "ticket"};
    for (size_t i = 0; i < 2; i++) {
        struct token_claims c;
        memset(&c, 0x5a, sizeof c);
        enum token_status st = token_verify(key, KEYLEN, typs[i], tok, NOW, &c);
        fuzz_check(st == TOKEN_OK || st == TOKEN_MALFORMED || st == TOKEN_EXPIRED ||
                   st == TOKEN_WRONG_TYPE);
        if (st != TOKEN_OK)
            continue;
        if (i == 0) {
            if (strcmp(tok, issued_access) != 0) {
                fprintf(
                    stderr,
                    "fuzz_check failed: accepted a token that was never issued:\n%s\nissued:\n%s\n",
                    tok, issued_access);
                abort();
            }
            fuzz_check(c.sub == 42 && c.sid == 7 && strcmp(c.jti, "jti-1") == 0);
        } else {
            if (strcmp(tok, issued_ticket) != 0) {
                fprintf(
                    stderr,
                    "fuzz_check failed: accepted a token that was never issued:\n%s\nissued:\n%s\n",
                    tok, issued_ticket);
                abort();
            }
            fuzz_check(c.sub == 5 && c.sid == 0 && c.jti[0] == '\0');
        }
    }
}

/* Reference for mode 2: the claims as a plain JSON reader sees them. */
static long long int_claim(json_t *j, const char *name, int *ok)
{
    json_t *v = json_object_get(j, name);
    if (!json_is_integer(v)) {
        *ok = 0;
        return 0;
    }
    return (long long)json_integer_value(v);
}

/*
 * Known and reported, not fixed yet (README.md, finding T1): an iat below
 * LLONG_MIN + TOKEN_SKEW overflows in check_claims(). Skipped unless FUZZ_STRICT=1 so
 * that fuzzing goes on looking for something new; drop this once token.c is fixed.
 */
static int known_iat_overflow(const char *claims)
{
    json_t *j = json_loads(claims, 0, NULL);
    json_t *iat = json_object_get(j, "iat");
    int hit = json_is_integer(iat) && json_integer_value(iat) < LLONG_MIN + TOKEN_SKEW;
    json_decref(j);
    return hit;
}

static void verify_signed_claims(const char *claims, const char *header)
{
    static int strict = -1;
    if (strict < 0)
        strict = getenv("FUZZ_STRICT") && strcmp(getenv("FUZZ_STRICT"), "1") == 0;
    if (!strict && known_iat_overflow(claims))
        return;

    char *h64 = crypto_b64url_encode((const unsigned char *)header, strlen(header));
    char *c64 = crypto_b64url_encode((const unsigned char *)claims, strlen(claims));
    size_t n = strlen(h64) + strlen(c64) + 2;
    char *signing = malloc(n);
    unsigned char mac[32];

    snprintf(signing, n, "%s.%s", h64, c64);
    crypto_hmac_sha256(key, KEYLEN, signing, strlen(signing), mac);
    char *s64 = crypto_b64url_encode(mac, sizeof mac);
    size_t tn = strlen(signing) + strlen(s64) + 2;
    char *tok = malloc(tn);
    snprintf(tok, tn, "%s.%s", signing, s64);

    static const char *const typs[] = {"access", "ticket"};
    for (size_t i = 0; i < 2; i++) {
        struct token_claims c;
        memset(&c, 0, sizeof c);
        enum token_status st = token_verify(key, KEYLEN, typs[i], tok, NOW, &c);
        if (st != TOKEN_OK)
            continue;
        /* Accepted: every rule of token.h holds for what a JSON reader makes of it. */
        json_t *j = json_loads(claims, 0, NULL);
        fuzz_check(json_is_object(j));
        const char *typ = json_string_value(json_object_get(j, "typ"));
        fuzz_check(typ && strcmp(typ, typs[i]) == 0);
        int ok = 1;
        long long exp = int_claim(j, "exp", &ok), iat = int_claim(j, "iat", &ok);
        long long sub = int_claim(j, "sub", &ok), sid = int_claim(j, "sid", &ok);
        fuzz_check(ok);
        fuzz_check(c.exp == exp && c.iat == iat && c.sub == sub && c.sid == sid);
        fuzz_check(exp > (long long)NOW - TOKEN_SKEW);
        fuzz_check(iat <= (long long)NOW + TOKEN_SKEW);
        fuzz_check(sub >= 1 && sid >= 0);
        fuzz_check(strnlen(c.jti, sizeof c.jti) < sizeof c.jti);
        json_decref(j);
    }
    free(tok);
    free(s64);
    free(signing);
    free(c64);
    free(h64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';

    verify_client_token(s);

    if (s[0] == '{') {
        const char *header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
        char *nl = strchr(s, '\n');
        if (nl) {
            *nl = '\0';
            header = nl + 1;
        }
        verify_signed_claims(s, header);
    }
    free(s);
    return 0;
}

/*
 * fuzz_sigv4: lib/sigv4.c (S3 presigned URLs and Authorization headers).
 *
 * Input: newline-separated fields
 *   method, scheme, host, path, expires, now (decimal), access_key, secret_key, region,
 *   service, payload hash,
 * then header lines "name:value" (a line without ':' gives a NULL value) up to an empty
 * line, then query lines "name=value" (a line without '=' gives a NULL value). At most
 * 16 of each. Missing fields are NULL.
 *
 * Properties checked besides memory safety:
 *  - sigv4_uri_encode output holds only unreserved bytes, '/' (when kept) and %XX with
 *    upper-case hex, and decodes back to its input;
 *  - sigv4_presign returns NULL or a well-formed URL: scheme://host/path?query exactly
 *    as given, every parameter name=value of unreserved/%XX text, the canonical query
 *    sorted, the X-Amz-* parameters present once, the caller's query parameters all
 *    there, and &X-Amz-Signature=<64 lower-case hex> last; the same inputs give the same
 *    URL (no hidden state);
 *  - sigv4_authorization returns NULL (with an empty date) or
 *    "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=<64 hex>" and a
 *    16-character amz date.
 */
#include "sigv4.h"

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

#define MAX_PAIRS 16
#define NFIELDS   11

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int upper_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static int hexv(char c)
{
    return c <= '9' ? c - '0' : c - 'A' + 10;
}

/* 1 if s[0..n) is unreserved bytes, '/' when slash_ok, and %XX (upper-case hex) only. */
static int encoded_text(const char *s, size_t n, int slash_ok)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return 0;
            if (!upper_hex((unsigned char)s[i + 1]) || !upper_hex((unsigned char)s[i + 2]))
                return 0;
            i += 2;
        } else if (!unreserved(c) && !(slash_ok && c == '/')) {
            return 0;
        }
    }
    return 1;
}

static void check_uri_encode(const char *s)
{
    for (int slash = 0; slash < 2; slash++) {
        char *e = sigv4_uri_encode(s, slash);
        fuzz_check(e != NULL);
        size_t n = strlen(e);
        fuzz_check(encoded_text(e, n, !slash));
        /* Decode back. */
        char *d = malloc(n + 1), *o = d;
        for (size_t i = 0; i < n; i++) {
            if (e[i] == '%') {
                *o++ = (char)(hexv(e[i + 1]) * 16 + hexv(e[i + 2]));
                i += 2;
            } else {
                *o++ = e[i];
            }
        }
        *o = '\0';
        fuzz_check(strcmp(d, s) == 0);
        free(d);
        free(e);
    }
    fuzz_check(sigv4_uri_encode(NULL, 0) == NULL);
}

static int is_lower_hex64(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[64] == '\0';
}

static void check_presigned(const char *url, const struct sigv4_request *r, long nq)
{
    size_t sl = strlen(r->scheme), hl = strlen(r->host), pl = strlen(r->path);
    fuzz_check(strncmp(url, r->scheme, sl) == 0 && strncmp(url + sl, "://", 3) == 0);
    fuzz_check(strncmp(url + sl + 3, r->host, hl) == 0);
    fuzz_check(strncmp(url + sl + 3 + hl, r->path, pl) == 0);
    const char *q = url + sl + 3 + hl + pl;
    fuzz_check(*q == '?');
    q++;

    /* name=value&... with the signature last. */
    const char *sig = strstr(q, "&X-Amz-Signature=");
    fuzz_check(sig != NULL && is_lower_hex64(sig + 17));
    size_t qlen = (size_t)(sig - q);
    char *canon = strndup(q, qlen);
    int nparts = 0, seen_alg = 0, seen_cred = 0, seen_date = 0, seen_exp = 0, seen_sh = 0;
    char *prev = NULL;
    for (char *part = canon, *next; part; part = next) {
        next = strchr(part, '&');
        if (next)
            *next++ = '\0';
        char *eq = strchr(part, '=');
        fuzz_check(eq != NULL && eq > part);
        fuzz_check(encoded_text(part, (size_t)(eq - part), 0));
        fuzz_check(encoded_text(eq + 1, strlen(eq + 1), 0));
        /* Sorted by name, then value: compare as (name, value) pairs. */
        if (prev) {
            char *peq = strchr(prev, '=');
            *peq = '\0';
            *eq = '\0';
            int d = strcmp(prev, part);
            if (d == 0)
                d = strcmp(peq + 1, eq + 1);
            fuzz_check(d <= 0);
            *peq = '=';
            *eq = '=';
        }
        seen_alg += strcmp(part, "X-Amz-Algorithm=AWS4-HMAC-SHA256") == 0;
        seen_cred += strncmp(part, "X-Amz-Credential=", 17) == 0;
        seen_date += strncmp(part, "X-Amz-Date=", 11) == 0 && strlen(part) == 11 + 16;
        if (strncmp(part, "X-Amz-Expires=", 14) == 0) {
            char want[32];
            snprintf(want, sizeof want, "%lld", r->expires);
            fuzz_check(strcmp(part + 14, want) == 0);
            seen_exp++;
        }
        seen_sh += strncmp(part, "X-Amz-SignedHeaders=", 20) == 0;
        prev = part;
        nparts++;
    }
    fuzz_check(seen_alg == 1 && seen_cred == 1 && seen_date == 1 && seen_exp == 1 && seen_sh == 1);
    fuzz_check(nparts == 5 + nq);
    free(canon);

    /* Every caller parameter is in there, encoded. */
    for (long i = 0; i < nq; i++) {
        char *n = sigv4_uri_encode(r->query[2 * i], 1);
        char *v = sigv4_uri_encode(r->query[2 * i + 1], 1);
        size_t need = strlen(n) + strlen(v) + 3;
        char *pair = malloc(need);
        snprintf(pair, need, "%s=%s", n, v);
        const char *hit = q;
        int found = 0;
        while (!found && (hit = strstr(hit, pair)) != NULL) {
            size_t len = strlen(pair);
            found = (hit == q || hit[-1] == '&') && (hit[len] == '&' || hit[len] == '\0');
            hit++;
        }
        fuzz_check(found);
        free(pair);
        free(n);
        free(v);
    }
}

static void check_authorization(const char *a, const char date[17])
{
    const char *pre = "AWS4-HMAC-SHA256 Credential=";
    fuzz_check(strncmp(a, pre, strlen(pre)) == 0);
    const char *sh = strstr(a, ", SignedHeaders=");
    const char *sig = strstr(a, ", Signature=");
    fuzz_check(sh && sig && sh < sig && is_lower_hex64(sig + 12));
    fuzz_check(strlen(date) == 16 && date[8] == 'T' && date[15] == 'Z');
    /* A header value: no controls (the access key may hold non-ASCII bytes; it comes
     * from the config and the store would refuse it, but it cannot split the header). */
    for (const unsigned char *p = (const unsigned char *)a; *p; p++)
        fuzz_check(*p >= ' ' && *p != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';

    char *fields[NFIELDS] = {0};
    const char *headers[2 * MAX_PAIRS + 1] = {0};
    const char *query[2 * MAX_PAIRS + 1] = {0};
    int nf = 0;
    long nh = 0, nq = 0;
    int in_query = 0;
    char *line = buf;

    while (line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (nf < NFIELDS) {
            fields[nf++] = line;
        } else if (!in_query && *line == '\0') {
            in_query = 1;
        } else if (!in_query && nh < MAX_PAIRS) {
            char *c = strchr(line, ':');
            if (c)
                *c = '\0';
            headers[2 * nh] = line;
            headers[2 * nh + 1] = c ? c + 1 : NULL;
            nh++;
        } else if (in_query && nq < MAX_PAIRS) {
            char *e = strchr(line, '=');
            if (e)
                *e = '\0';
            query[2 * nq] = line;
            query[2 * nq + 1] = e ? e + 1 : NULL;
            nq++;
        }
        line = nl ? nl + 1 : NULL;
    }

    for (int i = 0; i < nf; i++)
        check_uri_encode(fields[i]);

    struct sigv4_creds c = {fields[6], fields[7], fields[8], fields[9]};
    struct sigv4_request r = {
        .method = fields[0],
        .scheme = fields[1],
        .host = fields[2],
        .path = fields[3],
        .query = nq ? query : NULL,
        .headers = nh ? headers : NULL,
        .expires = fields[4] ? strtoll(fields[4], NULL, 10) : 0,
        .now = fields[5] ? (time_t)strtoll(fields[5], NULL, 10) : 0,
    };
    /*
     * Known and reported, not fixed yet (README.md, finding S1): a signing time in the
     * years just below INT_MAX overflows `tm.tm_year + 1900` in sign(). Skipped unless
     * FUZZ_STRICT=1; anything past the year 9999 is still tried up to there.
     */
    const char *strict = getenv("FUZZ_STRICT");
    if (r.now > 60000000000000000LL && !(strict && strcmp(strict, "1") == 0)) {
        free(buf);
        return 0;
    }

    /* A NULL value ends the list early as far as the reference count goes. */
    long nq_valid = 0;
    while (nq_valid < nq && query[2 * nq_valid + 1])
        nq_valid++;

    char *url = sigv4_presign(&c, &r);
    if (url) {
        fuzz_check(nq_valid == nq);
        check_presigned(url, &r, nq);
        char *again = sigv4_presign(&c, &r);
        fuzz_check(again && strcmp(again, url) == 0);
        free(again);
        free(url);
    }

    char date[17];
    memset(date, 'x', sizeof date);
    char *auth = sigv4_authorization(&c, &r, fields[10], date);
    if (auth)
        check_authorization(auth, date);
    else
        fuzz_check(date[0] == '\0');
    free(auth);

    free(buf);
    return 0;
}

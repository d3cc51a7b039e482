/*
 * sigv4: AWS Signature Version 4, as specified in the AWS docs "Create a signed AWS API
 * request" and "Authenticating Requests: Using Query Parameters (AWS Signature
 * Version 4)".
 *
 *   canonical request = method \n path \n canonical query \n canonical headers \n
 *                       signed headers \n payload hash
 *   string to sign    = "AWS4-HMAC-SHA256" \n amz date \n scope \n hex(sha256(creq))
 *   signing key       = HMAC chain "AWS4"+secret -> date -> region -> service ->
 *                       "aws4_request"
 *
 * Owns nothing; returned strings belong to the caller. Thread-safe (no shared state;
 * gmtime_r only).
 */
#include "sigv4.h"

#include "crypto.h"
#include "xalloc.h"

#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ALGORITHM        "AWS4-HMAC-SHA256"
#define UNSIGNED         "UNSIGNED-PAYLOAD"
#define SCOPE_TERMINATOR "aws4_request"

/* A growable string: canonical requests are built from caller input of any length. */
struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
    if (n >= b->cap - b->len || !b->p) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap - b->len <= n) {
            if (cap > SIZE_MAX / 2)
                abort(); /* cannot happen with real input; xalloc's policy for OOM */
            cap *= 2;
        }
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_putc(struct sbuf *b, char c)
{
    sb_putn(b, &c, 1);
}

/* Hands the string to the caller; an empty buffer still yields "" rather than NULL. */
static char *sb_take(struct sbuf *b)
{
    char *s = b->p ? b->p : xstrdup("");
    b->p = NULL;
    b->len = b->cap = 0;
    return s;
}

static int is_unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

static int is_upper_hex(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F');
}

static void sb_encode(struct sbuf *b, const char *s, int encode_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (is_unreserved(*p) || (*p == '/' && !encode_slash)) {
            sb_putc(b, (char)*p);
        } else {
            char esc[3] = {'%', digits[*p >> 4], digits[*p & 15]};
            sb_putn(b, esc, sizeof esc);
        }
    }
}

char *sigv4_uri_encode(const char *s, int encode_slash)
{
    struct sbuf b = {0};
    if (s)
        sb_encode(&b, s, encode_slash);
    return s ? sb_take(&b) : NULL;
}

static void hex32(const unsigned char in[32], char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[64] = '\0';
}

/* ---- input checks ---------------------------------------------------------------- */

/* Region and service sit between '/' in the scope, so they must not contain one. */
static int valid_scope_part(const char *s)
{
    if (!s || !*s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!(is_unreserved(*p) && *p != '~'))
            return 0;
    return 1;
}

/*
 * The access key is written raw into "Credential=AK/scope" of the Authorization
 * header, which stores parse by splitting on '/' and ','; whitespace would end it.
 */
static int valid_access_key(const char *s)
{
    if (!s || !*s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '/' || *p == ',')
            return 0;
    return 1;
}

static int valid_creds(const struct sigv4_creds *c)
{
    return c && valid_access_key(c->access_key) && c->secret_key && *c->secret_key &&
           valid_scope_part(c->region) && valid_scope_part(c->service);
}

static int valid_method(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (*s < 'A' || *s > 'Z')
            return 0;
    return 1;
}

/* Host names, IPv4, [IPv6] and an optional :port; nothing that could end the authority. */
static int valid_host(const char *s)
{
    if (!s || !*s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!(is_unreserved(*p) || *p == ':' || *p == '[' || *p == ']'))
            return 0;
    return 1;
}

/*
 * The path is signed as given and the store re-derives it from the decoded key with
 * these same rules, so only their output is accepted: a lower-case %2f or a raw '!'
 * would be signed one way and checked another.
 */
static int valid_path(const char *s)
{
    if (!s || *s != '/')
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '%') {
            if (!is_upper_hex(p[1]) || !is_upper_hex(p[2]))
                return 0;
            p += 2;
        } else if (!is_unreserved(*p) && *p != '/') {
            return 0;
        }
    }
    return 1;
}

/* RFC 9110 token characters. */
static int valid_header_name(const char *s)
{
    if (!*s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!(is_unreserved(*p) || strchr("!#$%&'*+^`|", *p)))
            return 0;
    return 1;
}

/* CR/LF would forge header lines in the canonical request; other controls are unsendable. */
static int valid_header_value(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < ' ' && *p != '\t') || *p == 0x7f)
            return 0;
    return 1;
}

static int valid_payload_hash(const char *s)
{
    if (!s)
        return 0;
    if (strcmp(s, UNSIGNED) == 0)
        return 1;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[64] == '\0';
}

/* Parameters this module writes itself; a second copy from the caller would be ambiguous. */
static int reserved_query_name(const char *name)
{
    static const char *const reserved[] = {"X-Amz-Algorithm",     "X-Amz-Credential",
                                           "X-Amz-Date",          "X-Amz-Expires",
                                           "X-Amz-SignedHeaders", "X-Amz-Signature"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcasecmp(name, reserved[i]) == 0)
            return 1;
    return 0;
}

/* Number of (name, value) pairs in a NULL-terminated list; -1 if a value is missing. */
static long count_pairs(const char *const *kv)
{
    long n = 0;
    if (!kv)
        return 0;
    for (; kv[2 * n]; n++)
        if (!kv[2 * n + 1])
            return -1;
    return n;
}

/* ---- canonical pieces ------------------------------------------------------------ */

struct pair {
    char *name;
    char *value;
};

static int pair_cmp(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    int d = strcmp(x->name, y->name);
    return d ? d : strcmp(x->value, y->value);
}

static void free_pairs(struct pair *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
}

/* Canonical header value: trimmed, each run of spaces/tabs one space (the "Trimall" rule). */
static char *trim_all(const char *s)
{
    struct sbuf b = {0};
    int pending_space = 0;
    for (; *s; s++) {
        if (*s == ' ' || *s == '\t') {
            pending_space = b.len > 0;
            continue;
        }
        if (pending_space)
            sb_putc(&b, ' ');
        pending_space = 0;
        sb_putc(&b, *s);
    }
    return sb_take(&b);
}

static char *lower(const char *s)
{
    char *out = xstrdup(s);
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return out;
}

/* Everything one signature produces; the two public functions format it differently. */
struct signed_req {
    char amz_date[17];    /* YYYYMMDD'T'HHMMSS'Z' */
    char *credential;     /* access_key/date/region/service/aws4_request, raw */
    char *signed_headers; /* "content-type;host" */
    char *query;          /* canonical query string, without the signature */
    char signature[65];
};

static void signed_req_free(struct signed_req *s)
{
    free(s->credential);
    free(s->signed_headers);
    free(s->query);
}

/*
 * Builds and signs the canonical request. presign selects query-string auth (the
 * X-Amz-* parameters join the query) over header auth (x-amz-date joins the headers).
 * Returns 0 and fills *out (release with signed_req_free), or -1 on bad input.
 */
static int sign(const struct sigv4_creds *c, const struct sigv4_request *r,
                const char *payload_hash, int presign, struct signed_req *out)
{
    int rc = -1;
    struct pair *hdr = NULL, *qry = NULL;
    size_t nhdr = 0, nqry = 0;
    struct sbuf b = {0};
    char *scope = NULL, *creq = NULL, *sts = NULL, *key0 = NULL;
    /* Two buffers in turn: HMAC's output must not alias its key. */
    unsigned char k1[32], k2[32], mac[32];
    char date[9], creq_hash[65];
    struct tm tm;
    long nh, nq;

    memset(out, 0, sizeof *out);
    if (!r || !valid_creds(c) || !valid_method(r->method) || !valid_host(r->host) ||
        !valid_path(r->path) || !valid_payload_hash(payload_hash))
        goto out;
    if (presign && (r->expires < 1 || r->expires > SIGV4_MAX_EXPIRES))
        goto out;
    nh = count_pairs(r->headers);
    nq = count_pairs(r->query);
    if (nh < 0 || nq < 0)
        goto out;

    /* The date format has room for four-digit years only; before 1970 is a bug upstream. */
    if (r->now < 0 || !gmtime_r(&r->now, &tm) || tm.tm_year > 9999 - 1900 ||
        strftime(out->amz_date, sizeof out->amz_date, "%Y%m%dT%H%M%SZ", &tm) != 16)
        goto out;
    memcpy(date, out->amz_date, 8);
    date[8] = '\0';
    scope = xasprintf("%s/%s/%s/" SCOPE_TERMINATOR, date, c->region, c->service);
    out->credential = xasprintf("%s/%s", c->access_key, scope);

    /* Headers: the caller's, plus host, plus x-amz-date for header auth. */
    hdr = xcalloc((size_t)nh + 2, sizeof *hdr);
    hdr[nhdr].name = xstrdup("host");
    hdr[nhdr++].value = xstrdup(r->host); /* valid_host admits no whitespace to trim */
    if (!presign) {
        hdr[nhdr].name = xstrdup("x-amz-date");
        hdr[nhdr++].value = xstrdup(out->amz_date);
    }
    for (long i = 0; i < nh; i++) {
        const char *name = r->headers[2 * i], *value = r->headers[2 * i + 1];
        if (!valid_header_name(name) || !valid_header_value(value))
            goto out;
        hdr[nhdr].name = lower(name);
        hdr[nhdr++].value = trim_all(value);
    }
    qsort(hdr, nhdr, sizeof *hdr, pair_cmp);
    for (size_t i = 0; i < nhdr; i++) {
        if (i > 0 && strcmp(hdr[i - 1].name, hdr[i].name) == 0)
            goto out; /* repeated, or host / x-amz-date given by the caller */
        if (i > 0)
            sb_putc(&b, ';');
        sb_puts(&b, hdr[i].name);
    }
    out->signed_headers = sb_take(&b);

    /*
     * Query: names and values encoded first, then sorted, because the order AWS
     * specifies is that of the encoded bytes ('/' in a value is %2F here).
     */
    qry = xcalloc((size_t)nq + 5, sizeof *qry);
    if (presign) {
        char expires[24];
        const char *own[][2] = {{"X-Amz-Algorithm", ALGORITHM},
                                {"X-Amz-Credential", out->credential},
                                {"X-Amz-Date", out->amz_date},
                                {"X-Amz-Expires", expires},
                                {"X-Amz-SignedHeaders", out->signed_headers}};
        snprintf(expires, sizeof expires, "%lld", r->expires);
        for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
            qry[nqry].name = sigv4_uri_encode(own[i][0], 1);
            qry[nqry++].value = sigv4_uri_encode(own[i][1], 1);
        }
    }
    for (long i = 0; i < nq; i++) {
        const char *name = r->query[2 * i], *value = r->query[2 * i + 1];
        if (!*name || reserved_query_name(name))
            goto out;
        qry[nqry].name = sigv4_uri_encode(name, 1);
        qry[nqry++].value = sigv4_uri_encode(value, 1);
    }
    qsort(qry, nqry, sizeof *qry, pair_cmp);
    for (size_t i = 0; i < nqry; i++) {
        if (i > 0)
            sb_putc(&b, '&');
        sb_puts(&b, qry[i].name);
        sb_putc(&b, '=');
        sb_puts(&b, qry[i].value);
    }
    out->query = sb_take(&b);

    sb_puts(&b, r->method);
    sb_putc(&b, '\n');
    sb_puts(&b, r->path);
    sb_putc(&b, '\n');
    sb_puts(&b, out->query);
    sb_putc(&b, '\n');
    for (size_t i = 0; i < nhdr; i++) {
        sb_puts(&b, hdr[i].name);
        sb_putc(&b, ':');
        sb_puts(&b, hdr[i].value);
        sb_putc(&b, '\n');
    }
    sb_putc(&b, '\n');
    sb_puts(&b, out->signed_headers);
    sb_putc(&b, '\n');
    sb_puts(&b, payload_hash);
    creq = sb_take(&b);
    crypto_sha256_hex(creq, strlen(creq), creq_hash);

    sts = xasprintf(ALGORITHM "\n%s\n%s\n%s", out->amz_date, scope, creq_hash);

    key0 = xasprintf("AWS4%s", c->secret_key);
    crypto_hmac_sha256(key0, strlen(key0), date, strlen(date), k1);
    crypto_hmac_sha256(k1, sizeof k1, c->region, strlen(c->region), k2);
    crypto_hmac_sha256(k2, sizeof k2, c->service, strlen(c->service), k1);
    crypto_hmac_sha256(k1, sizeof k1, SCOPE_TERMINATOR, strlen(SCOPE_TERMINATOR), k2);
    crypto_hmac_sha256(k2, sizeof k2, sts, strlen(sts), mac);
    hex32(mac, out->signature);
    rc = 0;

out:
    if (rc != 0) {
        signed_req_free(out);
        memset(out, 0, sizeof *out);
    }
    /* The derived key is as good as the secret for a day: do not leave it around. */
    if (key0)
        OPENSSL_cleanse(key0, strlen(key0));
    OPENSSL_cleanse(k1, sizeof k1);
    OPENSSL_cleanse(k2, sizeof k2);
    free(key0);
    free(sts);
    free(creq);
    free(scope);
    free(b.p);
    free_pairs(hdr, nhdr);
    free_pairs(qry, nqry);
    return rc;
}

char *sigv4_presign(const struct sigv4_creds *c, const struct sigv4_request *r)
{
    struct signed_req s = {0};
    char *url = NULL;

    if (!r || !r->scheme || (strcmp(r->scheme, "http") != 0 && strcmp(r->scheme, "https") != 0))
        goto out;
    if (sign(c, r, UNSIGNED, 1, &s) != 0)
        goto out;
    url = xasprintf("%s://%s%s?%s&X-Amz-Signature=%s", r->scheme, r->host, r->path, s.query,
                    s.signature);

out:
    signed_req_free(&s);
    return url;
}

char *sigv4_authorization(const struct sigv4_creds *c, const struct sigv4_request *r,
                          const char *payload_sha256_hex, char amz_date_out[17])
{
    struct signed_req s = {0};
    char *auth = NULL;

    if (!amz_date_out)
        goto out;
    amz_date_out[0] = '\0';
    if (sign(c, r, payload_sha256_hex, 0, &s) != 0)
        goto out;
    auth = xasprintf(ALGORITHM " Credential=%s, SignedHeaders=%s, Signature=%s", s.credential,
                     s.signed_headers, s.signature);
    memcpy(amz_date_out, s.amz_date, sizeof s.amz_date);

out:
    signed_req_free(&s);
    return auth;
}

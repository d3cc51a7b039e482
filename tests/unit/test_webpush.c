/*
 * Unit tests for lib/webpush.c: RFC 8291 known answers, byte-identical agreement
 * with the npm web-push package (committed fixture, see
 * tests/tools/webpush-xcheck.mjs), tampering, key and input validation, and
 * VAPID headers verified here with OpenSSL alone.
 *
 * With WEBPUSH_XCHECK_OUT=FILE set, test_xcheck_export also writes bodies and
 * headers made with fresh random keys to FILE for `node webpush-xcheck.mjs verify
 * FILE`, the other direction of the cross-check; without it that test is skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "webpush.h"
#include "xalloc.h"

#define NOW ((time_t)1700000000)

/* RFC 8291 appendix A. */
static const char rfc_plaintext[] = "When I grow up, I want to be a watermelon";
static const char rfc_auth[] = "BTBZMqHH6r4Tts7J_aSIgg";
static const char rfc_ua_public[] = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bj"
                                    "yPjs7Vd8pZGH6SRpkNtoIAiw4";
static const char rfc_ua_private[] = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
static const char rfc_as_private[] = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
static const char rfc_salt[] = "DGv6ra1nlYgDCS1FRnbzlw";
static const char rfc_body[] =
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAm"
    "S6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_"
    "Qulcy4a-fN";

/* ---- helpers ---- */

static unsigned char *unb64(const char *s, size_t *len)
{
    size_t n = 0;
    unsigned char *p = crypto_b64url_decode(s, &n);
    assert_non_null(p);
    if (len)
        *len = n;
    return p;
}

/* Decodes into a fixed-size buffer, insisting on the size. */
static void unb64_into(const char *s, unsigned char *out, size_t want)
{
    size_t n;
    unsigned char *p = unb64(s, &n);
    assert_int_equal(n, want);
    memcpy(out, p, n);
    free(p);
}

struct rfc {
    unsigned char ua_public[65], ua_private[32], as_private[32], auth[16], salt[16];
    unsigned char *body;
    size_t bodylen;
};

static void rfc_load(struct rfc *r)
{
    unb64_into(rfc_ua_public, r->ua_public, sizeof r->ua_public);
    unb64_into(rfc_ua_private, r->ua_private, sizeof r->ua_private);
    unb64_into(rfc_as_private, r->as_private, sizeof r->as_private);
    unb64_into(rfc_auth, r->auth, sizeof r->auth);
    unb64_into(rfc_salt, r->salt, sizeof r->salt);
    r->body = unb64(rfc_body, &r->bodylen);
}

/* A fresh P-256 key pair as raw bytes, made without lib/webpush.c. */
static void gen_keypair(unsigned char priv[32], unsigned char pub[65])
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    BIGNUM *d = NULL, *x = NULL, *y = NULL;
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
    pub[0] = 0x04;
    assert_int_equal(BN_bn2binpad(d, priv, 32), 32);
    assert_int_equal(BN_bn2binpad(x, pub + 1, 32), 32);
    assert_int_equal(BN_bn2binpad(y, pub + 33, 32), 32);
    BN_clear_free(d);
    BN_free(x);
    BN_free(y);
    EVP_PKEY_free(k);
}

/* PEM armour around DER, one base64 line (OpenSSL reads long lines fine). */
static char *pem_wrap(const char *label, const unsigned char *der, size_t n)
{
    char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, der, (int)n);
    char *pem = xasprintf("-----BEGIN %s-----\n%s\n-----END %s-----\n", label, b64, label);
    free(b64);
    return pem;
}

/* ES256 verification from first principles: SPKI from the raw point, R||S to DER. */
static int es256_verify(const unsigned char pub[65], const char *msg, size_t n,
                        const unsigned char sig[64])
{
    /* DER SubjectPublicKeyInfo header for id-ecPublicKey / prime256v1, 65-byte point. */
    static const unsigned char spki_prefix[26] = {
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
        0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
    unsigned char spki[sizeof spki_prefix + 65];
    const unsigned char *p = spki;
    unsigned char *der = NULL;
    memcpy(spki, spki_prefix, sizeof spki_prefix);
    memcpy(spki + sizeof spki_prefix, pub, 65);
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)sizeof spki);
    assert_non_null(key);

    ECDSA_SIG *es = ECDSA_SIG_new();
    assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)),
                     1);
    int derlen = i2d_ECDSA_SIG(es, &der);
    assert_true(derlen > 0);

    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
    int ok = EVP_DigestVerify(md, der, (size_t)derlen, (const unsigned char *)msg, n) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    EVP_PKEY_free(key);
    return ok;
}

struct jwt {
    char *signing_input; /* header.claims */
    json_t *header, *claims;
    unsigned char sig[64];
    char key[100];
};

static json_t *decode_json(const char *b64, size_t n)
{
    char *s = xstrndup(b64, n);
    size_t len;
    unsigned char *raw = unb64(s, &len);
    json_t *j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(j);
    free(raw);
    free(s);
    return j;
}

/*
 * Splits "vapid t=<jwt>, k=<key>" and checks its shape: three segments, a
 * 64-byte signature that verifies against k, the exact JWS header.
 */
static void parse_vapid(const char *authz, struct jwt *j)
{
    assert_non_null(authz);
    assert_int_equal(strncmp(authz, "vapid t=", 8), 0);
    const char *t = authz + 8;
    const char *k = strstr(t, ", k=");
    assert_non_null(k);
    assert_true(strlen(k + 4) < sizeof j->key);
    strcpy(j->key, k + 4);

    const char *d1 = memchr(t, '.', (size_t)(k - t));
    assert_non_null(d1);
    const char *d2 = memchr(d1 + 1, '.', (size_t)(k - d1 - 1));
    assert_non_null(d2);
    assert_null(memchr(d2 + 1, '.', (size_t)(k - d2 - 1)));

    j->signing_input = xstrndup(t, (size_t)(d2 - t));
    j->header = decode_json(t, (size_t)(d1 - t));
    j->claims = decode_json(d1 + 1, (size_t)(d2 - d1 - 1));
    char *sig64 = xstrndup(d2 + 1, (size_t)(k - d2 - 1));
    size_t siglen;
    unsigned char *sig = unb64(sig64, &siglen);
    assert_int_equal(siglen, 64); /* JWS R||S, never DER (70-72 bytes) */
    memcpy(j->sig, sig, 64);
    free(sig);
    free(sig64);

    assert_int_equal(json_object_size(j->header), 2);
    assert_string_equal(json_string_value(json_object_get(j->header, "typ")), "JWT");
    assert_string_equal(json_string_value(json_object_get(j->header, "alg")), "ES256");

    unsigned char pub[65];
    unb64_into(j->key, pub, sizeof pub);
    assert_true(es256_verify(pub, j->signing_input, strlen(j->signing_input), j->sig));
}

static void jwt_free(struct jwt *j)
{
    free(j->signing_input);
    json_decref(j->header);
    json_decref(j->claims);
}

/* ---- fixture (tests/unit/webpush_vectors/webpush_npm.txt) ---- */

#define MAX_FIELDS  16
#define MAX_RECORDS 32

struct record {
    char *key[MAX_FIELDS];
    char *value[MAX_FIELDS];
    int n;
};

struct fixture {
    struct record r[MAX_RECORDS];
    int n;
};

static const char *field(const struct record *r, const char *key)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->key[i], key) == 0)
            return r->value[i];
    return NULL;
}

static const char *need(const struct record *r, const char *key)
{
    const char *v = field(r, key);
    if (!v)
        fail_msg("fixture record %s lacks %s", field(r, "case"), key);
    return v;
}

/* The fixture sits next to this source file; make runs tests from the top directory. */
static void fixture_load(struct fixture *fx)
{
    const char *slash = strrchr(__FILE__, '/');
    int dirlen = slash ? (int)(slash - __FILE__ + 1) : 0;
    char *path = xasprintf("%.*swebpush_vectors/webpush_npm.txt", dirlen, __FILE__);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    struct record *cur = NULL;

    memset(fx, 0, sizeof *fx);
    while ((got = getline(&line, &cap, f)) >= 0) {
        if (got > 0 && line[got - 1] == '\n')
            line[--got] = '\0';
        if (line[0] == '#')
            continue;
        if (got == 0) {
            cur = NULL;
            continue;
        }
        if (!cur) {
            assert_true(fx->n < MAX_RECORDS);
            cur = &fx->r[fx->n++];
        }
        char *sp = strchr(line, ' ');
        assert_non_null(sp);
        assert_true(cur->n < MAX_FIELDS);
        cur->key[cur->n] = xstrndup(line, (size_t)(sp - line));
        cur->value[cur->n] = xstrdup(sp + 1);
        cur->n++;
    }
    free(line);
    fclose(f);
    free(path);
}

static void fixture_free(struct fixture *fx)
{
    for (int i = 0; i < fx->n; i++)
        for (int k = 0; k < fx->r[i].n; k++) {
            free(fx->r[i].key[k]);
            free(fx->r[i].value[k]);
        }
}

/* ---- encryption ---- */

static void test_rfc8291_vector(void **state)
{
    (void)state;
    struct rfc r;
    unsigned char *out = NULL, *pt = NULL;
    size_t outlen = 0, ptlen = 0;
    rfc_load(&r);

    assert_int_equal(webpush_encrypt_with(r.ua_public, r.auth, r.as_private, r.salt,
                                          (const unsigned char *)rfc_plaintext,
                                          strlen(rfc_plaintext), &out, &outlen),
                     0);
    assert_int_equal(outlen, r.bodylen);
    assert_memory_equal(out, r.body, outlen);
    char *enc = crypto_b64url_encode(out, outlen);
    assert_string_equal(enc, rfc_body);
    free(enc);

    assert_int_equal(webpush_decrypt(r.ua_private, r.auth, r.body, r.bodylen, &pt, &ptlen), 0);
    assert_int_equal(ptlen, strlen(rfc_plaintext));
    assert_memory_equal(pt, rfc_plaintext, ptlen);

    free(pt);
    free(out);
    free(r.body);
}

/* Every body web-push/http_ece made from fixed inputs, reproduced byte for byte. */
static void test_npm_bodies(void **state)
{
    (void)state;
    struct fixture fx;
    int encrypted = 0, decrypted = 0, rejected = 0;
    fixture_load(&fx);

    for (int i = 0; i < fx.n; i++) {
        const struct record *rec = &fx.r[i];
        if (!field(rec, "body"))
            continue;
        unsigned char ua_public[65], ua_private[32], as_private[32], auth[16], salt[16];
        size_t bodylen, ptlen, outlen;
        unb64_into(need(rec, "ua_public"), ua_public, sizeof ua_public);
        unb64_into(need(rec, "ua_private"), ua_private, sizeof ua_private);
        unb64_into(need(rec, "as_private"), as_private, sizeof as_private);
        unb64_into(need(rec, "auth"), auth, sizeof auth);
        unb64_into(need(rec, "salt"), salt, sizeof salt);
        unsigned char *body = unb64(need(rec, "body"), &bodylen);
        unsigned char *plain = unb64(need(rec, "plaintext"), &ptlen);
        unsigned char *out = NULL;

        if (!field(rec, "decrypt_only")) {
            assert_int_equal(webpush_encrypt_with(ua_public, auth, as_private, salt,
                                                  ptlen ? plain : NULL, ptlen, &out, &outlen),
                             0);
            if (outlen != bodylen || memcmp(out, body, bodylen) != 0)
                fail_msg("case %s: body differs from web-push's", need(rec, "case"));
            free(out);
            out = NULL;
            encrypted++;
        }

        int rc = webpush_decrypt(ua_private, auth, body, bodylen, &out, &outlen);
        if (strcmp(need(rec, "decrypt"), "reject") == 0) {
            assert_int_equal(rc, -1);
            assert_null(out);
            /* Cut to its first record, a multi-record body passes the size check
             * and GCM (each record is sealed alone), but that record ends in
             * the 0x01 "more follows" delimiter: a truncation, refused. */
            size_t rs = (size_t)body[18] << 8 | body[19];
            assert_true(body[16] == 0 && body[17] == 0 && WEBPUSH_HEADER_LEN + rs < bodylen);
            assert_int_equal(
                webpush_decrypt(ua_private, auth, body, WEBPUSH_HEADER_LEN + rs, &out, &outlen),
                -1);
            assert_null(out);
            rejected++;
        } else {
            if (rc != 0)
                fail_msg("case %s: decrypt failed", need(rec, "case"));
            assert_int_equal(outlen, ptlen);
            assert_memory_equal(out, plain, ptlen);
            decrypted++;
        }
        free(out);
        free(plain);
        free(body);
    }
    /* rfc8291, json, empty, one-byte, max; + padded, small-rs; multi-record. */
    assert_int_equal(encrypted, 5);
    assert_int_equal(decrypted, 7);
    assert_int_equal(rejected, 1);
    fixture_free(&fx);
}

static void test_random_roundtrip(void **state)
{
    (void)state;
    unsigned char priv[32], pub[65], auth[16];
    unsigned char msg[WEBPUSH_MAX_PLAINTEXT];
    static const size_t lens[] = {0, 1, 15, 16, 17, 100, 1000, WEBPUSH_MAX_PLAINTEXT};

    gen_keypair(priv, pub);
    crypto_random(auth, sizeof auth);
    crypto_random(msg, sizeof msg);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        unsigned char *a = NULL, *b = NULL, *pt = NULL;
        size_t alen, blen, ptlen;
        assert_int_equal(webpush_encrypt(pub, auth, msg, lens[i], &a, &alen), 0);
        assert_int_equal(webpush_encrypt(pub, auth, msg, lens[i], &b, &blen), 0);
        assert_int_equal(alen, WEBPUSH_HEADER_LEN + lens[i] + 1 + WEBPUSH_TAG_LEN);
        assert_true(alen <= WEBPUSH_MAX_BODY);
        /* Header: rs 4096, keyid length 65, keyid an uncompressed point. */
        assert_memory_equal(a + 16, "\x00\x00\x10\x00\x41\x04", 6);
        /* Fresh salt and ephemeral key each time. */
        assert_memory_not_equal(a, b, WEBPUSH_HEADER_LEN);
        assert_int_equal(webpush_decrypt(priv, auth, a, alen, &pt, &ptlen), 0);
        assert_int_equal(ptlen, lens[i]);
        if (ptlen)
            assert_memory_equal(pt, msg, ptlen);
        free(pt);
        free(a);
        free(b);
    }
}

static void test_tampering(void **state)
{
    (void)state;
    struct rfc r;
    unsigned char *pt = NULL;
    size_t ptlen;
    rfc_load(&r);

    /* Any single-bit change anywhere fails: salt (wrong key), keyid length, keyid
     * (not a point, or a wrong shared secret), ciphertext and tag (GCM). The
     * exception is rs (bytes 16-19), which is not authenticated in RFC 8188: it
     * only bounds the record, checked separately below. */
    for (size_t i = 0; i < r.bodylen; i++) {
        if (i >= 16 && i < 20)
            continue;
        for (int bit = 0; bit < 8; bit += 3) {
            r.body[i] ^= (unsigned char)(1u << bit);
            if (webpush_decrypt(r.ua_private, r.auth, r.body, r.bodylen, &pt, &ptlen) != -1)
                fail_msg("flipping bit %d of byte %zu went unnoticed", bit, i);
            assert_null(pt);
            r.body[i] ^= (unsigned char)(1u << bit);
        }
    }

    /* Truncated anywhere, or extended. */
    for (size_t n = 0; n < r.bodylen; n++)
        assert_int_equal(webpush_decrypt(r.ua_private, r.auth, r.body, n, &pt, &ptlen), -1);
    unsigned char *longer = xmalloc(r.bodylen + 1);
    memcpy(longer, r.body, r.bodylen);
    longer[r.bodylen] = 0;
    assert_int_equal(webpush_decrypt(r.ua_private, r.auth, longer, r.bodylen + 1, &pt, &ptlen), -1);
    free(longer);

    /* rs: any value the record fits in is fine; smaller means a second record. */
    size_t ctlen = r.bodylen - WEBPUSH_HEADER_LEN;
    r.body[18] = 0;
    r.body[19] = (unsigned char)ctlen;
    assert_int_equal(webpush_decrypt(r.ua_private, r.auth, r.body, r.bodylen, &pt, &ptlen), 0);
    free(pt);
    r.body[19] = (unsigned char)(ctlen - 1);
    assert_int_equal(webpush_decrypt(r.ua_private, r.auth, r.body, r.bodylen, &pt, &ptlen), -1);
    r.body[19] = 17; /* below the RFC 8188 minimum of 18 */
    assert_int_equal(webpush_decrypt(r.ua_private, r.auth, r.body, r.bodylen, &pt, &ptlen), -1);
    r.body[18] = 0x10;
    r.body[19] = 0;

    /* Wrong auth secret, wrong private key. */
    r.auth[0] ^= 1;
    assert_int_equal(webpush_decrypt(r.ua_private, r.auth, r.body, r.bodylen, &pt, &ptlen), -1);
    r.auth[0] ^= 1;
    unsigned char other[32], other_pub[65];
    gen_keypair(other, other_pub);
    assert_int_equal(webpush_decrypt(other, r.auth, r.body, r.bodylen, &pt, &ptlen), -1);
    /* Private keys that are not scalars in [1, n-1]. */
    memset(other, 0, sizeof other);
    assert_int_equal(webpush_decrypt(other, r.auth, r.body, r.bodylen, &pt, &ptlen), -1);
    memset(other, 0xff, sizeof other);
    assert_int_equal(webpush_decrypt(other, r.auth, r.body, r.bodylen, &pt, &ptlen), -1);

    /* Still intact after all that. */
    assert_int_equal(webpush_decrypt(r.ua_private, r.auth, r.body, r.bodylen, &pt, &ptlen), 0);
    assert_int_equal(ptlen, strlen(rfc_plaintext));
    free(pt);
    free(r.body);
}

static void test_bad_points(void **state)
{
    (void)state;
    struct rfc r;
    unsigned char bad[65];
    unsigned char *out = (unsigned char *)"sentinel";
    size_t outlen = 99;
    const unsigned char *msg = (const unsigned char *)"hi";
    rfc_load(&r);

    /* Off the curve: y + 1 (well, y ^ 1). */
    memcpy(bad, r.ua_public, 65);
    bad[64] ^= 1;
    assert_int_equal(webpush_encrypt(bad, r.auth, msg, 2, &out, &outlen), -1);
    assert_null(out);
    assert_int_equal(outlen, 0);
    assert_int_equal(webpush_encrypt_with(bad, r.auth, r.as_private, r.salt, msg, 2, &out, &outlen),
                     -1);
    /* The same point, compressed or hybrid: valid SEC1 encodings, not Web Push. */
    memcpy(bad, r.ua_public, 65);
    bad[0] = (unsigned char)(0x02 | (r.ua_public[64] & 1));
    assert_int_equal(webpush_encrypt(bad, r.auth, msg, 2, &out, &outlen), -1);
    bad[0] = (unsigned char)(0x06 | (r.ua_public[64] & 1));
    assert_int_equal(webpush_encrypt(bad, r.auth, msg, 2, &out, &outlen), -1);
    /* Zeros, the "point" (0, 0), coordinates above the field prime. */
    memset(bad, 0, sizeof bad);
    assert_int_equal(webpush_encrypt(bad, r.auth, msg, 2, &out, &outlen), -1);
    bad[0] = 0x04;
    assert_int_equal(webpush_encrypt(bad, r.auth, msg, 2, &out, &outlen), -1);
    memset(bad + 1, 0xff, 64);
    assert_int_equal(webpush_encrypt(bad, r.auth, msg, 2, &out, &outlen), -1);

    /* A forged keyid in a body is refused the same way. */
    memcpy(bad, r.ua_public, 65);
    bad[64] ^= 1;
    memcpy(r.body + 21, bad, 65);
    assert_int_equal(webpush_decrypt(r.ua_private, r.auth, r.body, r.bodylen, &out, &outlen), -1);
    free(r.body);
}

static void test_limits_and_args(void **state)
{
    (void)state;
    struct rfc r;
    unsigned char *msg = xcalloc(1, WEBPUSH_MAX_PLAINTEXT + 1);
    unsigned char *out = NULL, *pt = NULL;
    size_t outlen = 0, ptlen;
    rfc_load(&r);

    /* 3993 bytes makes exactly a 4096-byte body; one more is refused. */
    assert_int_equal(
        webpush_encrypt(r.ua_public, r.auth, msg, WEBPUSH_MAX_PLAINTEXT, &out, &outlen), 0);
    assert_int_equal(outlen, WEBPUSH_MAX_BODY);
    free(out);
    out = (unsigned char *)"sentinel";
    assert_int_equal(
        webpush_encrypt(r.ua_public, r.auth, msg, WEBPUSH_MAX_PLAINTEXT + 1, &out, &outlen), -1);
    assert_null(out);
    assert_int_equal(webpush_encrypt_with(r.ua_public, r.auth, r.as_private, r.salt, msg,
                                          WEBPUSH_MAX_PLAINTEXT + 1, &out, &outlen),
                     -1);
    assert_int_equal(webpush_encrypt(r.ua_public, r.auth, msg, SIZE_MAX, &out, &outlen), -1);

    /* An empty payload may come as NULL; a non-empty one may not. */
    assert_int_equal(webpush_encrypt(r.ua_public, r.auth, NULL, 0, &out, &outlen), 0);
    assert_int_equal(outlen, WEBPUSH_HEADER_LEN + 1 + WEBPUSH_TAG_LEN);
    assert_int_equal(webpush_decrypt(r.ua_private, r.auth, out, outlen, &pt, &ptlen), 0);
    assert_int_equal(ptlen, 0);
    free(pt);
    /* Its 17-byte record fits rs = 18, the RFC 8188 minimum; rs = 17 is invalid. */
    out[16] = out[17] = out[18] = 0;
    out[19] = 18;
    assert_int_equal(webpush_decrypt(r.ua_private, r.auth, out, outlen, &pt, &ptlen), 0);
    free(pt);
    out[19] = 17;
    assert_int_equal(webpush_decrypt(r.ua_private, r.auth, out, outlen, &pt, &ptlen), -1);
    free(out);
    assert_int_equal(webpush_encrypt(r.ua_public, r.auth, NULL, 1, &out, &outlen), -1);

    assert_int_equal(webpush_encrypt(NULL, r.auth, msg, 1, &out, &outlen), -1);
    assert_int_equal(webpush_encrypt(r.ua_public, NULL, msg, 1, &out, &outlen), -1);
    assert_int_equal(webpush_encrypt(r.ua_public, r.auth, msg, 1, NULL, &outlen), -1);
    assert_int_equal(webpush_encrypt(r.ua_public, r.auth, msg, 1, &out, NULL), -1);
    assert_int_equal(webpush_encrypt_with(r.ua_public, r.auth, NULL, r.salt, msg, 1, &out, &outlen),
                     -1);
    assert_int_equal(
        webpush_encrypt_with(r.ua_public, r.auth, r.as_private, NULL, msg, 1, &out, &outlen), -1);
    /* Ephemeral keys outside [1, n-1]. */
    unsigned char scalar[32] = {0};
    assert_int_equal(
        webpush_encrypt_with(r.ua_public, r.auth, scalar, r.salt, msg, 1, &out, &outlen), -1);
    memset(scalar, 0xff, sizeof scalar);
    assert_int_equal(
        webpush_encrypt_with(r.ua_public, r.auth, scalar, r.salt, msg, 1, &out, &outlen), -1);
    assert_int_equal(webpush_decrypt(NULL, r.auth, r.body, r.bodylen, &pt, &ptlen), -1);
    assert_int_equal(webpush_decrypt(r.ua_private, NULL, r.body, r.bodylen, &pt, &ptlen), -1);
    assert_int_equal(webpush_decrypt(r.ua_private, r.auth, NULL, r.bodylen, &pt, &ptlen), -1);

    free(msg);
    free(r.body);
}

static void test_check_keys(void **state)
{
    (void)state;
    unsigned char pub[65], auth[16], expect[65];

    assert_int_equal(webpush_check_keys(rfc_ua_public, rfc_auth), 0);
    assert_int_equal(webpush_decode_keys(rfc_ua_public, rfc_auth, pub, auth), 0);
    unb64_into(rfc_ua_public, expect, sizeof expect);
    assert_memory_equal(pub, expect, 65);
    assert_memory_equal(auth, "\x05\x30\x59\x32\xa1\xc7\xea\xbe\x13\xb6\xce\xc9\xfd\xa4\x88\x82",
                        16);
    /* Padding is allowed (some clients send it). */
    char *padded = xasprintf("%s=", rfc_ua_public);
    assert_int_equal(webpush_check_keys(padded, "BTBZMqHH6r4Tts7J_aSIgg=="), 0);
    free(padded);

    /* Wrong lengths. */
    char *short_pub = xstrndup(rfc_ua_public, 86); /* 64 bytes */
    assert_int_equal(webpush_check_keys(short_pub, rfc_auth), -1);
    free(short_pub);
    char *long_pub = xasprintf("%sAA", rfc_ua_public);
    assert_int_equal(webpush_check_keys(long_pub, rfc_auth), -1);
    free(long_pub);
    assert_int_equal(webpush_check_keys(rfc_ua_public, "BTBZMqHH6r4Tts7J_aSI"), -1);     /* 15 */
    assert_int_equal(webpush_check_keys(rfc_ua_public, "BTBZMqHH6r4Tts7J_aSIggAA"), -1); /* 18 */
    assert_int_equal(webpush_check_keys(rfc_ua_public, ""), -1);
    assert_int_equal(webpush_check_keys("", rfc_auth), -1);
    /* Standard base64 is not base64url. */
    assert_int_equal(webpush_check_keys(rfc_ua_public, "BTBZMqHH6r4Tts7J/aSIgg"), -1);
    assert_int_equal(webpush_check_keys(rfc_ua_public, "BTBZMqHH6r4Tts7J aSIgg"), -1);

    /* Right length, not a point. */
    expect[64] ^= 1;
    char *off = crypto_b64url_encode(expect, 65);
    assert_int_equal(webpush_check_keys(off, rfc_auth), -1);
    free(off);
    expect[64] ^= 1;
    expect[0] = 0x02;
    char *compressed = crypto_b64url_encode(expect, 65);
    assert_int_equal(webpush_check_keys(compressed, rfc_auth), -1);
    free(compressed);

    /* Huge input is refused before decoding. */
    char *huge = xmalloc(100001);
    memset(huge, 'A', 100000);
    huge[100000] = '\0';
    assert_int_equal(webpush_check_keys(huge, rfc_auth), -1);
    assert_int_equal(webpush_check_keys(rfc_ua_public, huge), -1);
    free(huge);

    assert_int_equal(webpush_check_keys(NULL, rfc_auth), -1);
    assert_int_equal(webpush_check_keys(rfc_ua_public, NULL), -1);
}

/* ---- VAPID ---- */

struct origin_case {
    const char *url;
    unsigned flags;
    const char *origin; /* NULL: refused */
};

static void test_origin(void **state)
{
    (void)state;
    static const struct origin_case cases[] = {
        {"https://fcm.googleapis.com/fcm/send/dQw4w9WgXcQ:APA91b", 0, "https://fcm.googleapis.com"},
        {"https://updates.push.services.mozilla.com/wpush/v2/gAAA", 0,
         "https://updates.push.services.mozilla.com"},
        {"HTTPS://Web.Push.Apple.COM/QGx0", 0, "https://web.push.apple.com"},
        {"https://push.example.net:8443/p", 0, "https://push.example.net:8443"},
        {"https://push.example.net:443/p", 0, "https://push.example.net"},
        {"https://push.example.net:0443/p", 0, "https://push.example.net"},
        {"https://push.example.net:80/p", 0, "https://push.example.net:80"},
        {"https://push.example.net", 0, "https://push.example.net"},
        {"https://push.example.net?x=1", 0, "https://push.example.net"},
        {"https://push.example.net#frag", 0, "https://push.example.net"},
        {"https://push.example.net/a@b", 0, "https://push.example.net"}, /* '@' in the path */
        {"https://10.0.0.1:9000/p", 0, "https://10.0.0.1:9000"},
        {"https://[2001:DB8::1]:8443/p", 0, "https://[2001:db8::1]:8443"},
        {"https://[::1]/p", 0, "https://[::1]"},
        {"https://a-b.c-d.example:65535/", 0, "https://a-b.c-d.example:65535"},
        /* http only when asked for, with its own default port. */
        {"http://127.0.0.1:8080/push", 0, NULL},
        {"http://127.0.0.1:8080/push", WEBPUSH_ALLOW_HTTP, "http://127.0.0.1:8080"},
        {"http://localhost:80/x", WEBPUSH_ALLOW_HTTP, "http://localhost"},
        {"http://localhost:443/x", WEBPUSH_ALLOW_HTTP, "http://localhost:443"},
        {"https://localhost/x", WEBPUSH_ALLOW_HTTP, "https://localhost"},
        /* Userinfo, and the tricks that make parsers disagree about the host. */
        {"https://user@push.example.net/", 0, NULL},
        {"https://user:pw@push.example.net/", 0, NULL},
        {"https://push.example.net@evil.example/", 0, NULL},
        {"https://push.example.net:443@evil.example/", 0, NULL},
        {"https://evil.example\\@push.example.net/", 0, NULL},
        {"https://push.example.net\\evil/", 0, NULL},
        {"https://[::1]@evil.example/", 0, NULL},
        {"https://exa%6dple.com/", 0, NULL},
        {"https://b\xc3\xbc"
         "cher.example/",
         0, NULL},
        {"https://push.example.net /x", 0, NULL},
        {"https://push.example.net/x y", 0, NULL},
        {" https://push.example.net/", 0, NULL},
        {"https://push.example.net/\n", 0, NULL},
        {"https://push.exa\tmple.net/", 0, NULL},
        {"https://push.example.net\x7f/", 0, NULL},
        /* Bad hosts. */
        {"https://", 0, NULL},
        {"https:///path", 0, NULL},
        {"https://:443/", 0, NULL},
        {"https://push.example.net./", 0, NULL},
        {"https://.example/", 0, NULL},
        {"https://a..b/", 0, NULL},
        {"https://a_b.example/", 0, NULL},
        {"https://[::1/", 0, NULL},
        {"https://[::1]x/", 0, NULL},
        {"https://[]/", 0, NULL},
        {"https://[fe80::1%25eth0]/", 0, NULL},
        {"https://[1.2.3.4]/", 0, NULL},
        {"https://[::g]/", 0, NULL},
        /* Bad ports. */
        {"https://push.example.net:/", 0, NULL},
        {"https://push.example.net:0/", 0, NULL},
        {"https://push.example.net:65536/", 0, NULL},
        {"https://push.example.net:100000/", 0, NULL},
        {"https://push.example.net:12a/", 0, NULL},
        {"https://push.example.net:-1/", 0, NULL},
        {"https://push.example.net:+443/", 0, NULL},
        {"https://push.example.net:443:443/", 0, NULL},
        /* Not https URLs at all. */
        {"ftp://push.example.net/", WEBPUSH_ALLOW_HTTP, NULL},
        {"wss://push.example.net/", 0, NULL},
        {"//push.example.net/", 0, NULL},
        {"https:/push.example.net/", 0, NULL},
        {"https:push.example.net", 0, NULL},
        {"push.example.net/x", 0, NULL},
        {"", 0, NULL},
    };
    char *origin;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct origin_case *c = &cases[i];
        int rc = webpush_origin(c->url, c->flags, &origin);
        if (c->origin) {
            if (rc != 0)
                fail_msg("refused %s", c->url);
            assert_string_equal(origin, c->origin);
            free(origin);
        } else {
            if (rc != -1)
                fail_msg("accepted %s as %s", c->url, origin);
            assert_null(origin);
        }
    }

    /* DNS limits: 63-byte labels, 253-byte names. */
    char label[64], url[600];
    memset(label, 'a', 63);
    label[63] = '\0';
    snprintf(url, sizeof url, "https://%s.example/", label);
    assert_int_equal(webpush_origin(url, 0, &origin), 0);
    free(origin);
    snprintf(url, sizeof url, "https://%sa.example/", label);
    assert_int_equal(webpush_origin(url, 0, &origin), -1);
    snprintf(url, sizeof url, "https://%s.%s.%s.%.61s/", label, label, label, label); /* 253 */
    assert_int_equal(webpush_origin(url, 0, &origin), 0);
    free(origin);
    snprintf(url, sizeof url, "https://%s.%s.%s.%.62s/", label, label, label, label); /* 254 */
    assert_int_equal(webpush_origin(url, 0, &origin), -1);

    /* Over-long URLs are refused outright. */
    char *huge = xmalloc(5000);
    memcpy(huge, "https://a/", 10);
    memset(huge + 10, 'x', 4989);
    huge[4999] = '\0';
    assert_int_equal(webpush_origin(huge, 0, &origin), -1);
    free(huge);

    assert_int_equal(webpush_origin(NULL, 0, &origin), -1);
    assert_int_equal(webpush_origin("https://a/", 0, NULL), -1);
}

static void test_vapid_generate_and_sign(void **state)
{
    (void)state;
    char *pem = NULL, *pub = NULL;
    struct webpush_vapid *v = NULL;
    struct jwt j;

    assert_int_equal(webpush_vapid_generate(&pem, &pub), 0);
    assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
    size_t publen;
    unsigned char *raw = unb64(pub, &publen);
    assert_int_equal(publen, 65);
    assert_int_equal(raw[0], 0x04);
    free(raw);
    assert_int_equal(webpush_check_keys(pub, rfc_auth), 0); /* it is a valid point */

    assert_int_equal(webpush_vapid_load(pem, &v), 0);
    assert_string_equal(webpush_vapid_public(v), pub);

    char *h = webpush_vapid_header(v, "https://Push.Example.com:8443/wpush/v2/abc?x",
                                   "mailto:ops@missive.example", NOW, 43200);
    parse_vapid(h, &j);
    assert_string_equal(j.key, pub);
    assert_int_equal(json_object_size(j.claims), 3);
    assert_string_equal(json_string_value(json_object_get(j.claims, "aud")),
                        "https://push.example.com:8443");
    json_int_t exp = json_integer_value(json_object_get(j.claims, "exp"));
    assert_int_equal(exp, NOW + 43200);
    assert_true(exp <= NOW + 86400);
    assert_string_equal(json_string_value(json_object_get(j.claims, "sub")),
                        "mailto:ops@missive.example");
    /* The verifier is not a rubber stamp: another message fails. */
    unsigned char k[65];
    unb64_into(pub, k, sizeof k);
    j.signing_input[strlen(j.signing_input) - 1] ^= 1;
    assert_false(es256_verify(k, j.signing_input, strlen(j.signing_input), j.sig));
    jwt_free(&j);
    free(h);

    /* The longest lifetime, default port dropped, https subject. */
    h = webpush_vapid_header(v, "https://fcm.googleapis.com:443/fcm/send/x",
                             "https://missive.example/", NOW, WEBPUSH_MAX_TTL);
    parse_vapid(h, &j);
    assert_string_equal(json_string_value(json_object_get(j.claims, "aud")),
                        "https://fcm.googleapis.com");
    assert_int_equal(json_integer_value(json_object_get(j.claims, "exp")), NOW + 86400);
    assert_string_equal(json_string_value(json_object_get(j.claims, "sub")),
                        "https://missive.example/");
    jwt_free(&j);
    free(h);

    /* Many signatures: about 1 in 64 has an R or S with a leading zero byte,
     * which must still come out as 32 bytes each and verify. */
    int short_int = 0;
    for (int i = 0; i < 400; i++) {
        h = webpush_vapid_header(v, "https://push.example/", "mailto:a@b.example", NOW + i, 60);
        parse_vapid(h, &j);
        if (j.sig[0] == 0 || j.sig[32] == 0)
            short_int++;
        jwt_free(&j);
        free(h);
    }
    print_message("%d of 400 signatures had a leading zero byte in R or S\n", short_int);

    /* Two keys are not the same key. */
    char *pem2 = NULL, *pub2 = NULL;
    assert_int_equal(webpush_vapid_generate(&pem2, &pub2), 0);
    assert_string_not_equal(pub, pub2);
    free(pem2);
    free(pub2);

    webpush_vapid_free(v);
    webpush_vapid_free(NULL);
    assert_null(webpush_vapid_public(NULL));
    free(pem);
    free(pub);
    assert_int_equal(webpush_vapid_generate(NULL, &pub), -1);
}

static void test_vapid_header_args(void **state)
{
    (void)state;
    char *pem = NULL, *pub = NULL;
    struct webpush_vapid *v = NULL;
    const char *ep = "https://push.example.net/x";
    const char *sub = "mailto:ops@missive.example";
    char *h;

    assert_int_equal(webpush_vapid_generate(&pem, &pub), 0);
    assert_int_equal(webpush_vapid_load(pem, &v), 0);

    /* Lifetime: 1 s to 24 h. */
    assert_null(webpush_vapid_header(v, ep, sub, NOW, 0));
    assert_null(webpush_vapid_header(v, ep, sub, NOW, -1));
    assert_null(webpush_vapid_header(v, ep, sub, NOW, WEBPUSH_MAX_TTL + 1));
    h = webpush_vapid_header(v, ep, sub, NOW, 1);
    assert_non_null(h);
    free(h);
    assert_null(webpush_vapid_header(v, ep, sub, (time_t)-1, 60));

    /* Subjects: mailto: or https:, non-empty, printable. */
    static const char *bad_subjects[] = {
        "",
        "mailto:",
        "https://",
        "http://missive.example/",
        "ftp://x",
        "ops@missive.example",
        "MAILTO:ops@missive.example",
        "mailto:ops @missive.example",
        "mailto:ops@missive.example\n",
        "mailto:\"x\"\x01@y",
    };
    for (size_t i = 0; i < sizeof bad_subjects / sizeof bad_subjects[0]; i++)
        if (webpush_vapid_header(v, ep, bad_subjects[i], NOW, 60))
            fail_msg("accepted subject %s", bad_subjects[i]);
    /* JSON-special characters are escaped, not refused. */
    struct jwt j;
    h = webpush_vapid_header(v, ep, "mailto:\"o\\ps\"@missive.example", NOW, 60);
    parse_vapid(h, &j);
    assert_string_equal(json_string_value(json_object_get(j.claims, "sub")),
                        "mailto:\"o\\ps\"@missive.example");
    jwt_free(&j);
    free(h);

    /* Endpoints: https only, unless the caller allows http (local test services). */
    assert_null(webpush_vapid_header(v, "http://127.0.0.1:9999/push", sub, NOW, 60));
    assert_null(webpush_vapid_header(v, "https://u@push.example.net/", sub, NOW, 60));
    assert_null(webpush_vapid_header(v, NULL, sub, NOW, 60));
    h = webpush_vapid_header_flags(v, "http://127.0.0.1:9999/push", sub, NOW, 60,
                                   WEBPUSH_ALLOW_HTTP);
    parse_vapid(h, &j);
    assert_string_equal(json_string_value(json_object_get(j.claims, "aud")),
                        "http://127.0.0.1:9999");
    jwt_free(&j);
    free(h);

    assert_null(webpush_vapid_header(NULL, ep, sub, NOW, 60));
    assert_null(webpush_vapid_header(v, ep, NULL, NOW, 60));
    webpush_vapid_free(v);
    free(pem);
    free(pub);
}

/* DER of an SEC1 ECPrivateKey for P-256 with its public key, as OpenSSL and node
 * write it: 30 77 | 02 01 01 | 04 20 <d> | a0 0a <prime256v1> | a1 44 03 42 00 <point>. */
#define SEC1_LEN       121
#define SEC1_PRIV_AT   7
#define SEC1_NOPUB_LEN 51

static void test_vapid_load_refuses(void **state)
{
    (void)state;
    struct webpush_vapid *v = (struct webpush_vapid *)"sentinel";
    EVP_PKEY *k;
    BIO *bio;
    char *data, *pem;
    long n;

    assert_int_equal(webpush_vapid_load(NULL, &v), -1);
    assert_null(v);
    assert_int_equal(webpush_vapid_load("", &v), -1);
    assert_int_equal(webpush_vapid_load("not a key", &v), -1);
    assert_int_equal(
        webpush_vapid_load("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", &v),
        -1);
    assert_int_equal(webpush_vapid_load("x", NULL), -1);

    /* Other curves and key types. */
    static const char *const others[] = {"P-384", "ED25519", "X25519"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        k = i == 0 ? EVP_EC_gen("P-384") : EVP_PKEY_Q_keygen(NULL, NULL, others[i]);
        assert_non_null(k);
        bio = BIO_new(BIO_s_mem());
        assert_int_equal(PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
        n = BIO_get_mem_data(bio, &data);
        pem = xstrndup(data, (size_t)n);
        if (webpush_vapid_load(pem, &v) != -1)
            fail_msg("loaded a %s key", others[i]);
        free(pem);
        BIO_free(bio);
        EVP_PKEY_free(k);
    }

    /* An encrypted key is refused, without prompting for a passphrase. */
    k = EVP_EC_gen("P-256");
    bio = BIO_new(BIO_s_mem());
    assert_int_equal(
        PEM_write_bio_PrivateKey(bio, k, EVP_aes_128_cbc(), (unsigned char *)"pw", 2, NULL, NULL),
        1);
    n = BIO_get_mem_data(bio, &data);
    pem = xstrndup(data, (size_t)n);
    assert_non_null(strstr(pem, "ENCRYPTED"));
    assert_int_equal(webpush_vapid_load(pem, &v), -1);
    free(pem);
    BIO_free(bio);

    /* A public key alone is not a VAPID key. */
    bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, k), 1);
    n = BIO_get_mem_data(bio, &data);
    pem = xstrndup(data, (size_t)n);
    assert_int_equal(webpush_vapid_load(pem, &v), -1);
    free(pem);
    BIO_free(bio);

    /* SEC1 with a public key that belongs to another private key. */
    unsigned char der[SEC1_LEN], *p = der;
    assert_int_equal(i2d_PrivateKey(k, NULL), SEC1_LEN);
    assert_int_equal(i2d_PrivateKey(k, &p), SEC1_LEN);
    unsigned char other_priv[32], other_pub[65];
    gen_keypair(other_priv, other_pub);
    memcpy(der + SEC1_LEN - 65, other_pub, 65);
    pem = pem_wrap("EC PRIVATE KEY", der, sizeof der);
    assert_int_equal(webpush_vapid_load(pem, &v), -1);
    assert_null(v);
    free(pem);

    /* SEC1 without the optional public key (web-push writes these): derived. */
    p = der;
    assert_int_equal(i2d_PrivateKey(k, &p), SEC1_LEN);
    unsigned char expect_pub[65];
    memcpy(expect_pub, der + SEC1_LEN - 65, 65);
    der[1] = SEC1_NOPUB_LEN - 2;
    pem = pem_wrap("EC PRIVATE KEY", der, SEC1_NOPUB_LEN);
    assert_int_equal(webpush_vapid_load(pem, &v), 0);
    char *expect = crypto_b64url_encode(expect_pub, 65);
    assert_string_equal(webpush_vapid_public(v), expect);
    free(expect);
    webpush_vapid_free(v);
    free(pem);
    EVP_PKEY_free(k);
}

/* web-push signed the same claims from the same key: the signed part must match
 * byte for byte, and both signatures must verify. */
static void test_npm_vapid(void **state)
{
    (void)state;
    struct fixture fx;
    int checked = 0;
    fixture_load(&fx);

    for (int i = 0; i < fx.n; i++) {
        const struct record *rec = &fx.r[i];
        if (!field(rec, "authorization"))
            continue;
        char *pem = xasprintf("-----BEGIN EC PRIVATE KEY-----\n%s\n-----END EC PRIVATE KEY-----\n",
                              need(rec, "vapid_private_pem_body"));
        struct webpush_vapid *v = NULL;
        assert_int_equal(webpush_vapid_load(pem, &v), 0);
        assert_string_equal(webpush_vapid_public(v), need(rec, "vapid_public"));

        time_t now = (time_t)atoll(need(rec, "now"));
        int ttl = atoi(need(rec, "ttl"));
        char *ours = webpush_vapid_header(v, need(rec, "endpoint"), need(rec, "subject"), now, ttl);
        struct jwt a, b;
        parse_vapid(ours, &a);
        parse_vapid(need(rec, "authorization"), &b);
        assert_string_equal(a.signing_input, b.signing_input);
        assert_string_equal(a.key, b.key);
        assert_string_equal(json_string_value(json_object_get(a.claims, "aud")), need(rec, "aud"));
        jwt_free(&a);
        jwt_free(&b);
        free(ours);
        webpush_vapid_free(v);
        free(pem);
        checked++;
    }
    assert_int_equal(checked, 2);
    fixture_free(&fx);
}

/* The C-to-node direction, run by hand (see the top of this file). */
static void test_xcheck_export(void **state)
{
    (void)state;
    const char *path = getenv("WEBPUSH_XCHECK_OUT");
    if (!path || !*path)
        skip();
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# Written by tests/unit/test_webpush.c for webpush-xcheck.mjs verify.\n");

    static const size_t lens[] = {0, 1, 41, 300, 1000, 3000, WEBPUSH_MAX_PLAINTEXT};
    unsigned char msg[WEBPUSH_MAX_PLAINTEXT];
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        unsigned char priv[32], pub[65], auth[16], *body = NULL;
        size_t bodylen;
        gen_keypair(priv, pub);
        crypto_random(auth, sizeof auth);
        crypto_random(msg, lens[i]);
        assert_int_equal(webpush_encrypt(pub, auth, msg, lens[i], &body, &bodylen), 0);
        char *s_priv = crypto_b64url_encode(priv, 32), *s_auth = crypto_b64url_encode(auth, 16);
        char *s_msg = crypto_b64url_encode(msg, lens[i]),
             *s_body = crypto_b64url_encode(body, bodylen);
        fprintf(f, "\ncase c-random-%zu\nua_private %s\nauth %s\nplaintext %s\nbody %s\n", lens[i],
                s_priv, s_auth, s_msg, s_body);
        free(s_priv);
        free(s_auth);
        free(s_msg);
        free(s_body);
        free(body);
    }

    static const struct {
        const char *endpoint, *aud, *subject;
    } eps[] = {
        {"https://fcm.googleapis.com/fcm/send/abc", "https://fcm.googleapis.com",
         "mailto:ops@missive.example"},
        {"https://Push.Example.net:8443/wpush/v2/x", "https://push.example.net:8443",
         "https://missive.example/contact"},
    };
    char *pem = NULL, *pub = NULL;
    struct webpush_vapid *v = NULL;
    assert_int_equal(webpush_vapid_generate(&pem, &pub), 0);
    assert_int_equal(webpush_vapid_load(pem, &v), 0);
    time_t now = time(NULL);
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++)
        for (int rep = 0; rep < 50; rep++) {
            char *h = webpush_vapid_header(v, eps[i].endpoint, eps[i].subject, now, 43200);
            assert_non_null(h);
            fprintf(f,
                    "\ncase c-vapid-%zu-%d\naud %s\nsubject %s\nnow %lld\nttl 43200\nauthorization "
                    "%s\n",
                    i, rep, eps[i].aud, eps[i].subject, (long long)now, h);
            free(h);
        }
    webpush_vapid_free(v);
    free(pem);
    free(pub);
    assert_int_equal(fclose(f), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc8291_vector),
        cmocka_unit_test(test_npm_bodies),
        cmocka_unit_test(test_random_roundtrip),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_bad_points),
        cmocka_unit_test(test_limits_and_args),
        cmocka_unit_test(test_check_keys),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_vapid_generate_and_sign),
        cmocka_unit_test(test_vapid_header_args),
        cmocka_unit_test(test_vapid_load_refuses),
        cmocka_unit_test(test_npm_vapid),
        cmocka_unit_test(test_xcheck_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * crypto: CSPRNG, base64url, SHA-256, HMAC-SHA256 and constant-time compare.
 *
 * Randomness comes straight from getrandom(2) so it needs no seeding and works
 * after fork. Owns nothing; encoders return heap strings for the caller.
 * Thread-safe.
 */
#include "crypto.h"
#include "xalloc.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void fatal(const char *what)
{
    fprintf(stderr, "fatal: %s\n", what);
    abort();
}

void crypto_random(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            fatal("getrandom failed"); /* no safe fallback for key material */
        }
        p += got;
        n -= (size_t)got;
    }
}

char *crypto_b64url_encode(const unsigned char *in, size_t n)
{
    if (n > (SIZE_MAX - 4) / 4 * 3)
        fatal("crypto_b64url_encode: input too large");
    char *out = xmalloc((n + 2) / 3 * 4 + 1);
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *o++ = b64url_alphabet[(v >> 18) & 63];
        *o++ = b64url_alphabet[(v >> 12) & 63];
        *o++ = b64url_alphabet[(v >> 6) & 63];
        *o++ = b64url_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        *o++ = b64url_alphabet[(v >> 18) & 63];
        *o++ = b64url_alphabet[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *o++ = b64url_alphabet[(v >> 18) & 63];
        *o++ = b64url_alphabet[(v >> 12) & 63];
        *o++ = b64url_alphabet[(v >> 6) & 63];
    }
    *o = '\0';
    return out;
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

unsigned char *crypto_b64url_decode(const char *in, size_t *outlen)
{
    size_t len = strlen(in);
    unsigned char *out = NULL;

    /* Padding is optional, but if present it must complete the last quantum. */
    size_t pad = 0;
    while (len > 0 && in[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if (pad > 0 && (len + pad) % 4 != 0)
        goto fail;
    if (len % 4 == 1)
        goto fail; /* one leftover character cannot encode a byte */

    out = xmalloc(len / 4 * 3 + 3);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            goto fail;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Leftover bits must be zero, so every byte string has one encoding. */
    if (acc != 0)
        goto fail;
    if (outlen)
        *outlen = o;
    return out;

fail:
    free(out);
    return NULL;
}

void crypto_sha256(const void *in, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    if (EVP_Digest(in, n, out, &len, EVP_sha256(), NULL) != 1 || len != 32)
        fatal("EVP_Digest(sha256) failed");
}

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void crypto_sha256_hex(const void *in, size_t n, char out[65])
{
    unsigned char md[32];
    crypto_sha256(in, n, md);
    hex(md, sizeof md, out);
}

void crypto_hmac_sha256(const void *key, size_t keylen, const void *in, size_t n,
                        unsigned char out[32])
{
    unsigned int len = 0;
    static const unsigned char empty[1];
    if (keylen > INT32_MAX)
        fatal("crypto_hmac_sha256: key too long");
    /* HMAC() treats a NULL key as "reuse the previous one"; never pass NULL. */
    if (!HMAC(EVP_sha256(), key ? key : empty, (int)keylen, in ? in : empty, n, out, &len) ||
        len != 32)
        fatal("HMAC(sha256) failed");
}

char *crypto_random_token(size_t nbytes)
{
    unsigned char *buf = xmalloc(nbytes);
    crypto_random(buf, nbytes);
    char *s = crypto_b64url_encode(buf, nbytes);
    OPENSSL_cleanse(buf, nbytes);
    free(buf);
    return s;
}

void crypto_random_hex16(char out[33])
{
    unsigned char buf[16];
    crypto_random(buf, sizeof buf);
    hex(buf, sizeof buf, out);
}

int crypto_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

/*
 * crypto: the small primitives the rest builds on (OpenSSL underneath).
 */
#ifndef MISSIVE_CRYPTO_H
#define MISSIVE_CRYPTO_H

#include <stddef.h>

/* Fills buf with n bytes from the kernel CSPRNG. Aborts if it cannot. */
void crypto_random(void *buf, size_t n);

/* base64url without padding. Returns a heap string. */
char *crypto_b64url_encode(const unsigned char *in, size_t n);
/* Decodes base64url (padding optional) into a heap buffer; NULL on bad input. */
unsigned char *crypto_b64url_decode(const char *in, size_t *outlen);

/* SHA-256 of in, as 64 lowercase hex chars + NUL into out[65]. */
void crypto_sha256_hex(const void *in, size_t n, char out[65]);
void crypto_sha256(const void *in, size_t n, unsigned char out[32]);
void crypto_hmac_sha256(const void *key, size_t keylen, const void *in, size_t n,
                        unsigned char out[32]);

/* A random token of nbytes, base64url encoded. Heap string. */
char *crypto_random_token(size_t nbytes);

/* A random 128-bit id as 32 hex chars + NUL (request ids). */
void crypto_random_hex16(char out[33]);

/* Constant-time comparison; 1 if equal. */
int crypto_equal(const void *a, const void *b, size_t n);

#endif

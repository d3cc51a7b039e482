/*
 * webpush: the cryptography of Web Push (OpenSSL underneath).
 *
 *  - VAPID (RFC 8292): a P-256 application server key, and the
 *    "Authorization: vapid t=<jwt>, k=<key>" header that proves to a push
 *    service that a push comes from the holder of that key.
 *  - Message encryption (RFC 8291 over RFC 8188 "aes128gcm"): one record, so a
 *    body is at most 4096 bytes, which every push service must accept.
 *
 * No HTTP here: callers send the body with "Content-Encoding: aes128gcm" and the
 * header from webpush_vapid_header() themselves.
 *
 * Functions returning int give 0 on success and -1 on any failure (bad input or
 * a crypto error; nothing more specific is useful to a caller). Heap results
 * belong to the caller. Thread-safe: a loaded struct webpush_vapid may be used by
 * many threads at once.
 */
#ifndef MISSIVE_WEBPUSH_H
#define MISSIVE_WEBPUSH_H

#include <stddef.h>
#include <time.h>

#define WEBPUSH_PUBLIC_LEN  65 /* uncompressed P-256 point: 0x04 || X || Y */
#define WEBPUSH_PRIVATE_LEN 32 /* P-256 scalar, big-endian */
#define WEBPUSH_AUTH_LEN    16 /* subscription auth secret */
#define WEBPUSH_SALT_LEN    16
#define WEBPUSH_RS          4096
/* salt(16) || rs(4) || idlen(1) || keyid = sender public key(65) */
#define WEBPUSH_HEADER_LEN 86
#define WEBPUSH_TAG_LEN    16
/* 4096 = header(86) + plaintext + delimiter(1) + tag(16) */
#define WEBPUSH_MAX_PLAINTEXT 3993
#define WEBPUSH_MAX_BODY      4096
#define WEBPUSH_MAX_TTL       86400 /* RFC 8292 section 2: exp at most 24 h ahead */

/* Flags for webpush_origin() and webpush_vapid_header_flags(). */
#define WEBPUSH_ALLOW_HTTP 1u /* accept http:// endpoints (local test push services only) */

struct webpush_vapid;

/*
 * A new P-256 key pair: *priv_pem_out is a PKCS#8 PEM private key (what
 * webpush_vapid_load takes), *pub_b64url_out the base64url of the 65-byte
 * uncompressed public point (what browsers take as applicationServerKey).
 */
int webpush_vapid_generate(char **priv_pem_out, char **pub_b64url_out);

/*
 * Loads a P-256 private key from PEM (PKCS#8 "PRIVATE KEY" or SEC1 "EC PRIVATE
 * KEY"; encrypted keys are refused). Any other key type or curve is refused.
 */
int webpush_vapid_load(const char *priv_pem, struct webpush_vapid **out);
void webpush_vapid_free(struct webpush_vapid *v);
/* base64url of the uncompressed public point; owned by v. */
const char *webpush_vapid_public(const struct webpush_vapid *v);

/*
 * The full Authorization header value "vapid t=<jwt>, k=<public key>" for a push
 * to endpoint_url. The ES256 JWT carries aud = origin of the endpoint, exp = now +
 * ttl_s (1 ... WEBPUSH_MAX_TTL) and sub = subject ("mailto:..." or "https:...").
 * Only https endpoints are accepted. Heap string, NULL on bad input.
 */
char *webpush_vapid_header(const struct webpush_vapid *v, const char *endpoint_url,
                           const char *subject, time_t now, int ttl_s);
/* The same with WEBPUSH_* flags. */
char *webpush_vapid_header_flags(const struct webpush_vapid *v, const char *endpoint_url,
                                 const char *subject, time_t now, int ttl_s, unsigned flags);

/*
 * The origin "scheme://host[:port]" of a push endpoint URL, lowercased, the port
 * only when not the scheme's default. Refuses anything ambiguous (userinfo,
 * backslashes, percent-encoded or non-ASCII hosts, control characters, bad
 * ports) so that the origin we sign for is the host the HTTP client connects to.
 * Use it to vet endpoints at subscription time too. Heap string in *origin_out.
 */
int webpush_origin(const char *endpoint_url, unsigned flags, char **origin_out);

/*
 * Encrypts plaintext (at most WEBPUSH_MAX_PLAINTEXT bytes; NULL allowed when len
 * is 0) for the subscription keys ua_public (65 bytes, checked to be a point on
 * P-256) and auth_secret (16 bytes), with a fresh ephemeral key and salt.
 * *out is the whole aes128gcm body (heap), *outlen its length.
 */
int webpush_encrypt(const unsigned char *ua_public, const unsigned char *auth_secret,
                    const unsigned char *plaintext, size_t len, unsigned char **out,
                    size_t *outlen);

/*
 * webpush_encrypt with a given ephemeral private key (32 bytes) and salt (16
 * bytes), for known-answer tests. Never reuse either for real messages.
 */
int webpush_encrypt_with(const unsigned char *ua_public, const unsigned char *auth_secret,
                         const unsigned char *as_private, const unsigned char *salt,
                         const unsigned char *plaintext, size_t len, unsigned char **out,
                         size_t *outlen);

/*
 * The user agent's side, for tests: decrypts a single-record aes128gcm body with
 * the subscription's private key (32 bytes) and auth secret. Fails on any
 * tampering, a wrong key or secret, or a malformed body.
 */
int webpush_decrypt(const unsigned char *ua_private, const unsigned char *auth_secret,
                    const unsigned char *body, size_t len, unsigned char **out, size_t *outlen);

/*
 * Decodes a subscription's base64url "p256dh" and "auth" keys into raw bytes,
 * checking that p256dh is an uncompressed point on P-256 and auth is 16 bytes.
 * Either output may be NULL.
 */
int webpush_decode_keys(const char *p256dh_b64url, const char *auth_b64url,
                        unsigned char ua_public[WEBPUSH_PUBLIC_LEN],
                        unsigned char auth_secret[WEBPUSH_AUTH_LEN]);
/* webpush_decode_keys for validation only. */
int webpush_check_keys(const char *p256dh_b64url, const char *auth_b64url);

#endif

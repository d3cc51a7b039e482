/*
 * webpush: VAPID (RFC 8292) and aes128gcm message encryption (RFC 8291, 8188).
 *
 * Everything is OpenSSL 3 EVP plus HKDF spelled out over crypto_hmac_sha256:
 * every HKDF output here is at most one SHA-256 block, so HKDF-Expand is a
 * single HMAC and easy to check against the RFCs.
 *
 * The ES256 signature is computed here rather than by libjwt: a JWS wants R||S
 * (RFC 7518 section 3.4), OpenSSL produces DER, and whether libjwt converts
 * depends on its version (1.10.2 does, earlier ones did not). Doing it here also
 * lets a loaded key be parsed once instead of from PEM on every push.
 *
 * Owns nothing global. Heap results belong to the caller. Key material on the
 * stack is cleansed before returning.
 */
#include "webpush.h"
#include "crypto.h"
#include "xalloc.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#define COORD_LEN   32
#define CEK_LEN     16
#define NONCE_LEN   12
#define MAX_PEM     16384
#define MAX_URL     4096 /* endpoints are a few hundred bytes; this only bounds work */
#define MAX_SUBJECT 1024
#define MAX_HOST    253 /* longest DNS name */

/* Field order and spelling as web-push (npm) emits them, so tokens compare byte for byte. */
#define JWT_HEADER "{\"typ\":\"JWT\",\"alg\":\"ES256\"}"

struct webpush_vapid {
    EVP_PKEY *key;
    char *public_b64url;
};

/* OSSL_PARAM wants a non-const char *; this is never written. */
static char p256_name[] = "prime256v1";

/*
 * The uncompressed point of an EC key. Built from the affine coordinates rather
 * than asked for in encoded form, because the encoded form follows whatever
 * point format the key was parsed with and could be compressed.
 */
static int public_point(const EVP_PKEY *pkey, unsigned char out[WEBPUSH_PUBLIC_LEN])
{
    int ret = -1;
    BIGNUM *x = NULL, *y = NULL;

    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1)
        goto out;
    out[0] = 0x04;
    if (BN_bn2binpad(x, out + 1, COORD_LEN) != COORD_LEN ||
        BN_bn2binpad(y, out + 1 + COORD_LEN, COORD_LEN) != COORD_LEN)
        goto out;
    ret = 0;

out:
    BN_free(x);
    BN_free(y);
    return ret;
}

/* A P-256 public key from 65 bytes, or NULL unless it is a valid point. */
static EVP_PKEY *public_key_from_point(const unsigned char *pub)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL, *check = NULL;
    OSSL_PARAM params[3];
    int ok = 0;

    /* Compressed (0x02/0x03) and hybrid (0x06/0x07) encodings are valid SEC1 that
     * OpenSSL would accept, but RFC 8291 only has the uncompressed form. */
    if (!pub || pub[0] != 0x04)
        goto out;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, p256_name, 0);
    params[1] =
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, WEBPUSH_PUBLIC_LEN);
    params[2] = OSSL_PARAM_construct_end();
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto out;
    /* Decoding already insists on the curve equation; say so explicitly (and
     * rule out the point at infinity) rather than rely on it. */
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (!check || EVP_PKEY_public_check(check) != 1)
        goto out;
    ok = 1;

out:
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    return pkey;
}

/*
 * A P-256 key pair from a 32-byte private scalar (1 <= d < n), with its public
 * point in pub_out. OpenSSL 3.0 does not derive the public half on import, so it
 * is computed here.
 */
static EVP_PKEY *private_key_from_scalar(const unsigned char *priv,
                                         unsigned char pub_out[WEBPUSH_PUBLIC_LEN])
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EC_GROUP *group = NULL;
    EC_POINT *point = NULL;
    BIGNUM *d = NULL;
    BN_CTX *bn = NULL;
    unsigned char native[COORD_LEN]; /* OSSL_PARAM integers are native-endian */
    OSSL_PARAM params[4];
    int ok = 0;

    if (!priv)
        goto out;
    group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    bn = BN_CTX_new();
    d = BN_secure_new();
    point = group ? EC_POINT_new(group) : NULL;
    if (!group || !bn || !d || !point || !BN_bin2bn(priv, COORD_LEN, d))
        goto out;
    BN_set_flags(d, BN_FLG_CONSTTIME);
    if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(group)) >= 0)
        goto out;
    if (EC_POINT_mul(group, point, d, NULL, NULL, bn) != 1 ||
        EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, pub_out, WEBPUSH_PUBLIC_LEN,
                           bn) != WEBPUSH_PUBLIC_LEN)
        goto out;
    if (BN_bn2nativepad(d, native, sizeof native) != (int)sizeof native)
        goto out;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, p256_name, 0);
    params[1] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, native, sizeof native);
    params[2] =
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub_out, WEBPUSH_PUBLIC_LEN);
    params[3] = OSSL_PARAM_construct_end();
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1)
        goto out;
    ok = 1;

out:
    OPENSSL_cleanse(native, sizeof native);
    EVP_PKEY_CTX_free(ctx);
    BN_clear_free(d);
    BN_CTX_free(bn);
    EC_POINT_free(point);
    EC_GROUP_free(group);
    if (!ok) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    return pkey;
}

/* The ECDH shared secret: the X coordinate of own * peer. */
static int ecdh(EVP_PKEY *own, EVP_PKEY *peer, unsigned char secret[COORD_LEN])
{
    int ret = -1;
    size_t len = COORD_LEN;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL);

    if (!ctx || EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, peer) != 1 ||
        EVP_PKEY_derive(ctx, secret, &len) != 1 || len != COORD_LEN)
        goto out;
    ret = 0;

out:
    EVP_PKEY_CTX_free(ctx);
    return ret;
}

/* HKDF-Expand (RFC 5869) for len <= 32: T(1) = HMAC(PRK, info || 0x01). */
static void hkdf_expand(const unsigned char prk[32], const void *info, size_t infolen,
                        unsigned char *out, size_t len)
{
    unsigned char buf[160]; /* the longest info, key_info, is 144 bytes */
    unsigned char t[32];

    assert(infolen < sizeof buf && len <= sizeof t);
    memcpy(buf, info, infolen);
    buf[infolen] = 0x01;
    crypto_hmac_sha256(prk, 32, buf, infolen + 1, t);
    memcpy(out, t, len);
    OPENSSL_cleanse(buf, sizeof buf);
    OPENSSL_cleanse(t, sizeof t);
}

/*
 * RFC 8291 section 3.3-3.4, then RFC 8188 section 2.2-2.3: the content
 * encryption key and nonce. own/peer are the two ends of the ECDH (the sender's
 * ephemeral key and the subscription key, either way round).
 */
static int derive_cek_nonce(EVP_PKEY *own, EVP_PKEY *peer,
                            const unsigned char ua_public[WEBPUSH_PUBLIC_LEN],
                            const unsigned char as_public[WEBPUSH_PUBLIC_LEN],
                            const unsigned char *auth_secret, const unsigned char *salt,
                            unsigned char cek[CEK_LEN], unsigned char nonce[NONCE_LEN])
{
    static const char info_prefix[] = "WebPush: info"; /* sizeof includes the NUL */
    static const char cek_info[] = "Content-Encoding: aes128gcm";
    static const char nonce_info[] = "Content-Encoding: nonce";
    unsigned char ecdh_secret[COORD_LEN], prk_key[32], ikm[32], prk[32];
    unsigned char key_info[sizeof info_prefix + 2 * WEBPUSH_PUBLIC_LEN];
    int ret = -1;

    if (ecdh(own, peer, ecdh_secret) != 0)
        goto out;
    /* PRK_key = HKDF-Extract(salt = auth_secret, IKM = ecdh_secret) */
    crypto_hmac_sha256(auth_secret, WEBPUSH_AUTH_LEN, ecdh_secret, sizeof ecdh_secret, prk_key);
    /* key_info = "WebPush: info" || 0x00 || ua_public || as_public */
    memcpy(key_info, info_prefix, sizeof info_prefix);
    memcpy(key_info + sizeof info_prefix, ua_public, WEBPUSH_PUBLIC_LEN);
    memcpy(key_info + sizeof info_prefix + WEBPUSH_PUBLIC_LEN, as_public, WEBPUSH_PUBLIC_LEN);
    hkdf_expand(prk_key, key_info, sizeof key_info, ikm, sizeof ikm);
    /* RFC 8188: PRK = HKDF-Extract(salt, IKM), then the key and nonce, each info
     * with its terminating NUL. */
    crypto_hmac_sha256(salt, WEBPUSH_SALT_LEN, ikm, sizeof ikm, prk);
    hkdf_expand(prk, cek_info, sizeof cek_info, cek, CEK_LEN);
    hkdf_expand(prk, nonce_info, sizeof nonce_info, nonce, NONCE_LEN);
    ret = 0;

out:
    OPENSSL_cleanse(ecdh_secret, sizeof ecdh_secret);
    OPENSSL_cleanse(prk_key, sizeof prk_key);
    OPENSSL_cleanse(ikm, sizeof ikm);
    OPENSSL_cleanse(prk, sizeof prk);
    return ret;
}

/* The body for plaintext under the sender key as_key: header, one record, tag. */
static int encrypt_body(EVP_PKEY *as_key, const unsigned char *ua_public,
                        const unsigned char *auth_secret, const unsigned char *salt,
                        const unsigned char *plaintext, size_t len, unsigned char **out,
                        size_t *outlen)
{
    static const unsigned char last_record = 0x02; /* RFC 8188 section 2: padding delimiter */
    unsigned char as_public[WEBPUSH_PUBLIC_LEN], cek[CEK_LEN], nonce[NONCE_LEN];
    EVP_PKEY *ua_key = NULL;
    EVP_CIPHER_CTX *gcm = NULL;
    unsigned char *body = NULL, *ct;
    size_t bodylen = WEBPUSH_HEADER_LEN + len + 1 + WEBPUSH_TAG_LEN;
    int n1 = 0, n2 = 0, n3 = 0, ret = -1;

    if (!ua_public || !auth_secret || !salt || (!plaintext && len > 0) ||
        len > WEBPUSH_MAX_PLAINTEXT)
        goto out;
    ua_key = public_key_from_point(ua_public);
    if (!ua_key || public_point(as_key, as_public) != 0)
        goto out;
    if (derive_cek_nonce(as_key, ua_key, ua_public, as_public, auth_secret, salt, cek, nonce) != 0)
        goto out;

    /* RFC 8188 section 2.1 header; the keyid is the sender's public key (RFC 8291
     * section 4). */
    body = xmalloc(bodylen);
    memcpy(body, salt, WEBPUSH_SALT_LEN);
    body[16] = (unsigned char)(WEBPUSH_RS >> 24);
    body[17] = (unsigned char)(WEBPUSH_RS >> 16);
    body[18] = (unsigned char)(WEBPUSH_RS >> 8);
    body[19] = (unsigned char)WEBPUSH_RS;
    body[20] = WEBPUSH_PUBLIC_LEN;
    memcpy(body + 21, as_public, WEBPUSH_PUBLIC_LEN);
    ct = body + WEBPUSH_HEADER_LEN;

    /* The record is plaintext || 0x02 with no further padding. Its sequence
     * number is 0, so the nonce is used as derived. */
    gcm = EVP_CIPHER_CTX_new();
    if (!gcm || EVP_EncryptInit_ex(gcm, EVP_aes_128_gcm(), NULL, cek, nonce) != 1)
        goto out;
    if (len > 0 && EVP_EncryptUpdate(gcm, ct, &n1, plaintext, (int)len) != 1)
        goto out;
    if (EVP_EncryptUpdate(gcm, ct + n1, &n2, &last_record, 1) != 1 ||
        EVP_EncryptFinal_ex(gcm, ct + n1 + n2, &n3) != 1)
        goto out;
    /* GCM is a stream mode: exactly one output byte per input byte. */
    if ((size_t)n1 + (size_t)n2 + (size_t)n3 != len + 1)
        goto out;
    if (EVP_CIPHER_CTX_ctrl(gcm, EVP_CTRL_GCM_GET_TAG, WEBPUSH_TAG_LEN, ct + len + 1) != 1)
        goto out;

    *out = body;
    *outlen = bodylen;
    body = NULL;
    ret = 0;

out:
    OPENSSL_cleanse(cek, sizeof cek);
    OPENSSL_cleanse(nonce, sizeof nonce);
    free(body);
    EVP_CIPHER_CTX_free(gcm);
    EVP_PKEY_free(ua_key);
    return ret;
}

int webpush_encrypt_with(const unsigned char *ua_public, const unsigned char *auth_secret,
                         const unsigned char *as_private, const unsigned char *salt,
                         const unsigned char *plaintext, size_t len, unsigned char **out,
                         size_t *outlen)
{
    unsigned char as_public[WEBPUSH_PUBLIC_LEN];
    EVP_PKEY *as_key = NULL;
    int ret = -1;

    if (!out || !outlen)
        goto out;
    *out = NULL;
    *outlen = 0;
    as_key = private_key_from_scalar(as_private, as_public);
    if (!as_key)
        goto out;
    ret = encrypt_body(as_key, ua_public, auth_secret, salt, plaintext, len, out, outlen);

out:
    EVP_PKEY_free(as_key);
    if (ret != 0)
        ERR_clear_error(); /* leave no stale errors for the next OpenSSL user on this thread */
    return ret;
}

int webpush_encrypt(const unsigned char *ua_public, const unsigned char *auth_secret,
                    const unsigned char *plaintext, size_t len, unsigned char **out, size_t *outlen)
{
    unsigned char salt[WEBPUSH_SALT_LEN];
    EVP_PKEY *as_key = NULL;
    int ret = -1;

    if (!out || !outlen)
        goto out;
    *out = NULL;
    *outlen = 0;
    /* A fresh key pair and salt per message (RFC 8291 section 3.1). */
    as_key = EVP_EC_gen(p256_name);
    if (!as_key)
        goto out;
    crypto_random(salt, sizeof salt);
    ret = encrypt_body(as_key, ua_public, auth_secret, salt, plaintext, len, out, outlen);

out:
    EVP_PKEY_free(as_key);
    if (ret != 0)
        ERR_clear_error();
    return ret;
}

int webpush_decrypt(const unsigned char *ua_private, const unsigned char *auth_secret,
                    const unsigned char *body, size_t len, unsigned char **out, size_t *outlen)
{
    unsigned char ua_public[WEBPUSH_PUBLIC_LEN], cek[CEK_LEN], nonce[NONCE_LEN];
    EVP_PKEY *ua_key = NULL, *as_key = NULL;
    EVP_CIPHER_CTX *gcm = NULL;
    unsigned char *pt = NULL;
    const unsigned char *ct, *tag;
    size_t ctlen, end = 0;
    uint32_t rs;
    int n1 = 0, n2 = 0, ret = -1;

    if (!out || !outlen)
        goto out;
    *out = NULL;
    *outlen = 0;
    if (!ua_private || !auth_secret || !body)
        goto out;
    /* A header and at least the delimiter and tag; one record only (an rs-sized
     * record followed by more is a multi-record body, which we never send). */
    if (len < WEBPUSH_HEADER_LEN + 1 + WEBPUSH_TAG_LEN)
        goto out;
    rs = (uint32_t)body[16] << 24 | (uint32_t)body[17] << 16 | (uint32_t)body[18] << 8 | body[19];
    ctlen = len - WEBPUSH_HEADER_LEN;
    if (body[20] != WEBPUSH_PUBLIC_LEN || rs < 18 || ctlen > rs)
        goto out;
    as_key = public_key_from_point(body + 21);
    ua_key = private_key_from_scalar(ua_private, ua_public);
    if (!as_key || !ua_key)
        goto out;
    if (derive_cek_nonce(ua_key, as_key, ua_public, body + 21, auth_secret, body, cek, nonce) != 0)
        goto out;

    ct = body + WEBPUSH_HEADER_LEN;
    ctlen -= WEBPUSH_TAG_LEN;
    tag = ct + ctlen;
    pt = xmalloc(ctlen);
    gcm = EVP_CIPHER_CTX_new();
    if (!gcm || EVP_DecryptInit_ex(gcm, EVP_aes_128_gcm(), NULL, cek, nonce) != 1 ||
        EVP_DecryptUpdate(gcm, pt, &n1, ct, (int)ctlen) != 1 ||
        EVP_CIPHER_CTX_ctrl(gcm, EVP_CTRL_GCM_SET_TAG, WEBPUSH_TAG_LEN, (void *)tag) != 1 ||
        EVP_DecryptFinal_ex(gcm, pt + n1, &n2) != 1)
        goto out;
    if ((size_t)n1 + (size_t)n2 != ctlen)
        goto out;

    /* RFC 8188 section 2: data || delimiter || zero padding; the only record is the
     * last, so its delimiter must be 0x02. */
    end = ctlen;
    while (end > 0 && pt[end - 1] == 0)
        end--;
    if (end == 0 || pt[end - 1] != 0x02)
        goto out;
    end--;
    *out = pt;
    *outlen = end;
    pt = NULL;
    ret = 0;

out:
    OPENSSL_cleanse(cek, sizeof cek);
    OPENSSL_cleanse(nonce, sizeof nonce);
    if (pt) {
        OPENSSL_cleanse(pt, ctlen);
        free(pt);
    }
    EVP_CIPHER_CTX_free(gcm);
    EVP_PKEY_free(as_key);
    EVP_PKEY_free(ua_key);
    if (ret != 0)
        ERR_clear_error();
    return ret;
}

int webpush_decode_keys(const char *p256dh_b64url, const char *auth_b64url,
                        unsigned char ua_public[WEBPUSH_PUBLIC_LEN],
                        unsigned char auth_secret[WEBPUSH_AUTH_LEN])
{
    unsigned char *pub = NULL, *auth = NULL;
    size_t publen = 0, authlen = 0;
    EVP_PKEY *key = NULL;
    int ret = -1;

    if (!p256dh_b64url || !auth_b64url)
        goto out;
    /* Bound the input before decoding it: 88 and 24 are the padded encodings. */
    if (strnlen(p256dh_b64url, 89) > 88 || strnlen(auth_b64url, 25) > 24)
        goto out;
    pub = crypto_b64url_decode(p256dh_b64url, &publen);
    auth = crypto_b64url_decode(auth_b64url, &authlen);
    if (!pub || publen != WEBPUSH_PUBLIC_LEN || !auth || authlen != WEBPUSH_AUTH_LEN)
        goto out;
    key = public_key_from_point(pub);
    if (!key)
        goto out;
    if (ua_public)
        memcpy(ua_public, pub, WEBPUSH_PUBLIC_LEN);
    if (auth_secret)
        memcpy(auth_secret, auth, WEBPUSH_AUTH_LEN);
    ret = 0;

out:
    if (auth)
        OPENSSL_cleanse(auth, authlen);
    free(auth);
    free(pub);
    EVP_PKEY_free(key);
    if (ret != 0)
        ERR_clear_error();
    return ret;
}

int webpush_check_keys(const char *p256dh_b64url, const char *auth_b64url)
{
    return webpush_decode_keys(p256dh_b64url, auth_b64url, NULL, NULL);
}

/* ---- VAPID ---- */

/* Refuses any passphrase prompt: OpenSSL's default callback reads the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

int webpush_vapid_generate(char **priv_pem_out, char **pub_b64url_out)
{
    unsigned char pub[WEBPUSH_PUBLIC_LEN];
    EVP_PKEY *key = NULL;
    BIO *bio = NULL;
    char *data = NULL;
    long n;
    int ret = -1;

    if (!priv_pem_out || !pub_b64url_out)
        goto out;
    *priv_pem_out = NULL;
    *pub_b64url_out = NULL;
    key = EVP_EC_gen(p256_name);
    /* secmem: the PEM buffer is wiped when freed */
    bio = BIO_new(BIO_s_secmem());
    if (!key || !bio || public_point(key, pub) != 0)
        goto out;
    if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1)
        goto out;
    n = BIO_get_mem_data(bio, &data);
    if (n <= 0 || !data)
        goto out;
    *priv_pem_out = xstrndup(data, (size_t)n);
    *pub_b64url_out = crypto_b64url_encode(pub, sizeof pub);
    ret = 0;

out:
    BIO_free(bio);
    EVP_PKEY_free(key);
    if (ret != 0)
        ERR_clear_error();
    return ret;
}

int webpush_vapid_load(const char *priv_pem, struct webpush_vapid **out)
{
    unsigned char pub[WEBPUSH_PUBLIC_LEN];
    char group[32];
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *check = NULL;
    BIO *bio = NULL;
    struct webpush_vapid *v = NULL;
    size_t len;
    int ret = -1;

    if (!out)
        goto out;
    *out = NULL;
    if (!priv_pem)
        goto out;
    len = strnlen(priv_pem, MAX_PEM + 1);
    if (len == 0 || len > MAX_PEM)
        goto out;
    bio = BIO_new_mem_buf(priv_pem, (int)len);
    if (!bio)
        goto out;
    key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    if (!key || !EVP_PKEY_is_a(key, "EC"))
        goto out;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       NULL) != 1 ||
        strcmp(group, p256_name) != 0)
        goto out;
    /* A PEM may carry a public key that does not belong to the private one; the
     * full check catches that before we advertise the wrong key. */
    check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    if (!check || EVP_PKEY_check(check) != 1 || public_point(key, pub) != 0)
        goto out;

    v = xcalloc(1, sizeof *v);
    v->key = key;
    v->public_b64url = crypto_b64url_encode(pub, sizeof pub);
    key = NULL;
    *out = v;
    ret = 0;

out:
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_free(key);
    BIO_free(bio);
    if (ret != 0)
        ERR_clear_error();
    return ret;
}

void webpush_vapid_free(struct webpush_vapid *v)
{
    if (!v)
        return;
    EVP_PKEY_free(v->key);
    free(v->public_b64url);
    free(v);
}

const char *webpush_vapid_public(const struct webpush_vapid *v)
{
    return v ? v->public_b64url : NULL;
}

/* IPv6 literal between the brackets: hex digits, colons, dots; inet_pton decides. */
static int valid_ipv6(const char *s, size_t n)
{
    char buf[64];
    unsigned char addr[16];

    if (n == 0 || n >= sizeof buf)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
            return 0; /* in particular no "%25" zone id */
    memcpy(buf, s, n);
    buf[n] = '\0';
    return inet_pton(AF_INET6, buf, addr) == 1;
}

/* A DNS name (or dotted IPv4): LDH labels of 1-63 characters, no empty label. */
static int valid_hostname(const char *s, size_t n)
{
    size_t label = 0;

    if (n == 0 || n > MAX_HOST)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if (isalnum(c) || c == '-') {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    /* A trailing dot names the same host but a different origin string. */
    if (label == 0)
        return 0;
    /* A name ending in digits is an IPv4 address to resolvers ("127.1",
     * "2130706433", "0x7f.1"): only the canonical dotted quad is accepted, so
     * the origin we sign for is the host we connect to. */
    int digits = 1;
    for (size_t i = n - label; i < n; i++)
        digits = digits && isdigit((unsigned char)s[i]);
    if (digits || (label > 1 && s[n - label] == '0' && (s[n - label + 1] | 0x20) == 'x')) {
        char buf[MAX_HOST + 1];
        struct in_addr a4;
        memcpy(buf, s, n);
        buf[n] = '\0';
        return inet_pton(AF_INET, buf, &a4) == 1;
    }
    return 1;
}

int webpush_origin(const char *endpoint_url, unsigned flags, char **origin_out)
{
    const char *scheme, *p, *auth_end, *host, *host_end, *port_str = NULL;
    unsigned long default_port, port = 0;
    char lower[MAX_HOST + 3]; /* room for an IPv6 literal's brackets */
    size_t len, hostlen;
    int ret = -1;

    if (!origin_out)
        goto out;
    *origin_out = NULL;
    if (!endpoint_url)
        goto out;
    len = strnlen(endpoint_url, MAX_URL + 1);
    if (len > MAX_URL)
        goto out;
    /* URL parsers differ over whitespace, controls and non-ASCII (they strip,
     * ignore or IDNA-map them); refuse them so no two readings can exist. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)endpoint_url[i];
        if (c <= 0x20 || c >= 0x7f)
            goto out;
    }
    if (strncasecmp(endpoint_url, "https://", 8) == 0) {
        scheme = "https";
        default_port = 443;
        p = endpoint_url + 8;
    } else if ((flags & WEBPUSH_ALLOW_HTTP) && strncasecmp(endpoint_url, "http://", 7) == 0) {
        scheme = "http";
        default_port = 80;
        p = endpoint_url + 7;
    } else {
        goto out;
    }

    /* The authority ends at the path, query or fragment. A '\' is a path
     * separator to browsers but not to curl, and '@' introduces userinfo
     * ("https://push.example@evil.example/"): both are refused by the host and
     * port character checks below, because each only allows its own characters. */
    auth_end = p + strcspn(p, "/?#");
    host = p;
    if (*host == '[') {
        host_end = memchr(host, ']', (size_t)(auth_end - host));
        if (!host_end || !valid_ipv6(host + 1, (size_t)(host_end - host - 1)))
            goto out;
        host_end++;
    } else {
        host_end = memchr(host, ':', (size_t)(auth_end - host));
        if (!host_end)
            host_end = auth_end;
        if (!valid_hostname(host, (size_t)(host_end - host)))
            goto out;
    }
    if (host_end != auth_end) {
        if (*host_end != ':')
            goto out;
        port_str = host_end + 1;
        size_t digits = (size_t)(auth_end - port_str);
        /* An empty port is legal URL syntax but no endpoint has one; refuse. */
        if (digits == 0 || digits > 5)
            goto out;
        for (size_t i = 0; i < digits; i++) {
            if (!isdigit((unsigned char)port_str[i]))
                goto out;
            port = port * 10 + (unsigned long)(port_str[i] - '0');
        }
        if (port == 0 || port > 65535)
            goto out;
    }

    hostlen = (size_t)(host_end - host);
    if (hostlen >= sizeof lower)
        goto out;
    for (size_t i = 0; i < hostlen; i++)
        lower[i] = (char)tolower((unsigned char)host[i]);
    lower[hostlen] = '\0';
    /* RFC 6454 serialization: the default port is left out. */
    if (port_str && port != default_port)
        *origin_out = xasprintf("%s://%s:%lu", scheme, lower, port);
    else
        *origin_out = xasprintf("%s://%s", scheme, lower);
    ret = 0;

out:
    return ret;
}

/* RFC 8292 section 2.1: a mailto: or https: URI. Printable ASCII only. */
static int valid_subject(const char *s)
{
    size_t n = strnlen(s, MAX_SUBJECT + 1);
    size_t prefix;

    if (n > MAX_SUBJECT)
        return 0;
    if (strncmp(s, "mailto:", 7) == 0)
        prefix = 7;
    else if (strncmp(s, "https://", 8) == 0)
        prefix = 8;
    else
        return 0;
    if (n == prefix)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

/* ES256 over msg, in the JWS form R||S (RFC 7518 section 3.4), not DER. */
static int es256_sign(EVP_PKEY *key, const char *msg, unsigned char sig[64])
{
    unsigned char der[80]; /* a DER P-256 signature is at most 72 bytes */
    size_t derlen = sizeof der;
    const unsigned char *p = der;
    const BIGNUM *r = NULL, *s = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ECDSA_SIG *es = NULL;
    int ret = -1;

    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, der, &derlen, (const unsigned char *)msg, strlen(msg)) != 1)
        goto out;
    es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    if (!es)
        goto out;
    ECDSA_SIG_get0(es, &r, &s);
    /* Each integer left-padded to 32 bytes: about 1 signature in 128 has a
     * shorter R or S, which a naive conversion gets wrong. */
    if (BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s, sig + 32, 32) != 32)
        goto out;
    ret = 0;

out:
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
    return ret;
}

char *webpush_vapid_header_flags(const struct webpush_vapid *v, const char *endpoint_url,
                                 const char *subject, time_t now, int ttl_s, unsigned flags)
{
    unsigned char sig[64];
    char *origin = NULL, *claims_json = NULL, *h64 = NULL, *c64 = NULL, *input = NULL;
    char *sig64 = NULL, *header = NULL;
    json_t *claims = NULL;

    if (!v || !subject || !valid_subject(subject))
        goto out;
    if (ttl_s < 1 || ttl_s > WEBPUSH_MAX_TTL || now < 0 ||
        (long long)now > LLONG_MAX - WEBPUSH_MAX_TTL)
        goto out;
    if (webpush_origin(endpoint_url, flags, &origin) != 0)
        goto out;
    /* Claims in web-push's order (aud, exp, sub); jansson keeps insertion order. */
    claims = json_pack("{s:s, s:I, s:s}", "aud", origin, "exp",
                       (json_int_t)((long long)now + ttl_s), "sub", subject);
    if (!claims)
        goto out;
    claims_json = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!claims_json)
        goto out;
    h64 = crypto_b64url_encode((const unsigned char *)JWT_HEADER, strlen(JWT_HEADER));
    c64 = crypto_b64url_encode((const unsigned char *)claims_json, strlen(claims_json));
    input = xasprintf("%s.%s", h64, c64);
    if (es256_sign(v->key, input, sig) != 0)
        goto out;
    sig64 = crypto_b64url_encode(sig, sizeof sig);
    header = xasprintf("vapid t=%s.%s, k=%s", input, sig64, v->public_b64url);

out:
    free(sig64);
    free(input);
    free(c64);
    free(h64);
    free(claims_json);
    json_decref(claims);
    free(origin);
    if (!header)
        ERR_clear_error();
    return header;
}

char *webpush_vapid_header(const struct webpush_vapid *v, const char *endpoint_url,
                           const char *subject, time_t now, int ttl_s)
{
    return webpush_vapid_header_flags(v, endpoint_url, subject, now, ttl_s, 0);
}

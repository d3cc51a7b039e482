/*
 * storage: the backend switch, media types and keys (see storage.h).
 */
#include "storage_internal.h"

#include "crypto.h"
#include "xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every type we can store, with the extension its keys end in. nginx's media
 * location (deploy/nginx.conf.template) maps the same extensions back to these
 * types: keep the two lists in step. Only types that browsers display without
 * running anything: no SVG, HTML, XML or PDF.
 */
static const struct {
    const char *type;
    const char *ext;
} known_types[] = {
    {"image/jpeg", "jpg"},  {"image/png", "png"},        {"image/webp", "webp"},
    {"image/gif", "gif"},   {"image/avif", "avif"},      {"video/mp4", "mp4"},
    {"video/webm", "webm"}, {"video/quicktime", "mov"},  {"audio/mpeg", "mp3"},
    {"audio/ogg", "ogg"},   {"audio/mp4", "m4a"},        {"audio/aac", "aac"},
};
#define N_KNOWN (sizeof known_types / sizeof known_types[0])

/* A single PUT is limited to 5 GiB by S3. */
#define MAX_OBJECT_SIZE (5LL * 1024 * 1024 * 1024)

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

const char *storage_ext_for_type(const char *content_type)
{
    if (!content_type)
        return NULL;
    for (size_t i = 0; i < N_KNOWN; i++)
        if (strcmp(known_types[i].type, content_type) == 0)
            return known_types[i].ext;
    return NULL;
}

/* Parses "type:size,..." into out (may be NULL: check only). Count, or -1. */
static int parse_types(const char *spec, struct storage_type_limit *out, int max, char *err,
                       size_t errlen)
{
    const char *p = spec;
    int n = 0;

    if (!spec || !*spec) {
        errf(err, errlen, "media_types: empty (list type:size pairs)");
        return -1;
    }
    while (*p) {
        char type[STORAGE_CTYPE_MAX + 1];
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
        const char *colon = memchr(p, ':', (size_t)(end - p));
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (!colon || colon <= p) {
            errf(err, errlen, "media_types: '%.*s' is not type:size", (int)(end - p), p);
            return -1;
        }
        size_t tlen = (size_t)(colon - p);
        while (tlen > 0 && isspace((unsigned char)p[tlen - 1]))
            tlen--;
        if (tlen > STORAGE_CTYPE_MAX) {
            errf(err, errlen, "media_types: type too long");
            return -1;
        }
        memcpy(type, p, tlen);
        type[tlen] = '\0';
        if (!storage_ext_for_type(type)) {
            errf(err, errlen,
                 "media_types: '%s' is not a type Missive can store (image/jpeg, image/png, "
                 "image/webp, image/gif, image/avif, video/mp4, video/webm, video/quicktime, "
                 "audio/mpeg, audio/ogg, audio/mp4, audio/aac)",
                 type);
            return -1;
        }
        const char *s = colon + 1;
        while (s < end && isspace((unsigned char)*s))
            s++;
        char *num_end = NULL;
        errno = 0;
        if (!isdigit((unsigned char)*s)) {
            errf(err, errlen, "media_types: %s: size is not a number", type);
            return -1;
        }
        long long v = strtoll(s, &num_end, 10);
        long long mult = 1;
        if (num_end < end && (*num_end == 'K' || *num_end == 'k'))
            mult = 1024, num_end++;
        else if (num_end < end && (*num_end == 'M' || *num_end == 'm'))
            mult = 1024 * 1024, num_end++;
        else if (num_end < end && (*num_end == 'G' || *num_end == 'g'))
            mult = 1024 * 1024 * 1024, num_end++;
        while (num_end < end && isspace((unsigned char)*num_end))
            num_end++;
        if (errno || num_end != end || v < 1 || v > MAX_OBJECT_SIZE / mult) {
            errf(err, errlen, "media_types: %s: size must be 1 byte to 5G", type);
            return -1;
        }
        for (int i = 0; out && i < n; i++)
            if (strcmp(out[i].type, type) == 0) {
                errf(err, errlen, "media_types: %s listed twice", type);
                return -1;
            }
        if (n >= max) {
            errf(err, errlen, "media_types: more than %d types", max);
            return -1;
        }
        if (out) {
            snprintf(out[n].type, sizeof out[n].type, "%s", type);
            out[n].max = v * mult;
        }
        n++;
        p = comma ? comma + 1 : end;
    }
    return n;
}

int storage_check_media_types(const char *spec, char *err, size_t errlen)
{
    struct storage_type_limit tmp[STORAGE_MAX_TYPES];
    return parse_types(spec, tmp, STORAGE_MAX_TYPES, err, errlen) < 0 ? -1 : 0;
}

struct storage *storage_new(const struct config *cfg, char *err, size_t errlen)
{
    struct storage *s = xcalloc(1, sizeof *s);
    size_t cap = 1;
    int rc;

    s->ntypes = parse_types(cfg->media_types, s->types, STORAGE_MAX_TYPES, err, errlen);
    if (s->ntypes < 0)
        goto fail;
    for (int i = 0; i < s->ntypes; i++)
        cap += strlen(s->types[i].type) + 2;
    s->allowed = xcalloc(1, cap);
    for (int i = 0; i < s->ntypes; i++) {
        if (i)
            strcat(s->allowed, ", ");
        strcat(s->allowed, s->types[i].type);
    }

    if (strcmp(cfg->storage_backend, "s3") == 0) {
        s->kind = STORAGE_KIND_S3;
        rc = storage_s3_init(s, cfg, err, errlen);
    } else if (strcmp(cfg->storage_backend, "local") == 0) {
        s->kind = STORAGE_KIND_LOCAL;
        rc = storage_local_init(s, cfg, err, errlen);
    } else {
        errf(err, errlen, "storage_backend: '%.20s' is not local or s3", cfg->storage_backend);
        rc = -1;
    }
    if (rc != 0)
        goto fail;
    return s;
fail:
    storage_free(s);
    return NULL;
}

void storage_free(struct storage *s)
{
    if (!s)
        return;
    if (s->kind == STORAGE_KIND_S3)
        storage_s3_release(s);
    free(s->allowed);
    free(s->local_dir);
    free(s->local_base);
    explicit_bzero(s->local_key, sizeof s->local_key);
    free(s);
}

const char *storage_backend(const struct storage *s)
{
    return s->kind == STORAGE_KIND_S3 ? "s3" : "local";
}

char *storage_presign_put(struct storage *s, const char *key, const char *content_type,
                          long long size, int expires_s, json_t **headers_out)
{
    char *url;
    if (headers_out)
        *headers_out = NULL;
    if (!storage_valid_key(key) || !content_type || size < 1 || expires_s < 1)
        return NULL;
    url = s->kind == STORAGE_KIND_S3
              ? storage_s3_presign_put(s, key, content_type, size, expires_s)
              : storage_local_presign_put(s, key, content_type, size, expires_s);
    if (url && headers_out) {
        char len[24];
        snprintf(len, sizeof len, "%lld", size);
        *headers_out = json_pack("{s:s,s:s}", "Content-Type", content_type, "Content-Length", len);
    }
    return url;
}

char *storage_presign_get(struct storage *s, const char *key, const char *content_type,
                          const char *disposition, int expires_s)
{
    if (!storage_valid_key(key) || expires_s < 1)
        return NULL;
    return s->kind == STORAGE_KIND_S3
               ? storage_s3_presign_get(s, key, content_type, disposition, expires_s)
               : storage_local_presign_get(s, key, disposition, expires_s);
}

int storage_head(struct storage *s, const char *key, long long *size, char *ctype,
                 size_t ctype_len)
{
    if (ctype && ctype_len)
        ctype[0] = '\0';
    if (!storage_valid_key(key))
        return -1;
    if (s->kind == STORAGE_KIND_S3)
        return storage_s3_head(s, key, size, ctype, ctype_len);
    return storage_local_head(s, key, size);
}

int storage_delete(struct storage *s, const char *key)
{
    if (!storage_valid_key(key))
        return -1;
    return s->kind == STORAGE_KIND_S3 ? storage_s3_delete(s, key) : storage_local_delete(s, key);
}

int storage_get(struct storage *s, const char *key, long long max, unsigned char **data,
                size_t *len)
{
    *data = NULL;
    *len = 0;
    if (!storage_valid_key(key) || max < 0)
        return -1;
    return s->kind == STORAGE_KIND_S3 ? storage_s3_get(s, key, max, data, len)
                                      : storage_local_get(s, key, max, data, len);
}

int storage_put(struct storage *s, const char *key, const char *content_type, const void *data,
                size_t len)
{
    if (!storage_valid_key(key) || !content_type || !*content_type || (!data && len))
        return -1;
    return s->kind == STORAGE_KIND_S3 ? storage_s3_put(s, key, content_type, data, len)
                                      : storage_local_put(s, key, data, len);
}

long long storage_max_size(const struct storage *s, const char *content_type)
{
    if (!content_type)
        return 0;
    for (int i = 0; i < s->ntypes; i++)
        if (strcmp(s->types[i].type, content_type) == 0)
            return s->types[i].max;
    return 0;
}

const char *storage_allowed_types(const struct storage *s)
{
    return s->allowed;
}

int storage_new_key(const char *content_type, char out[STORAGE_KEY_MAX + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char rnd[16];
    const char *ext = storage_ext_for_type(content_type);
    if (!ext)
        return -1;
    crypto_random(rnd, sizeof rnd);
    for (size_t i = 0; i < sizeof rnd; i++) {
        out[2 * i] = digits[rnd[i] >> 4];
        out[2 * i + 1] = digits[rnd[i] & 15];
    }
    snprintf(out + 32, STORAGE_KEY_MAX + 1 - 32, ".%s", ext);
    return 0;
}

int storage_valid_key(const char *key)
{
    size_t i;
    if (!key)
        return 0;
    for (i = 0; i < 32; i++)
        if (!((key[i] >= '0' && key[i] <= '9') || (key[i] >= 'a' && key[i] <= 'z')))
            return 0;
    if (key[32] != '.')
        return 0;
    for (i = 33; key[i]; i++)
        if (i > 37 || !((key[i] >= '0' && key[i] <= '9') || (key[i] >= 'a' && key[i] <= 'z')))
            return 0;
    return i >= 35; /* an extension of 2 to 5 characters */
}

/* RFC 8187 attr-char: kept as is in filename*=. */
static int attr_char(unsigned char c)
{
    return isalnum(c) || strchr("!#$&+-.^_`|~", c) != NULL;
}

char *storage_disposition(const char *filename)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = filename ? strlen(filename) : 0;
    char *ascii = xmalloc(n + 1), *enc = xmalloc(3 * n + 1), *out;
    size_t a = 0, e = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)filename[i];
        if (c >= 0x80) {
            /* One '_' per non-ASCII character: skip its continuation bytes. */
            if ((c & 0xC0) != 0x80)
                ascii[a++] = '_';
        } else if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            ascii[a++] = '_';
        } else {
            ascii[a++] = (char)c;
        }
        if (attr_char(c)) {
            enc[e++] = (char)c;
        } else {
            enc[e++] = '%';
            enc[e++] = hex[c >> 4];
            enc[e++] = hex[c & 15];
        }
    }
    ascii[a] = enc[e] = '\0';
    if (n == 0)
        out = xstrdup("inline");
    else
        out = xasprintf("inline; filename=\"%s\"; filename*=UTF-8''%s", ascii, enc);
    free(ascii);
    free(enc);
    return out;
}

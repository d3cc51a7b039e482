/*
 * storage_local: media files in a directory, stored and served by nginx.
 *
 * nginx's media location (deploy/nginx.conf.template) accepts PUT (WebDAV) and
 * GET/HEAD (sendfile, Range) for /media/<key> only after an auth_request to
 * missive-api, which calls storage_local_check: the URL must carry a valid,
 * unexpired signature for this method and key, a PUT must send exactly the signed
 * Content-Type and Content-Length and must not overwrite a file. Everything else
 * here is plain file-system work for the API (stat) and the sweep (unlink).
 */
#include "storage_internal.h"

#include "crypto.h"
#include "log.h"
#include "sigv4.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Signatures further in the future than this are not ours. */
#define LOCAL_MAX_EXPIRES (7LL * 86400)

static const char key_label[] = "missive-media-url-key-v1";

int storage_local_init(struct storage *s, const struct config *cfg, char *err, size_t errlen)
{
    const char *secret = cfg->storage_local_secret && *cfg->storage_local_secret
                             ? cfg->storage_local_secret
                             : cfg->token_secret;
    size_t n;

    if (!secret || strlen(secret) < 32) {
        snprintf(err, errlen, "storage_local_secret: must be at least 32 bytes (or unset, to "
                              "derive it from token_secret)");
        return -1;
    }
    /* A key of its own, so a media URL signature can never stand for anything else. */
    crypto_hmac_sha256(secret, strlen(secret), key_label, sizeof key_label - 1, s->local_key);

    if (!cfg->storage_local_dir || !*cfg->storage_local_dir) {
        snprintf(err, errlen, "storage_local_dir: must not be empty");
        return -1;
    }
    s->local_dir = xstrdup(cfg->storage_local_dir);
    n = strlen(s->local_dir);
    while (n > 1 && s->local_dir[n - 1] == '/')
        s->local_dir[--n] = '\0';

    if (cfg->storage_local_base_url && *cfg->storage_local_base_url)
        s->local_base = xstrdup(cfg->storage_local_base_url);
    else
        s->local_base = xasprintf("%s/media", cfg->public_url);
    n = strlen(s->local_base);
    while (n > 0 && s->local_base[n - 1] == '/')
        s->local_base[--n] = '\0';
    if (strncmp(s->local_base, "http://", 7) != 0 && strncmp(s->local_base, "https://", 8) != 0) {
        snprintf(err, errlen, "storage_local_base_url: must start with http:// or https://");
        return -1;
    }
    return 0;
}

void storage_local_sign(const unsigned char key[32], const char *method, const char *obj_key,
                        const char *content_type, const char *length, const char *disposition,
                        long long exp, char out[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[32];
    char *msg = xasprintf("missive-media-v1\n%s\n%s\n%s\n%s\n%s\n%lld", method, obj_key,
                          content_type ? content_type : "", length ? length : "",
                          disposition ? disposition : "", exp);
    crypto_hmac_sha256(key, 32, msg, strlen(msg), mac);
    free(msg);
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = digits[mac[i] >> 4];
        out[2 * i + 1] = digits[mac[i] & 15];
    }
    out[64] = '\0';
}

char *storage_local_presign_put(struct storage *s, const char *key, const char *content_type,
                                long long size, int expires_s)
{
    char sig[65], len[24];
    long long exp = (long long)time(NULL) + expires_s;
    snprintf(len, sizeof len, "%lld", size);
    storage_local_sign(s->local_key, "PUT", key, content_type, len, "", exp, sig);
    return xasprintf("%s/%s?exp=%lld&sig=%s", s->local_base, key, exp, sig);
}

char *storage_local_presign_get(struct storage *s, const char *key, const char *disposition,
                                int expires_s)
{
    char sig[65];
    long long exp = (long long)time(NULL) + expires_s;
    char *cd, *url;
    storage_local_sign(s->local_key, "GET", key, "", "", disposition, exp, sig);
    if (!disposition || !*disposition)
        return xasprintf("%s/%s?exp=%lld&sig=%s", s->local_base, key, exp, sig);
    cd = sigv4_uri_encode(disposition, 1);
    url = xasprintf("%s/%s?exp=%lld&cd=%s&sig=%s", s->local_base, key, exp, cd, sig);
    free(cd);
    return url;
}

static char *path_of(const struct storage *s, const char *key)
{
    return xasprintf("%s/%s", s->local_dir, key);
}

int storage_local_head(struct storage *s, const char *key, long long *size)
{
    struct stat st;
    char *path = path_of(s, key);
    int rc;

    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            rc = 1;
        } else {
            log_warn("storage_head", "stat %s: %s", path, strerror(errno));
            rc = -1;
        }
    } else if (!S_ISREG(st.st_mode)) {
        log_warn("storage_head", "%s is not a regular file", path);
        rc = -1;
    } else {
        if (size)
            *size = (long long)st.st_size;
        rc = 0;
    }
    free(path);
    return rc;
}

int storage_local_delete(struct storage *s, const char *key)
{
    char *path = path_of(s, key);
    int rc = 0;
    if (unlink(path) != 0 && errno != ENOENT) {
        log_warn("storage_delete", "unlink %s: %s", path, strerror(errno));
        rc = -1;
    }
    free(path);
    return rc;
}

int storage_local_get(struct storage *s, const char *key, long long max, unsigned char **data,
                      size_t *len)
{
    char *path = path_of(s, key);
    unsigned char *buf = NULL;
    struct stat st;
    size_t got = 0;
    int fd, rc = -1;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            rc = 1;
        } else {
            log_warn("storage_get", "open %s: %s", path, strerror(errno));
        }
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        log_warn("storage_get", "%s is not a regular file", path);
        goto out;
    }
    if ((long long)st.st_size > max) {
        rc = 2;
        goto out;
    }
    buf = xmalloc((size_t)st.st_size + 1);
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_warn("storage_get", "read %s: %s", path, n ? strerror(errno) : "short file");
            goto out;
        }
        got += (size_t)n;
    }
    *data = buf;
    *len = got;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

/*
 * nginx serves what it stored itself (dav_access user:rw group:r). Our file gets
 * the same mode and, when we run as root (deploy/stack.sh as root), the
 * directory's owner and group, so nginx's user reads it and the sweep can remove
 * it; otherwise the directory's group where we may give it (a set-gid directory
 * does that anyway).
 */
static void match_directory(const struct storage *s, int fd)
{
    struct stat dir;
    if (stat(s->local_dir, &dir) != 0)
        return;
    if (geteuid() == 0) {
        if (fchown(fd, dir.st_uid, dir.st_gid) != 0)
            log_warn("storage_put", "chown: %s", strerror(errno));
    } else if (fchown(fd, (uid_t)-1, dir.st_gid) != 0 && errno != EPERM) {
        log_warn("storage_put", "chgrp: %s", strerror(errno));
    }
    if (fchmod(fd, 0640) != 0)
        log_warn("storage_put", "chmod: %s", strerror(errno));
}

int storage_local_put(struct storage *s, const char *key, const void *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char rnd[8];
    char suffix[sizeof rnd * 2 + 1];
    char *path = path_of(s, key), *tmp = NULL;
    const unsigned char *p = data;
    size_t done = 0;
    int fd = -1, rc = -1;

    /* Not a key, so nginx's media location never serves a half-written file. */
    crypto_random(rnd, sizeof rnd);
    for (size_t i = 0; i < sizeof rnd; i++) {
        suffix[2 * i] = digits[rnd[i] >> 4];
        suffix[2 * i + 1] = digits[rnd[i] & 15];
    }
    suffix[sizeof suffix - 1] = '\0';
    tmp = xasprintf("%s/.tmp-%s-%s", s->local_dir, key, suffix);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_warn("storage_put", "create %s: %s", tmp, strerror(errno));
        goto out;
    }
    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_warn("storage_put", "write %s: %s", tmp, strerror(errno));
            goto out;
        }
        done += (size_t)n;
    }
    match_directory(s, fd);
    /* On disk before the database says it exists. */
    if (fsync(fd) != 0) {
        log_warn("storage_put", "fsync %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        log_warn("storage_put", "close %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        log_warn("storage_put", "rename to %s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && tmp)
        unlink(tmp);
    free(tmp);
    free(path);
    return rc;
}

const unsigned char *storage_local_key(const struct storage *s)
{
    return s->local_key;
}

/* Decimal, no sign, no leading junk: what we put in URLs and nginx passes. */
static int parse_uint(const char *s, long long *out)
{
    long long v = 0;
    if (!s || !*s || strlen(s) > 18)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return 0;
}

static int is_lower_hex64(const char *s)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++)
        if (n >= 64 || !((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == 64;
}

enum storage_local_verdict storage_local_check(const struct storage *s,
                                               const struct storage_local_req *q, time_t now,
                                               int check_exists, const char **why)
{
    const char *dummy;
    long long exp, len;
    char want[65];
    int put;

    if (!why)
        why = &dummy;
    if (s->kind != STORAGE_KIND_LOCAL) {
        *why = "the local storage backend is not in use";
        return STORAGE_LOCAL_BAD;
    }
    if (!q->method || !storage_valid_key(q->key)) {
        *why = "no such file";
        return STORAGE_LOCAL_BAD;
    }
    if (strcmp(q->method, "PUT") == 0) {
        put = 1;
    } else if (strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0) {
        put = 0;
    } else {
        *why = "only GET, HEAD and PUT are allowed";
        return STORAGE_LOCAL_BAD;
    }
    if (parse_uint(q->exp, &exp) != 0 || !is_lower_hex64(q->sig)) {
        *why = "the URL is not signed (exp and sig are missing or malformed)";
        return STORAGE_LOCAL_BAD;
    }
    if (put) {
        /* A PUT needs both headers: the signature covers their exact values. */
        if (!q->content_type || !*q->content_type || parse_uint(q->content_length, &len) != 0) {
            *why = "an upload must send the signed Content-Type and Content-Length";
            return STORAGE_LOCAL_BAD;
        }
        storage_local_sign(s->local_key, "PUT", q->key, q->content_type, q->content_length, "",
                           exp, want);
    } else {
        storage_local_sign(s->local_key, "GET", q->key, "", "", q->cd ? q->cd : "", exp, want);
    }
    if (!crypto_equal(want, q->sig, 64)) {
        *why = put ? "the signature does not match (the URL, or Content-Type or Content-Length "
                     "differ from what was signed)"
                   : "the signature does not match";
        return STORAGE_LOCAL_BAD;
    }
    if (exp < (long long)now) {
        *why = "the URL has expired";
        return STORAGE_LOCAL_EXPIRED;
    }
    if (exp > (long long)now + LOCAL_MAX_EXPIRES) {
        *why = "the URL expires too far in the future";
        return STORAGE_LOCAL_BAD;
    }
    if (put && check_exists) {
        struct stat st;
        char *path = path_of(s, q->key);
        int exists = lstat(path, &st) == 0 || errno != ENOENT;
        free(path);
        if (exists) {
            *why = "this upload has already been made";
            return STORAGE_LOCAL_EXISTS;
        }
    }
    *why = "ok";
    return STORAGE_LOCAL_OK;
}

/*
 * vapidkey: load-or-create of the VAPID key file.
 *
 * Creation never exposes a partial file: the PEM is written to a private
 * temporary name (O_CREAT|O_EXCL, 0600), synced, then link()ed to the final name.
 * link() fails with EEXIST if another process published first; that process's
 * key is then the one read back, so racing programs end with the same key.
 */
#include "vapidkey.h"

#include "crypto.h"
#include "log.h"
#include "webpush.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_KEY_FILE 16384

/* Reads the whole file into a heap string. 0, -1 with errno set (ENOENT: no file). */
static int read_file(const char *path, char **out, mode_t *mode)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    size_t n = 0;

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0)
        goto fail;
    if (!S_ISREG(st.st_mode) || st.st_size > MAX_KEY_FILE) {
        errno = EINVAL;
        goto fail;
    }
    *mode = st.st_mode;
    buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        goto fail;
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            errno = r == 0 ? EINVAL : errno;
            goto fail;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    close(fd);
    *out = buf;
    return 0;
fail:;
    int e = errno;
    free(buf);
    close(fd);
    errno = e;
    return -1;
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Generates a key and publishes it at path unless one appears first. 0 or -1. */
static int create_key(const char *path, int *created, char *err, size_t errlen)
{
    char *pem = NULL, *pub = NULL, *tmp = NULL, *dircopy = NULL;
    char rnd[33];
    int fd = -1, ret = -1;

    if (webpush_vapid_generate(&pem, &pub) != 0) {
        snprintf(err, errlen, "vapid_key_file: could not generate a key");
        goto out;
    }
    crypto_random_hex16(rnd);
    if (asprintf(&tmp, "%s.tmp-%s", path, rnd) < 0) {
        tmp = NULL;
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        dircopy = strdup(path);
        snprintf(err, errlen, "vapid_key_file: cannot create a file in %s: %s",
                 dircopy ? dirname(dircopy) : path, strerror(errno));
        goto out;
    }
    if (write_all(fd, pem, strlen(pem)) != 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "vapid_key_file: cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (link(tmp, path) == 0) {
        *created = 1;
        log_info("vapid_key_created", "generated the VAPID key %s (public key %s)", path, pub);
    } else if (errno != EEXIST) {
        snprintf(err, errlen, "vapid_key_file: cannot create %s: %s", path, strerror(errno));
        goto out;
    }
    ret = 0;
out:
    if (fd >= 0)
        close(fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(dircopy);
    if (pem) {
        explicit_bzero(pem, strlen(pem));
        free(pem);
    }
    free(pub);
    return ret;
}

int vapidkey_load_or_create(const char *path, struct webpush_vapid **out, int *created,
                            char *err, size_t errlen)
{
    char *pem = NULL;
    mode_t mode = 0;
    int made = 0, ret = -1;

    *out = NULL;
    if (!path || !*path) {
        snprintf(err, errlen, "vapid_key_file: not set");
        return -1;
    }
    if (read_file(path, &pem, &mode) != 0) {
        if (errno != ENOENT) {
            snprintf(err, errlen, "vapid_key_file: cannot read %s: %s", path,
                     errno == EINVAL ? "not a regular file of at most 16 KiB" : strerror(errno));
            goto out;
        }
        if (create_key(path, &made, err, errlen) != 0)
            goto out;
        if (read_file(path, &pem, &mode) != 0) {
            snprintf(err, errlen, "vapid_key_file: cannot read %s: %s", path, strerror(errno));
            goto out;
        }
    }
    if (mode & 077)
        log_warn("vapid_key_mode", "%s is readable by others (mode %03o); it should be 0600",
                 path, (unsigned)(mode & 0777));
    if (webpush_vapid_load(pem, out) != 0) {
        snprintf(err, errlen, "vapid_key_file: %s is not an unencrypted P-256 private key (PEM)",
                 path);
        goto out;
    }
    ret = 0;
out:
    if (pem) {
        explicit_bzero(pem, strlen(pem));
        free(pem);
    }
    if (created)
        *created = made;
    return ret;
}

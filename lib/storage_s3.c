/*
 * storage_s3: media in any store that speaks the S3 API with Signature V4.
 *
 * Clients get presigned URLs (lib/sigv4.c): a PUT signed over host, content-type
 * and content-length, so the store itself refuses another type or length; a GET
 * with response-content-type and response-content-disposition, so the download
 * carries the right headers whatever the store recorded. The server's own HEAD and
 * DELETE carry an Authorization header and go out over libcurl: http/https only,
 * no redirects, bounded by storage_timeout, no signals (threads). Its GET and PUT
 * (the thumbnail job's reads and writes) use short-lived presigned URLs like the
 * clients', over the same kind of libcurl handle, bounded in size and speed.
 *
 * Addressing: path style (http://host/bucket/key: MinIO, Ceph RGW, Garage, Swift)
 * or virtual-host style (https://bucket.host/key: AWS's default, R2 accepts both).
 */
#include "storage_internal.h"

#include "log.h"
#include "sigv4.h"
#include "xalloc.h"

#include <curl/curl.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* SHA-256 of the empty body: HEAD and DELETE send none. */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static int valid_bucket(const char *b)
{
    size_t n = b ? strlen(b) : 0;
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '-' ||
              b[i] == '.' || b[i] == '_'))
            return 0;
    return 1;
}

/* host[:port], as it must appear in the Host header: lower-case, default port dropped. */
static int parse_endpoint(const char *url, char **scheme, char **host, char *err, size_t errlen)
{
    const char *rest;
    size_t n;
    if (strncmp(url, "https://", 8) == 0) {
        *scheme = xstrdup("https");
        rest = url + 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        *scheme = xstrdup("http");
        rest = url + 7;
    } else {
        snprintf(err, errlen, "storage_s3_endpoint: must start with http:// or https://");
        return -1;
    }
    n = strlen(rest);
    while (n > 0 && rest[n - 1] == '/')
        n--;
    if (n == 0) {
        snprintf(err, errlen, "storage_s3_endpoint: no host");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)rest[i];
        if (!(isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']')) {
            snprintf(err, errlen,
                     "storage_s3_endpoint: only scheme://host[:port] (no path, user or query)");
            return -1;
        }
    }
    *host = xstrndup(rest, n);
    for (char *p = *host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    n = strlen(*host);
    if (strcmp(*scheme, "http") == 0 && n > 3 && strcmp(*host + n - 3, ":80") == 0)
        (*host)[n - 3] = '\0';
    if (strcmp(*scheme, "https") == 0 && n > 4 && strcmp(*host + n - 4, ":443") == 0)
        (*host)[n - 4] = '\0';
    return 0;
}

int storage_s3_init(struct storage *s, const struct config *cfg, char *err, size_t errlen)
{
    char *host = NULL;

    if (!cfg->storage_s3_endpoint || !*cfg->storage_s3_endpoint) {
        snprintf(err, errlen, "storage_s3_endpoint: required with storage_backend = s3");
        return -1;
    }
    if (!valid_bucket(cfg->storage_s3_bucket)) {
        snprintf(err, errlen, "storage_s3_bucket: 3 to 63 of a-z 0-9 . - _ (required with s3)");
        return -1;
    }
    if (!cfg->storage_s3_access_key || !*cfg->storage_s3_access_key ||
        !cfg->storage_s3_secret_key || !*cfg->storage_s3_secret_key) {
        snprintf(err, errlen,
                 "storage_s3_access_key and storage_s3_secret_key: required with s3");
        return -1;
    }
    if (!cfg->storage_s3_region || !*cfg->storage_s3_region) {
        snprintf(err, errlen, "storage_s3_region: required with s3 (us-east-1, auto for R2, "
                              "garage for Garage)");
        return -1;
    }
    if (parse_endpoint(cfg->storage_s3_endpoint, &s->s3_scheme, &host, err, errlen) != 0)
        return -1;
    if (cfg->storage_s3_path_style) {
        s->s3_host = host;
        s->s3_prefix = xasprintf("/%s", cfg->storage_s3_bucket);
    } else {
        s->s3_host = xasprintf("%s.%s", cfg->storage_s3_bucket, host);
        s->s3_prefix = xstrdup("");
        free(host);
    }
    s->s3_region = xstrdup(cfg->storage_s3_region);
    s->s3_access = xstrdup(cfg->storage_s3_access_key);
    s->s3_secret = xstrdup(cfg->storage_s3_secret_key);
    s->s3_timeout = cfg->storage_timeout;
    /* Before any thread starts: storage_new is called from main. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "storage: libcurl initialisation failed");
        return -1;
    }
    s->s3_curl = 1;
    return 0;
}

void storage_s3_release(struct storage *s)
{
    if (s->s3_curl)
        curl_global_cleanup();
    free(s->s3_scheme);
    free(s->s3_host);
    free(s->s3_prefix);
    free(s->s3_region);
    free(s->s3_access);
    if (s->s3_secret)
        explicit_bzero(s->s3_secret, strlen(s->s3_secret));
    free(s->s3_secret);
}

static struct sigv4_creds creds_of(const struct storage *s)
{
    struct sigv4_creds c = {s->s3_access, s->s3_secret, s->s3_region, "s3"};
    return c;
}

static char *object_path(const struct storage *s, const char *key)
{
    return xasprintf("%s/%s", s->s3_prefix, key); /* bucket and key need no encoding */
}

char *storage_s3_presign_put(struct storage *s, const char *key, const char *content_type,
                             long long size, int expires_s)
{
    char len[24];
    snprintf(len, sizeof len, "%lld", size);
    const char *headers[] = {"content-type", content_type, "content-length", len, NULL};
    struct sigv4_creds c = creds_of(s);
    char *path = object_path(s, key);
    struct sigv4_request r = {
        .method = "PUT",
        .scheme = s->s3_scheme,
        .host = s->s3_host,
        .path = path,
        .headers = headers,
        .expires = expires_s,
        .now = time(NULL),
    };
    char *url = sigv4_presign(&c, &r);
    if (!url)
        log_error("storage_presign", "cannot sign a PUT for %s (check the s3 settings)", key);
    free(path);
    return url;
}

char *storage_s3_presign_get(struct storage *s, const char *key, const char *content_type,
                             const char *disposition, int expires_s)
{
    const char *query[5] = {NULL};
    int q = 0;
    if (content_type && *content_type) {
        query[q++] = "response-content-type";
        query[q++] = content_type;
    }
    if (disposition && *disposition) {
        query[q++] = "response-content-disposition";
        query[q++] = disposition;
    }
    struct sigv4_creds c = creds_of(s);
    char *path = object_path(s, key);
    struct sigv4_request r = {
        .method = "GET",
        .scheme = s->s3_scheme,
        .host = s->s3_host,
        .path = path,
        .query = query,
        .expires = expires_s,
        .now = time(NULL),
    };
    char *url = sigv4_presign(&c, &r);
    if (!url)
        log_error("storage_presign", "cannot sign a GET for %s (check the s3 settings)", key);
    free(path);
    return url;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/*
 * Sends method (HEAD or DELETE) for key. Returns the HTTP status, or -1 when no
 * answer came. For HEAD fills *size and ctype from the answer.
 */
static long s3_call(struct storage *s, const char *method, const char *key, long long *size,
                    char *ctype, size_t ctype_len)
{
    const char *headers[] = {"x-amz-content-sha256", EMPTY_SHA256, NULL};
    struct sigv4_creds c = creds_of(s);
    char *path = object_path(s, key), *auth = NULL, *url = NULL, *h;
    char date[17];
    struct curl_slist *hl = NULL;
    CURL *curl = NULL;
    long status = -1;
    struct sigv4_request r = {
        .method = method,
        .scheme = s->s3_scheme,
        .host = s->s3_host,
        .path = path,
        .headers = headers,
        .now = time(NULL),
    };

    auth = sigv4_authorization(&c, &r, EMPTY_SHA256, date);
    if (!auth) {
        log_error("storage_s3", "cannot sign %s %s (check the s3 settings)", method, key);
        goto out;
    }
    url = xasprintf("%s://%s%s", s->s3_scheme, s->s3_host, path);
    curl = curl_easy_init();
    if (!curl)
        goto out;
    /* Exactly the signed Host, whatever curl would make of the URL. */
    h = xasprintf("Host: %s", s->s3_host);
    hl = curl_slist_append(hl, h);
    free(h);
    h = xasprintf("Authorization: %s", auth);
    hl = curl_slist_append(hl, h);
    free(h);
    h = xasprintf("x-amz-date: %s", date);
    hl = curl_slist_append(hl, h);
    free(h);
    hl = curl_slist_append(hl, "x-amz-content-sha256: " EMPTY_SHA256);
    hl = curl_slist_append(hl, "Expect:");
    hl = curl_slist_append(hl, "Accept:");

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)(s->s3_timeout < 5 ? s->s3_timeout : 5));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)s->s3_timeout);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "missive");
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);

    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
        log_warn("storage_s3", "%s %s: %s", method, key, curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200 && size) {
        curl_off_t len = -1;
        curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
        *size = (long long)len;
    }
    if (status == 200 && ctype && ctype_len) {
        char *ct = NULL;
        curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(ctype, ctype_len, "%s", ct ? ct : "");
    }
out:
    if (curl)
        curl_easy_cleanup(curl);
    curl_slist_free_all(hl);
    free(url);
    free(auth);
    free(path);
    return status;
}

int storage_s3_head(struct storage *s, const char *key, long long *size, char *ctype,
                    size_t ctype_len)
{
    long long len = -1;
    long st = s3_call(s, "HEAD", key, &len, ctype, ctype_len);
    if (st == 200 && len >= 0) {
        if (size)
            *size = len;
        return 0;
    }
    if (st == 404)
        return 1;
    if (st >= 0)
        log_warn("storage_s3", "HEAD %s: HTTP %ld", key, st);
    return -1;
}

int storage_s3_delete(struct storage *s, const char *key)
{
    long st = s3_call(s, "DELETE", key, NULL, NULL, 0);
    if (st == 204 || st == 200 || st == 404)
        return 0;
    if (st >= 0)
        log_warn("storage_s3", "DELETE %s: HTTP %ld", key, st);
    return -1;
}

/* ---- GET and PUT of whole objects (presigned) ------------------------------------ */

/* URLs the server makes for itself need to live only as long as the transfer. */
#define SELF_URL_TTL 300
/* A transfer slower than this many bytes per second for storage_timeout seconds
 * is given up; none may take longer than SELF_MAX_SECONDS. */
#define SELF_LOW_SPEED   1024L
#define SELF_MAX_SECONDS 300L

struct sink {
    unsigned char *buf;
    size_t len, cap;
    long long max;
    int too_large;
};

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    struct sink *k = ud;
    size_t add = size * n;
    if ((long long)(k->len + add) > k->max) {
        k->too_large = 1;
        return 0; /* aborts the transfer */
    }
    if (k->len + add + 1 > k->cap) {
        size_t cap = k->cap ? k->cap : 65536;
        while (cap < k->len + add + 1)
            cap *= 2;
        k->buf = xrealloc(k->buf, cap);
        k->cap = cap;
    }
    memcpy(k->buf + k->len, p, add);
    k->len += add;
    return add;
}

struct source {
    const unsigned char *data;
    size_t len, off;
};

static size_t supply(char *p, size_t size, size_t n, void *ud)
{
    struct source *src = ud;
    size_t give = size * n;
    if (give > src->len - src->off)
        give = src->len - src->off;
    memcpy(p, src->data + src->off, give);
    src->off += give;
    return give;
}

/* A libcurl handle set up like s3_call's, for a presigned url. */
static CURL *self_handle(const struct storage *s, const char *url)
{
    CURL *curl = curl_easy_init();
    if (!curl)
        return NULL;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)(s->s3_timeout < 5 ? s->s3_timeout : 5));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, SELF_LOW_SPEED);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, (long)s->s3_timeout);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, SELF_MAX_SECONDS);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "missive");
    return curl;
}

int storage_s3_get(struct storage *s, const char *key, long long max, unsigned char **data,
                   size_t *len)
{
    char *url = storage_s3_presign_get(s, key, NULL, NULL, SELF_URL_TTL);
    struct curl_slist *hl = NULL;
    struct sink k = {NULL, 0, 0, max, 0};
    CURL *curl = NULL;
    long status = -1;
    int rc = -1;

    if (!url || !(curl = self_handle(s, url)))
        goto out;
    hl = curl_slist_append(hl, "Accept:");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &k);
    CURLcode cc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (k.too_large && status == 200) {
        rc = 2;
        goto out;
    }
    if (cc != CURLE_OK) {
        log_warn("storage_s3", "GET %s: %s", key, curl_easy_strerror(cc));
        goto out;
    }
    if (status == 404) {
        rc = 1;
        goto out;
    }
    if (status != 200) {
        log_warn("storage_s3", "GET %s: HTTP %ld", key, status);
        goto out;
    }
    if (!k.buf)
        k.buf = xmalloc(1);
    *data = k.buf;
    *len = k.len;
    k.buf = NULL;
    rc = 0;
out:
    if (curl)
        curl_easy_cleanup(curl);
    curl_slist_free_all(hl);
    free(k.buf);
    free(url);
    return rc;
}

int storage_s3_put(struct storage *s, const char *key, const char *content_type, const void *data,
                   size_t len)
{
    char *url = storage_s3_presign_put(s, key, content_type, (long long)len, SELF_URL_TTL);
    struct source src = {data, len, 0};
    struct curl_slist *hl = NULL;
    CURL *curl = NULL;
    long status = -1;
    char *h;
    int rc = -1;

    if (!url || !(curl = self_handle(s, url)))
        goto out;
    /* Exactly the signed headers: the store checks both. */
    h = xasprintf("Content-Type: %s", content_type);
    hl = curl_slist_append(hl, h);
    free(h);
    hl = curl_slist_append(hl, "Expect:");
    hl = curl_slist_append(hl, "Accept:");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, supply);
    curl_easy_setopt(curl, CURLOPT_READDATA, &src);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    CURLcode cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        log_warn("storage_s3", "PUT %s: %s", key, curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200 && status != 201 && status != 204) {
        log_warn("storage_s3", "PUT %s: HTTP %ld", key, status);
        goto out;
    }
    rc = 0;
out:
    if (curl)
        curl_easy_cleanup(curl);
    curl_slist_free_all(hl);
    free(url);
    return rc;
}

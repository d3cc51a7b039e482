/*
 * storage_internal: what storage.c shares with its two backends, storage_local.c
 * and storage_s3.c. Not for use outside lib/storage*.c.
 */
#ifndef MISSIVE_STORAGE_INTERNAL_H
#define MISSIVE_STORAGE_INTERNAL_H

#include "storage.h"

#define STORAGE_MAX_TYPES 32

enum storage_kind { STORAGE_KIND_LOCAL = 0, STORAGE_KIND_S3 };

struct storage_type_limit {
    char type[STORAGE_CTYPE_MAX + 1];
    long long max;
};

struct storage {
    enum storage_kind kind;
    struct storage_type_limit types[STORAGE_MAX_TYPES];
    int ntypes;
    char *allowed; /* "image/jpeg, image/png, ..." */

    /* local */
    char *local_dir;  /* no trailing '/' */
    char *local_base; /* no trailing '/' */
    unsigned char local_key[32];

    /* s3 */
    char *s3_scheme;  /* "http" | "https" */
    char *s3_host;    /* the Host header: host[:port], bucket prefixed for virtual-host style */
    char *s3_prefix;  /* "/bucket" (path style) or "" */
    char *s3_region;
    char *s3_access;
    char *s3_secret;
    int s3_timeout;   /* seconds */
    int s3_curl;      /* curl_global_init done */
};

/* storage_local.c */
int storage_local_init(struct storage *s, const struct config *cfg, char *err, size_t errlen);
char *storage_local_presign_put(struct storage *s, const char *key, const char *content_type,
                                long long size, int expires_s);
char *storage_local_presign_get(struct storage *s, const char *key, const char *disposition,
                                int expires_s);
int storage_local_head(struct storage *s, const char *key, long long *size);
int storage_local_delete(struct storage *s, const char *key);
int storage_local_get(struct storage *s, const char *key, long long max, unsigned char **data,
                      size_t *len);
int storage_local_put(struct storage *s, const char *key, const void *data, size_t len);

/* storage_s3.c */
int storage_s3_init(struct storage *s, const struct config *cfg, char *err, size_t errlen);
void storage_s3_release(struct storage *s);
char *storage_s3_presign_put(struct storage *s, const char *key, const char *content_type,
                             long long size, int expires_s);
char *storage_s3_presign_get(struct storage *s, const char *key, const char *content_type,
                             const char *disposition, int expires_s);
int storage_s3_head(struct storage *s, const char *key, long long *size, char *ctype,
                    size_t ctype_len);
int storage_s3_delete(struct storage *s, const char *key);
int storage_s3_get(struct storage *s, const char *key, long long max, unsigned char **data,
                   size_t *len);
int storage_s3_put(struct storage *s, const char *key, const char *content_type, const void *data,
                   size_t len);

#endif

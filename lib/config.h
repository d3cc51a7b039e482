/*
 * config: one table of settings shared by every Missive program.
 *
 * Sources, later wins: built-in defaults, the config file (`key = value` lines,
 * `#` comments), then environment variables named MISSIVE_<KEY IN UPPER CASE>
 * (db_url -> MISSIVE_DB_URL). An unknown key in the file, a value of the wrong
 * type or out of bounds is an error that names the key. Every program reads the
 * whole table and uses the part it needs, so one file serves the whole stack.
 */
#ifndef MISSIVE_CONFIG_H
#define MISSIVE_CONFIG_H

#include <stdio.h>

struct config {
    /* database */
    char *db_url; /* libpq conninfo or postgresql:// URI */

    /* logging */
    char *log_level;

    /* missive-api */
    char *api_listen;    /* "unix:/path" or "host:port" (FastCGI) */
    int api_socket_mode; /* octal mode of a unix socket */
    int api_threads;
    int api_body_limit; /* bytes */
    int api_backlog;

    /* tokens and passwords */
    char *token_secret;   /* HS256 key, >= 32 bytes */
    int access_ttl;       /* seconds */
    int refresh_ttl;      /* seconds */
    int argon2_memory_kib;
    int argon2_iterations;

    /* rate limits (0: none); see config.c for units */
    int rate_login_ip;
    int rate_login_user;
    int rate_signup_ip;
    int rate_send;
    int rate_media;
    int rate_tickets;

    /* conversations and messages */
    int send_batching;     /* 0 or 1 */
    int send_max_batch;
    int group_max_members;
    int edit_window;       /* seconds */

    /* missive-sse */
    char *sse_listen; /* "host:port" */
    int sse_heartbeat; /* seconds */
    int sse_max_connections;
    int sse_retry_ms;
    int sse_max_buffer;
    int sse_conn_memory;
    int sse_db_threads;
    int sse_threads;
    int sse_max_lifetime;
    int sse_request_timeout; /* seconds to send a whole request (slow clients) */
    int presence_grace;   /* seconds */
    int presence_timeout; /* seconds */
    int typing_interval;  /* seconds */
    int ticket_ttl;       /* seconds */

    /* missive-worker */
    int worker_poll_interval; /* seconds */

    /* Web Push (docs/push.md) */
    char *vapid_key_file;   /* PEM P-256 key; created (0600) on first use if missing */
    char *vapid_subject;    /* VAPID "sub": mailto: or https: contact of the operator */
    int push_allow_private; /* 1: endpoints on loopback/private addresses (tests only) */
    char *push_ca_file;     /* "" = system CAs; else a PEM bundle to trust (tests) */
    int push_max_attempts;  /* tries of one push before giving up */
    int push_gather_ms;     /* wait after the first queued message so bursts coalesce */
    int push_ttl;           /* TTL header: seconds a push service keeps an undelivered push */
    int push_retry_base_ms; /* first retry delay; doubles per attempt, with jitter */
    int push_max_in_flight; /* concurrent push requests per worker */
    int push_timeout;       /* seconds allowed for one push request */

    /* public */
    char *public_url; /* as browsers see it, e.g. http://127.0.0.1:8080 */
    char *cors_origins; /* space-separated origins; "" = no cross-origin access */

    /* media storage (lib/storage.h) */
    char *storage_backend;        /* local | s3 */
    char *storage_local_dir;      /* local: the directory nginx stores files in */
    char *storage_local_base_url; /* local: URL prefix of that directory; "" = public_url/media */
    char *storage_local_secret;   /* local: URL signing secret; "" = derived from token_secret */
    char *storage_s3_endpoint;    /* s3: scheme://host[:port] */
    char *storage_s3_region;
    char *storage_s3_bucket;
    char *storage_s3_access_key;
    char *storage_s3_secret_key;
    int storage_s3_path_style;    /* 1: endpoint/bucket/key; 0: bucket.endpoint/key */
    int storage_timeout;          /* seconds for the server's own HEAD/DELETE */
    char *media_types;            /* "type:max size,...", e.g. image/jpeg:16M */
    int media_upload_ttl;         /* seconds a presigned upload URL works */
    int media_download_ttl;       /* seconds a presigned download URL works */
    int media_max_pending;        /* uploads a user may have not yet sent */
    int media_abandon_after;      /* seconds before the sweep removes unsent uploads */
};

/* Fills *cfg with the defaults. Strings are heap copies owned by cfg. */
void config_defaults(struct config *cfg);

/*
 * Loads defaults, then the file (if path is not NULL), then the environment.
 * On error returns -1 and writes a one-line reason into err.
 */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);

/* Sets one key from text, as the file would. -1 with a reason on error. */
int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Checks cross-field rules (secret length, ...). -1 with a reason on error. */
int config_validate(const struct config *cfg, char *err, size_t errlen);

/* Writes every key = value, secrets redacted, for --check-config and startup logs. */
void config_dump(const struct config *cfg, FILE *out);

void config_release(struct config *cfg);

/* Prints the table (key, env var, default, description) for --help. */
void config_help(FILE *out);

#endif

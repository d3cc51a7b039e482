/*
 * fuzz_config: lib/config.c's setters and file parser, and the media_types parser
 * (lib/storage.c) that config_validate runs.
 *
 * Input, both ways each run:
 *  1. "key\nvalue": config_set(key, value) on the defaults, then config_validate and
 *     config_dump. When the value has no newline (the file cannot hold one) the dump is
 *     loaded back, and every non-secret setting must come back unchanged: that is the
 *     promise of needs_quotes() (db_url is left out: the dump redacts passwords in it).
 *  2. The whole input as a config file: config_load on a memfd (config.h has no stream
 *     API; the path is /proc/self/fd/N), then config_validate and config_dump.
 * Plus storage_check_media_types on the whole input as a media_types value.
 *
 * MISSIVE_* variables are removed from the environment first (config_load reads them).
 */
#include "config.h"
#include "storage.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FUZZ_FLAGS: -max_len=9000 */

#define fuzz_check(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz_check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);   \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

extern char **environ;

static int file_fd = -1;
static char file_path[64];

static void init(void)
{
    /* Copy the names first: unsetenv edits environ under us. */
    char *names[256];
    int n = 0;
    for (char **e = environ; *e && n < 256; e++)
        if (strncmp(*e, "MISSIVE_", 8) == 0)
            names[n++] = strndup(*e, strcspn(*e, "="));
    for (int i = 0; i < n; i++) {
        unsetenv(names[i]);
        free(names[i]);
    }
    file_fd = memfd_create("missive-fuzz-config", 0);
    if (file_fd < 0) {
        perror("memfd_create");
        abort();
    }
    snprintf(file_path, sizeof file_path, "/proc/self/fd/%d", file_fd);
}

static void put_file(const void *buf, size_t n)
{
    if (ftruncate(file_fd, 0) != 0 || pwrite(file_fd, buf, n, 0) != (ssize_t)n) {
        perror("memfd write");
        abort();
    }
}

static char *dump(const struct config *cfg, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    fuzz_check(f != NULL);
    config_dump(cfg, f);
    fclose(f);
    return text;
}

/* Every string setting but the secrets and db_url (redacted in the dump). */
#define ROUND_TRIP_STRINGS(X)                                                                  \
    X(log_level) X(api_listen) X(sse_listen) X(public_url) X(storage_backend)                   \
    X(storage_local_dir) X(storage_local_base_url) X(storage_s3_endpoint)                       \
    X(storage_s3_region) X(storage_s3_bucket) X(storage_s3_access_key) X(media_types)
#define ROUND_TRIP_INTS(X)                                                                     \
    X(api_socket_mode) X(api_threads) X(api_body_limit) X(api_backlog) X(access_ttl)            \
    X(refresh_ttl) X(argon2_memory_kib) X(argon2_iterations) X(send_batching)                   \
    X(send_max_batch) X(group_max_members) X(edit_window) X(sse_heartbeat)                      \
    X(sse_max_connections) X(sse_retry_ms) X(sse_max_buffer) X(sse_conn_memory)                 \
    X(sse_db_threads) X(sse_max_lifetime) X(presence_grace) X(presence_timeout)                 \
    X(typing_interval) X(ticket_ttl) X(worker_poll_interval) X(storage_s3_path_style)           \
    X(storage_timeout) X(media_upload_ttl) X(media_download_ttl) X(media_max_pending)           \
    X(media_abandon_after)

static void round_trip(const struct config *cfg)
{
    size_t len = 0;
    char *text = dump(cfg, &len);
    struct config back;
    char err[256] = "";

    put_file(text, len);
    if (config_load(&back, file_path, err, sizeof err) != 0) {
        fprintf(stderr, "dump does not load back: %s\n--- dump ---\n%s", err, text);
        abort();
    }
#define SAME_STR(f)                                                                            \
    if (strcmp(cfg->f, back.f) != 0) {                                                         \
        fprintf(stderr, #f ": '%s' came back as '%s'\n", cfg->f, back.f);                      \
        abort();                                                                               \
    }
#define SAME_INT(f) fuzz_check(cfg->f == back.f);
    ROUND_TRIP_STRINGS(SAME_STR)
    ROUND_TRIP_INTS(SAME_INT)
    config_release(&back);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    struct config cfg;
    char err[256];

    if (!inited) {
        init();
        inited = 1;
    }

    /* 1. One setting. */
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *nl = strchr(buf, '\n');
    const char *key = buf, *value = "";
    if (nl) {
        *nl = '\0';
        value = nl + 1;
    }
    config_defaults(&cfg);
    err[0] = '\0';
    if (config_set(&cfg, key, value, err, sizeof err) != 0) {
        fuzz_check(err[0] != '\0');
    } else {
        (void)config_validate(&cfg, err, sizeof err);
        if (!strchr(value, '\n') && strlen(value) < 4000)
            round_trip(&cfg);
    }
    config_release(&cfg);

    storage_check_media_types(buf, err, sizeof err);
    free(buf);

    /* 2. A whole file. */
    put_file(data, size);
    err[0] = '\0';
    if (config_load(&cfg, file_path, err, sizeof err) == 0) {
        size_t len = 0;
        (void)config_validate(&cfg, err, sizeof err);
        free(dump(&cfg, &len));
        config_release(&cfg);
    } else {
        fuzz_check(err[0] != '\0');
    }
    return 0;
}

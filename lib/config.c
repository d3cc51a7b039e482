/*
 * config: the settings table, its file/environment loaders, dump and help.
 *
 * Every setting is one row of the `settings` table below; loading, validation,
 * --check-config output and --help all walk that table, so adding a setting is
 * one line plus one struct field. A struct config owns its strings (heap copies)
 * until config_release(). Functions touch only the struct they are given and
 * are thread-safe as long as that struct is not shared while being written.
 */
#include "config.h"
#include "storage.h"
#include "xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <libpq-fe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES 4096
#define ENV_PREFIX     "MISSIVE_"

enum setting_type {
    T_STRING,
    T_INT,
    T_OCTAL,
    T_SECRET, /* a string never printed back */
};

struct setting {
    const char *name;
    enum setting_type type;
    size_t offset;
    const char *def;     /* as it would be written in the file */
    long long min, max;  /* ints only */
    const char *choices; /* strings: "a|b|c" of allowed values, or NULL */
    const char *desc;
};

/* clang-format off */
#define STR(f, def, choices, desc)                                                               \
    {#f, T_STRING, offsetof(struct config, f), def, 0, 0, choices, desc}
#define SECRET(f, def, desc) {#f, T_SECRET, offsetof(struct config, f), def, 0, 0, NULL, desc}
#define INT(f, def, min, max, desc)                                                              \
    {#f, T_INT, offsetof(struct config, f), #def, min, max, NULL, desc}
#define OCTAL(f, def, min, max, desc)                                                            \
    {#f, T_OCTAL, offsetof(struct config, f), #def, min, max, NULL, desc}
/* clang-format on */

static const struct setting settings[] = {
    STR(db_url, "dbname=missive", NULL, "libpq conninfo or postgresql:// URI"),
    STR(log_level, "info", "debug|info|warn|error", "minimum log level"),
    STR(api_listen, "127.0.0.1:9000", NULL, "API FastCGI socket: unix:/path or host:port"),
    OCTAL(api_socket_mode, 0660, 0, 0777, "mode of the API unix socket (octal)"),
    INT(api_threads, 64, 1, 512, "API request threads (each holds a database connection)"),
    INT(api_body_limit, 65536, 1024, 16777216, "largest request body in bytes"),
    INT(api_backlog, 1024, 1, 65535, "listen backlog of the API socket"),
    SECRET(token_secret, "", "HS256 signing key, at least 32 bytes"),
    INT(access_ttl, 900, 60, 86400, "access token lifetime in seconds"),
    INT(refresh_ttl, 2592000, 60, 31536000, "refresh token lifetime in seconds"),
    INT(argon2_memory_kib, 19456, 8, 4194304, "Argon2id memory cost in KiB"),
    INT(argon2_iterations, 2, 1, 10, "Argon2id iterations"),
    INT(rate_login_ip, 30, 0, 10000000, "sign-in attempts per minute per client address; 0: no limit"),
    INT(rate_login_user, 10, 0, 10000000, "sign-in attempts per minute per username; 0: no limit"),
    INT(rate_signup_ip, 20, 0, 10000000, "accounts created per hour per client address; 0: no limit"),
    INT(rate_send, 1200, 0, 100000000, "messages per minute per user (bursts up to the same count); 0: no limit"),
    INT(rate_media, 60, 0, 10000000, "media uploads started per minute per user; 0: no limit"),
    INT(rate_tickets, 60, 0, 10000000, "stream tickets per minute per user; 0: no limit"),
    INT(send_batching, 1, 0, 1, "1: gather concurrent sends into one transaction; 0: one each"),
    INT(send_max_batch, 256, 1, 10000, "most sends stored in one transaction"),
    INT(group_max_members, 1024, 2, 100000, "most members of a group"),
    INT(edit_window, 86400, 0, 31536000, "seconds after sending that a message can be edited"),
    STR(sse_listen, "127.0.0.1:8081", NULL, "SSE server address host:port"),
    INT(sse_heartbeat, 15, 1, 3600, "seconds between SSE heartbeats"),
    INT(sse_max_connections, 19000, 1, 1000000, "most concurrent SSE connections"),
    INT(sse_retry_ms, 3000, 100, 600000, "reconnect delay suggested to SSE clients (ms)"),
    INT(sse_max_buffer, 262144, 4096, 67108864, "bytes a slow SSE client may fall behind"),
    INT(sse_conn_memory, 4096, 2048, 1048576, "libmicrohttpd memory pool per connection"),
    INT(sse_db_threads, 4, 1, 64, "missive-sse database threads (auth, catch-up)"),
    INT(sse_threads, 4, 1, 64, "missive-sse event-loop threads (connections are spread over them)"),
    INT(sse_max_lifetime, 3600, 60, 86400, "seconds before a stream is ended to re-check auth"),
    INT(sse_request_timeout, 15, 1, 3600,
        "seconds a connection to missive-sse may take to send a whole request"),
    INT(presence_grace, 10, 0, 600, "seconds offline before a user is shown offline"),
    INT(presence_timeout, 30, 5, 3600, "seconds without heartbeat before an instance is dead"),
    INT(typing_interval, 2, 0, 60, "least seconds between typing notices per user"),
    INT(ticket_ttl, 30, 5, 600, "seconds a stream ticket stays valid"),
    INT(worker_poll_interval, 5, 1, 3600, "seconds between worker polls"),
    STR(vapid_key_file, "var/secrets/vapid.pem", NULL,
        "Web Push VAPID private key (PEM); generated with mode 0600 if missing"),
    STR(vapid_subject, "mailto:admin@localhost", NULL,
        "VAPID contact sent to push services: mailto:you@example.com or https://..."),
    INT(push_allow_private, 0, 0, 1, "1: allow push endpoints on private/loopback addresses (tests)"),
    STR(push_ca_file, "", NULL, "PEM CA bundle for push endpoints (empty: the system's)"),
    INT(push_max_attempts, 5, 1, 20, "tries of one push before it is given up"),
    INT(push_gather_ms, 1000, 0, 60000, "ms to wait after a first message so a burst is one push"),
    INT(push_ttl, 86400, 0, 2419200, "seconds a push service may hold an undelivered push (TTL)"),
    INT(push_retry_base_ms, 2000, 100, 600000, "first push retry delay in ms (doubles, jittered)"),
    INT(push_max_in_flight, 16, 1, 256, "concurrent push requests per worker"),
    INT(push_timeout, 15, 1, 120, "seconds allowed for one push request"),
    STR(public_url, "http://127.0.0.1:8080", NULL, "base URL as browsers see it"),
    STR(cors_origins, "", NULL,
        "other web origins allowed to call the API, space-separated; empty: none (closed)"),
    STR(storage_backend, "local", "local|s3", "where media bytes live (docs/media.md)"),
    STR(storage_local_dir, "var/media", NULL, "local: directory nginx stores media in"),
    STR(storage_local_base_url, "", NULL, "local: URL of that directory (empty: public_url/media)"),
    SECRET(storage_local_secret, "", "local: URL signing secret (empty: derived from token_secret)"),
    STR(storage_s3_endpoint, "", NULL, "s3: http(s)://host[:port] of the S3 API"),
    STR(storage_s3_region, "us-east-1", NULL, "s3: SigV4 region (R2: auto, Garage: garage)"),
    STR(storage_s3_bucket, "", NULL, "s3: bucket name"),
    STR(storage_s3_access_key, "", NULL, "s3: access key id"),
    SECRET(storage_s3_secret_key, "", "s3: secret access key"),
    INT(storage_s3_path_style, 1, 0, 1, "s3: 1 = endpoint/bucket/key, 0 = bucket.endpoint/key"),
    INT(storage_timeout, 10, 1, 120, "s3: seconds allowed for the server's HEAD/DELETE"),
    STR(media_types,
        "image/jpeg:16M,image/png:16M,image/webp:16M,image/gif:16M,video/mp4:256M,video/webm:256M",
        NULL, "uploadable types and their size limits (type:size,...; K/M/G suffixes)"),
    INT(media_upload_ttl, 600, 1, 86400, "seconds a presigned upload URL works"),
    INT(media_download_ttl, 300, 1, 86400, "seconds a presigned download URL works"),
    INT(media_max_pending, 100, 1, 100000, "uploads a user may have that no message holds yet"),
    INT(media_abandon_after, 86400, 60, 31536000, "seconds before unsent uploads are swept"),
};

#define N_SETTINGS (sizeof settings / sizeof settings[0])

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const struct setting *find(const char *key)
{
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (strcmp(settings[i].name, key) == 0)
            return &settings[i];
    return NULL;
}

static char **str_field(struct config *cfg, const struct setting *s)
{
    return (char **)(void *)((char *)cfg + s->offset);
}

static int *int_field(struct config *cfg, const struct setting *s)
{
    return (int *)(void *)((char *)cfg + s->offset);
}

static const char *const *cstr_field(const struct config *cfg, const struct setting *s)
{
    return (const char *const *)(const void *)((const char *)cfg + s->offset);
}

static const int *cint_field(const struct config *cfg, const struct setting *s)
{
    return (const int *)(const void *)((const char *)cfg + s->offset);
}

/* 1 if value is one of the '|'-separated words in choices. */
static int in_choices(const char *choices, const char *value)
{
    size_t vlen = strlen(value);
    const char *p = choices;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == vlen && strncmp(p, value, len) == 0)
            return 1;
        if (!bar)
            break;
        p = bar + 1;
    }
    return 0;
}

static void format_bound(char *buf, size_t len, const struct setting *s, long long v)
{
    snprintf(buf, len, s->type == T_OCTAL ? "%#llo" : "%lld", v);
}

static int set_int(struct config *cfg, const struct setting *s, const char *value, char *err,
                   size_t errlen)
{
    int base = s->type == T_OCTAL ? 8 : 10;
    const char *p = value;
    char *end = NULL;
    long long v;

    /* strtoll skips blanks and takes "0x"-style prefixes loosely; be strict. */
    if (*p == '-' || *p == '+')
        p++;
    if (!isdigit((unsigned char)*p) || (base == 8 && value[0] == '-'))
        goto bad;
    errno = 0;
    v = strtoll(value, &end, base);
    if (*end != '\0')
        goto bad;
    if (errno == ERANGE || v < s->min || v > s->max) {
        char lo[32], hi[32];
        format_bound(lo, sizeof lo, s, s->min);
        format_bound(hi, sizeof hi, s, s->max);
        errf(err, errlen, "%s: '%.40s' is out of range (%s..%s)", s->name, value, lo, hi);
        return -1;
    }
    *int_field(cfg, s) = (int)v;
    return 0;

bad:
    errf(err, errlen, "%s: '%.40s' is not %s", s->name, value,
         base == 8 ? "an octal integer" : "an integer");
    return -1;
}

static int set_one(struct config *cfg, const struct setting *s, const char *value, char *err,
                   size_t errlen)
{
    if (s->type == T_INT || s->type == T_OCTAL)
        return set_int(cfg, s, value, err, errlen);

    if (s->choices && !in_choices(s->choices, value)) {
        errf(err, errlen, "%s: '%.40s' is not one of %s", s->name, value, s->choices);
        return -1;
    }
    char **f = str_field(cfg, s);
    free(*f);
    *f = xstrdup(value);
    return 0;
}

int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
    const struct setting *s = find(key);
    if (!s) {
        errf(err, errlen, "unknown key '%.64s'", key);
        return -1;
    }
    return set_one(cfg, s, value, err, errlen);
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_SETTINGS; i++) {
        char err[256];
        if (set_one(cfg, &settings[i], settings[i].def, err, sizeof err) != 0) {
            /* The table is ours: a default that fails its own check is a build bug. */
            fprintf(stderr, "config: bad built-in default: %s\n", err);
            abort();
        }
    }
}

static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/*
 * Reads one line into buf (cap >= LINE_MAX_BYTES + 1) without the newline.
 * Returns 1 for a line, 0 at EOF, -1 if too long or holding a NUL byte. Lines are
 * read byte by byte so neither can slip past the bound.
 */
static int read_line(FILE *f, char *buf, size_t cap, const char **why)
{
    size_t n = 0;
    int c;
    int any = 0;
    while ((c = getc(f)) != EOF) {
        any = 1;
        if (c == '\n')
            break;
        if (c == '\0') {
            *why = "NUL byte in line";
            return -1;
        }
        if (n >= LINE_MAX_BYTES || n + 1 >= cap) {
            *why = "line too long (max 4096 bytes)";
            return -1;
        }
        buf[n++] = (char)c;
    }
    buf[n] = '\0';
    if (!any && ferror(f)) {
        *why = "read error";
        return -1;
    }
    return any;
}

static int load_stream(struct config *cfg, FILE *f, char *err, size_t errlen)
{
    char buf[LINE_MAX_BYTES + 1];
    char why_set[256];
    const char *why = NULL;
    int lineno = 0;
    int r;

    while ((r = read_line(f, buf, sizeof buf, &why)) == 1) {
        lineno++;
        char *line = trim(buf);
        if (*line == '\0' || *line == '#')
            continue;

        char *eq = strchr(line, '=');
        if (!eq) {
            errf(err, errlen, "line %d: expected 'key = value'", lineno);
            return -1;
        }
        *eq = '\0';
        char *key = trim(line);
        char *value = trim(eq + 1);
        if (*key == '\0') {
            errf(err, errlen, "line %d: expected 'key = value'", lineno);
            return -1;
        }

        size_t vlen = strlen(value);
        if (vlen > 0 && value[0] == '"') {
            if (vlen < 2 || value[vlen - 1] != '"') {
                errf(err, errlen, "line %d: %.64s: unterminated quoted value", lineno, key);
                return -1;
            }
            value[vlen - 1] = '\0';
            value++;
        }

        if (config_set(cfg, key, value, why_set, sizeof why_set) != 0) {
            errf(err, errlen, "line %d: %s", lineno, why_set);
            return -1;
        }
    }
    if (r < 0) {
        errf(err, errlen, "line %d: %s", lineno + 1, why);
        return -1;
    }
    return 0;
}

static int load_env(struct config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        char var[96];
        char why[256];
        size_t plen = strlen(ENV_PREFIX);
        size_t nlen = strlen(settings[i].name);
        if (plen + nlen + 1 > sizeof var)
            continue; /* cannot happen with the names above */
        memcpy(var, ENV_PREFIX, plen);
        for (size_t j = 0; j < nlen; j++)
            var[plen + j] = (char)toupper((unsigned char)settings[i].name[j]);
        var[plen + nlen] = '\0';

        const char *v = getenv(var);
        if (!v)
            continue;
        if (set_one(cfg, &settings[i], v, why, sizeof why) != 0) {
            errf(err, errlen, "environment %s: %s", var, why);
            return -1;
        }
    }
    return 0;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
    int rc = -1;
    FILE *f = NULL;

    config_defaults(cfg);
    if (path) {
        f = fopen(path, "r");
        if (!f) {
            errf(err, errlen, "cannot open %.200s: %m", path);
            goto out;
        }
        if (load_stream(cfg, f, err, errlen) != 0)
            goto out;
    }
    if (load_env(cfg, err, errlen) != 0)
        goto out;
    rc = 0;

out:
    if (f)
        fclose(f);
    if (rc != 0)
        config_release(cfg); /* a half-loaded config must not be used */
    return rc;
}

int config_validate(const struct config *cfg, char *err, size_t errlen)
{
    size_t slen = cfg->token_secret ? strlen(cfg->token_secret) : 0;
    if (slen < 32) {
        errf(err, errlen,
             "token_secret: must be at least 32 bytes (has %zu); set it in the file or "
             "MISSIVE_TOKEN_SECRET",
             slen);
        return -1;
    }
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        if (s->type == T_INT || s->type == T_OCTAL) {
            int v = *cint_field(cfg, s);
            if (v < s->min || v > s->max) {
                errf(err, errlen, "%s: %d is out of range", s->name, v);
                return -1;
            }
            continue;
        }
        const char *v = *cstr_field(cfg, s);
        if (!v) {
            errf(err, errlen, "%s: not set", s->name);
            return -1;
        }
        if (s->choices && !in_choices(s->choices, v)) {
            errf(err, errlen, "%s: '%.40s' is not one of %s", s->name, v, s->choices);
            return -1;
        }
    }
    if (!cfg->db_url[0] || !cfg->api_listen[0] || !cfg->sse_listen[0]) {
        errf(err, errlen, "db_url, api_listen and sse_listen must not be empty");
        return -1;
    }
    if (strncmp(cfg->public_url, "http://", 7) != 0 &&
        strncmp(cfg->public_url, "https://", 8) != 0) {
        errf(err, errlen, "public_url: must start with http:// or https://");
        return -1;
    }
    if (storage_check_media_types(cfg->media_types, err, errlen) != 0)
        return -1;
    if (strcmp(cfg->storage_backend, "s3") == 0 &&
        (!cfg->storage_s3_endpoint[0] || !cfg->storage_s3_bucket[0] ||
         !cfg->storage_s3_access_key[0] || !cfg->storage_s3_secret_key[0])) {
        errf(err, errlen, "storage_backend = s3 needs storage_s3_endpoint, storage_s3_bucket, "
                          "storage_s3_access_key and storage_s3_secret_key");
        return -1;
    }
    if (cfg->storage_local_secret[0] && strlen(cfg->storage_local_secret) < 32) {
        errf(err, errlen, "storage_local_secret: must be at least 32 bytes (or empty)");
        return -1;
    }
    if (strncmp(cfg->vapid_subject, "mailto:", 7) != 0 &&
        strncmp(cfg->vapid_subject, "https://", 8) != 0) {
        errf(err, errlen, "vapid_subject: must be a mailto: or https:// URI");
        return -1;
    }
    if (!cfg->vapid_key_file[0]) {
        errf(err, errlen, "vapid_key_file: must not be empty");
        return -1;
    }
    if (cfg->refresh_ttl <= cfg->access_ttl) {
        errf(err, errlen, "refresh_ttl (%d) must be longer than access_ttl (%d)", cfg->refresh_ttl,
             cfg->access_ttl);
        return -1;
    }
    return 0;
}

/* Quoting is needed when trimming would otherwise change the value on reload. */
static int needs_quotes(const char *v)
{
    size_t n = strlen(v);
    return n == 0 || isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1]) ||
           v[0] == '"' || v[0] == '#';
}

/*
 * A connection string with its password hidden. libpq's own parser finds the
 * password, so no spelling of it (URI userinfo, percent-encoded keys, quoting)
 * slips through; what libpq cannot parse is not printed at all.
 */
static void print_redacted(FILE *out, const char *v)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(v, &err);
    int first = 1;

    if (!opts) {
        fputs("(not a valid connection string; not shown)", out);
        PQfreemem(err);
        return;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        fprintf(out, "%s%s=", first ? "" : " ", o->keyword);
        first = 0;
        if (strcmp(o->keyword, "password") == 0) {
            fputs("***", out);
            continue;
        }
        fputc('\'', out);
        for (const char *c = o->val; *c; c++) {
            if (*c == '\'' || *c == '\\')
                fputc('\\', out);
            fputc(*c, out);
        }
        fputc('\'', out);
    }
    PQconninfoFree(opts);
}

void config_dump(const struct config *cfg, FILE *out)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        switch (s->type) {
        case T_INT:
            fprintf(out, "%s = %d\n", s->name, *cint_field(cfg, s));
            break;
        case T_OCTAL:
            fprintf(out, "%s = 0%o\n", s->name, (unsigned)*cint_field(cfg, s));
            break;
        case T_SECRET: {
            const char *v = *cstr_field(cfg, s);
            if (v && *v)
                fprintf(out, "%s = (set, %zu bytes)\n", s->name, strlen(v));
            else
                fprintf(out, "%s = (unset)\n", s->name);
            break;
        }
        case T_STRING: {
            const char *v = *cstr_field(cfg, s);
            if (!v)
                v = "";
            int quote = needs_quotes(v);
            fprintf(out, "%s = %s", s->name, quote ? "\"" : "");
            /* db_url may carry a password, and the dump goes to logs. */
            if (strcmp(s->name, "db_url") == 0)
                print_redacted(out, v);
            else
                fputs(v, out);
            fprintf(out, "%s\n", quote ? "\"" : "");
            break;
        }
        }
    }
}

void config_release(struct config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        if (s->type == T_STRING || s->type == T_SECRET)
            free(*str_field(cfg, s));
    }
    memset(cfg, 0, sizeof *cfg);
}

void config_help(FILE *out)
{
    fprintf(out, "%-22s %-30s %-22s %s\n", "KEY", "ENVIRONMENT", "DEFAULT", "DESCRIPTION");
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        char var[96];
        char range[80] = "";
        size_t j = 0;
        int n = snprintf(var, sizeof var, "%s", ENV_PREFIX);
        for (j = 0; s->name[j] && (size_t)n + j + 1 < sizeof var; j++)
            var[(size_t)n + j] = (char)toupper((unsigned char)s->name[j]);
        var[(size_t)n + j] = '\0';

        if (s->type == T_INT || s->type == T_OCTAL) {
            char lo[32], hi[32];
            format_bound(lo, sizeof lo, s, s->min);
            format_bound(hi, sizeof hi, s, s->max);
            snprintf(range, sizeof range, " [%s..%s]", lo, hi);
        } else if (s->choices) {
            snprintf(range, sizeof range, " [%s]", s->choices);
        }
        const char *def = s->def[0] ? s->def : "(none)";
        fprintf(out, "%-22s %-30s %-22s %s%s\n", s->name, var, def, s->desc, range);
    }
}

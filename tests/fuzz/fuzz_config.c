/*
 * fuzz_config: lib/config.c's setters and file parser, and the media_types parser
 * (lib/storage.c) that config_validate runs.
 *
 * Input, both ways each run:
 *  1. "key\nvalue": config_set(key, value) on the defaults, then config_validate and
 *     config_dump. When the value has no newline (the file cannot hold one) the dump is
 *     loaded back and dumped again, and the two dumps must be the same text: that is the
 *     promise of needs_quotes() ("quoting is needed when trimming would otherwise change
 *     the value on reload"), secret and db_url lines aside.
 *     Whatever libpq reads as db_url's password must not be in the dump (it goes to
 *     logs): checked against PQconninfoParse, libpq's own parser.
 *  2. The whole input as a config file: config_load on a memfd (config.h has no stream
 *     API; the path is /proc/self/fd/N), then config_validate, the password check and
 *     config_dump.
 * Plus storage_check_media_types on the whole input as a media_types value.
 *
 * MISSIVE_* variables are removed from the environment first (config_load reads them).
 */
#include "config.h"
#include "storage.h"

#include <ctype.h>
#include <libpq-fe.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FUZZ_FLAGS: -max_len=9000 */

#define fuzz_check(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
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

/*
 * The dump without the lines that are not values: secrets ("(unset)" / "(set, N
 * bytes)"), db_url, and any line the redaction touched ("***": print_redacted runs on
 * every string setting, and redacting a redacted value may redact a little more; the
 * password check below covers db_url instead).
 */
static char *comparable(const char *text)
{
    char *out = malloc(strlen(text) + 1), *o = out;
    for (const char *line = text; *line;) {
        size_t n = strcspn(line, "\n");
        const char *eq = strstr(line, " = (");
        int skip = (eq && (size_t)(eq - line) < n &&
                    (strncmp(eq, " = (unset)\n", 11) == 0 || strncmp(eq, " = (set, ", 9) == 0)) ||
                   strncmp(line, "db_url = ", 9) == 0 || memmem(line, n, "***", 3) != NULL;
        if (!skip) {
            memcpy(o, line, n);
            o += n;
            *o++ = '\n';
        }
        line += n;
        if (*line == '\n')
            line++;
    }
    *o = '\0';
    return out;
}

/* Occurrences (overlapping) of the k bytes at needle in hay[0..n). */
static int count_in(const char *hay, size_t n, const char *needle, size_t k)
{
    int c = 0;
    for (size_t i = 0; k && i + k <= n; i++)
        c += memcmp(hay + i, needle, k) == 0;
    return c;
}

/*
 * The dump goes to logs, so no part of db_url's password may be in it. The password is
 * what libpq itself reads from the conninfo or URI (PQconninfoParse: no connection is
 * made). When it is written literally in the value, every 4-byte window of it must
 * occur fewer times in the dumped value than in the raw one: the redaction removes the
 * password's own occurrence, and leaves any elsewhere (a user name that is the same
 * text, say). Passwords with '*' (the redaction mark) are not checked.
 */
static void check_redaction(const struct config *cfg)
{
    /*
     * Known and reported, not fixed yet (README.md, findings C1 and C2): print_redacted()
     * reads db_url by rules of its own, and libpq reads other passwords out of it than
     * it hides. Every variant has the same fix (redact what PQconninfoParse finds), so
     * the check runs only with FUZZ_STRICT=1 until then; drop this gate with the fix.
     */
    static int strict = -1;
    if (strict < 0)
        strict = getenv("FUZZ_STRICT") && strcmp(getenv("FUZZ_STRICT"), "1") == 0;
    if (!strict)
        return;

    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(cfg->db_url, &errmsg);
    PQfreemem(errmsg);
    if (!opts)
        return;
    const char *pw = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0)
            pw = o->val;
    size_t pwlen = pw ? strlen(pw) : 0, rawlen = strlen(cfg->db_url);
    /* Checked when the password is written literally (no escapes or %XX) and the value
     * is one line (a file cannot hold more; the dump would spread it over lines). */
    if (pwlen >= 4 && !strchr(pw, '*') && !strchr(cfg->db_url, '\n') &&
        count_in(cfg->db_url, rawlen, pw, pwlen) > 0) {
        size_t len = 0;
        char *text = dump(cfg, &len);
        const char *line = strstr(text, "db_url = ");
        fuzz_check(line != NULL);
        /* The value as dumped, without the quotes needs_quotes() may add. */
        const char *v = line + 9;
        size_t n = strcspn(v, "\n");
        if (n >= 2 && v[0] == '"' && v[n - 1] == '"' &&
            (cfg->db_url[0] == '"' || cfg->db_url[0] == '#' || rawlen == 0 ||
             isspace((unsigned char)cfg->db_url[0]) ||
             isspace((unsigned char)cfg->db_url[rawlen - 1]))) {
            v++;
            n -= 2;
        }
        for (size_t i = 0; i + 4 <= pwlen && i < 256; i++) {
            int raw = count_in(cfg->db_url, rawlen, pw + i, 4);
            int shown = count_in(v, n, pw + i, 4);
            if (raw > 0 && shown >= raw) {
                fprintf(stderr,
                        "fuzz_check failed: db_url password '%s': '%.4s' is in the dump: %.*s\n",
                        pw, pw + i, (int)n, v);
                abort();
            }
        }
        free(text);
    }
    PQconninfoFree(opts);
}

/*
 * The dump loads back to a config whose dump is the same text. Compared as dumps so
 * that every setting is covered, new ones included. Secret lines are left out of the
 * comparison: the dump hides secrets (and reloading "(unset)" sets that text as the
 * secret, which config_validate then refuses as too short). A redacted db_url reloads
 * as its redacted text, whose dump is that text again.
 */
static void round_trip(const struct config *cfg)
{
    size_t len = 0, len2 = 0;
    char *text = dump(cfg, &len);
    struct config back;
    char err[256] = "";

    put_file(text, len);
    if (config_load(&back, file_path, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_check failed: dump does not load back: %s\n--- dump ---\n%s", err,
                text);
        abort();
    }
    char *again = dump(&back, &len2);
    char *a = comparable(text), *b = comparable(again);
    if (strcmp(a, b) != 0) {
        /* Name the first line that differs. */
        const char *x = a, *y = b;
        while (*x && *x == *y)
            x++, y++;
        while (x > a && x[-1] != '\n')
            x--, y--;
        fprintf(stderr, "fuzz_check failed: dump round trip changed\n  %.*s\nto\n  %.*s\n",
                (int)strcspn(x, "\n"), x, (int)strcspn(y, "\n"), y);
        abort();
    }
    config_release(&back);
    free(a);
    free(b);
    free(again);
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
        check_redaction(&cfg);
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
        check_redaction(&cfg);
        free(dump(&cfg, &len));
        config_release(&cfg);
    } else {
        fuzz_check(err[0] != '\0');
    }
    return 0;
}

/* Unit tests for lib/config.c: defaults, file syntax, errors, env, dump, validate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

extern char **environ;

static const char *const secret40 = "0123456789012345678901234567890123456789";

/* Writes text to a fresh temporary file; returns its heap path. */
static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/missive-config-test-XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

/* Loads text as a config file; returns config_load's result. */
static int load_text(struct config *cfg, const char *text, char *err, size_t errlen)
{
    char *path = write_tmp(text);
    int rc = config_load(cfg, path, err, errlen);
    unlink(path);
    free(path);
    return rc;
}

static void clear_missive_env(void)
{
    /* Collect first: unsetenv changes environ under our feet. */
    char *names[256];
    int n = 0;
    for (char **e = environ; *e && n < 256; e++) {
        if (strncmp(*e, "MISSIVE_", 8) == 0) {
            const char *eq = strchr(*e, '=');
            names[n++] = strndup(*e, eq ? (size_t)(eq - *e) : strlen(*e));
        }
    }
    for (int i = 0; i < n; i++) {
        unsetenv(names[i]);
        free(names[i]);
    }
}

static void test_defaults(void **state)
{
    (void)state;
    struct config cfg;
    config_defaults(&cfg);
    assert_string_equal(cfg.db_url, "dbname=missive");
    assert_string_equal(cfg.log_level, "info");
    assert_string_equal(cfg.api_listen, "127.0.0.1:9000");
    assert_int_equal(cfg.api_socket_mode, 0660);
    assert_int_equal(cfg.api_threads, 64);
    assert_int_equal(cfg.api_body_limit, 65536);
    assert_int_equal(cfg.api_backlog, 1024);
    assert_string_equal(cfg.token_secret, "");
    assert_int_equal(cfg.access_ttl, 900);
    assert_int_equal(cfg.refresh_ttl, 2592000);
    assert_int_equal(cfg.argon2_memory_kib, 19456);
    assert_int_equal(cfg.argon2_iterations, 2);
    assert_string_equal(cfg.sse_listen, "127.0.0.1:8081");
    assert_int_equal(cfg.sse_heartbeat, 15);
    assert_int_equal(cfg.sse_max_connections, 19000);
    assert_int_equal(cfg.worker_poll_interval, 5);
    assert_string_equal(cfg.public_url, "http://127.0.0.1:8080");
    config_release(&cfg);

    char err[256] = "";
    assert_int_equal(config_load(&cfg, NULL, err, sizeof err), 0);
    assert_int_equal(cfg.api_threads, 64);
    config_release(&cfg);
}

static void test_file_parse(void **state)
{
    (void)state;
    struct config cfg;
    char err[256] = "";
    int rc = load_text(&cfg,
                       "# Missive test config\n"
                       "\n"
                       "   db_url   =   host=db dbname=m   \n"
                       "\t# indented comment\n"
                       "log_level=debug\n"
                       "public_url = \"https://chat.example\"\n"
                       "api_listen = \"  unix:/run/m.sock  \"\n"
                       "api_threads = 4\r\n"
                       "api_socket_mode = 0600\n"
                       "token_secret = \"has # and = inside\"\n"
                       "sse_heartbeat = 30", /* no final newline */
                       err, sizeof err);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg.db_url, "host=db dbname=m");
    assert_string_equal(cfg.log_level, "debug");
    assert_string_equal(cfg.public_url, "https://chat.example");
    assert_string_equal(cfg.api_listen, "  unix:/run/m.sock  ");
    assert_int_equal(cfg.api_threads, 4);
    assert_int_equal(cfg.api_socket_mode, 0600);
    assert_string_equal(cfg.token_secret, "has # and = inside");
    assert_int_equal(cfg.sse_heartbeat, 30);
    assert_int_equal(cfg.access_ttl, 900); /* untouched keys keep defaults */
    config_release(&cfg);
}

static void test_unknown_key(void **state)
{
    (void)state;
    struct config cfg;
    char err[256] = "";
    assert_int_equal(load_text(&cfg, "# c\napi_threads = 3\nbogus_key = 1\n", err, sizeof err), -1);
    assert_non_null(strstr(err, "line 3: unknown key 'bogus_key'"));
    config_release(&cfg); /* safe after a failed load */

    char err2[256] = "";
    assert_int_equal(config_set(&cfg, "nope", "1", err2, sizeof err2), -1);
    assert_non_null(strstr(err2, "nope"));
}

static void test_syntax_errors(void **state)
{
    (void)state;
    struct config cfg;
    char err[256] = "";
    assert_int_equal(load_text(&cfg, "api_threads 4\n", err, sizeof err), -1);
    assert_non_null(strstr(err, "line 1"));

    assert_int_equal(load_text(&cfg, "db_url = \"unterminated\n", err, sizeof err), -1);
    assert_non_null(strstr(err, "db_url"));

    assert_int_equal(load_text(&cfg, " = 5\n", err, sizeof err), -1);
    assert_non_null(strstr(err, "line 1"));

    assert_int_equal(load_text(&cfg, "log_level = verbose\n", err, sizeof err), -1);
    assert_non_null(strstr(err, "log_level"));
}

static void test_bad_int(void **state)
{
    (void)state;
    struct config cfg;
    char err[256] = "";
    const char *bad[] = {"api_threads = abc\n", "api_threads = 12x\n",
                         "api_threads =\n",     "api_threads = 0x10\n",
                         "api_threads = 1.5\n", "api_threads = 99999999999999999999999\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(load_text(&cfg, bad[i], err, sizeof err), -1);
        assert_non_null(strstr(err, "api_threads"));
    }
    assert_int_equal(load_text(&cfg, "api_socket_mode = 0680\n", err, sizeof err), -1);
    assert_non_null(strstr(err, "api_socket_mode"));
}

static void test_out_of_range(void **state)
{
    (void)state;
    struct config cfg;
    char err[256] = "";
    assert_int_equal(load_text(&cfg, "api_threads = 513\n", err, sizeof err), -1);
    assert_non_null(strstr(err, "api_threads"));
    assert_non_null(strstr(err, "1..512"));

    assert_int_equal(load_text(&cfg, "api_threads = 0\n", err, sizeof err), -1);
    assert_non_null(strstr(err, "1..512"));

    assert_int_equal(load_text(&cfg, "access_ttl = 59\n", err, sizeof err), -1);
    assert_non_null(strstr(err, "access_ttl"));
    assert_non_null(strstr(err, "60..86400"));

    assert_int_equal(load_text(&cfg, "api_threads = 512\napi_body_limit = 1024\n", err, sizeof err),
                     0);
    assert_int_equal(cfg.api_threads, 512);
    assert_int_equal(cfg.api_body_limit, 1024);
    config_release(&cfg);
}

static void test_env_override(void **state)
{
    (void)state;
    struct config cfg;
    char err[256] = "";
    setenv("MISSIVE_API_THREADS", "32", 1);
    setenv("MISSIVE_DB_URL", "dbname=fromenv", 1);
    /* The environment wins over the file. */
    assert_int_equal(
        load_text(&cfg, "api_threads = 4\ndb_url = dbname=fromfile\n", err, sizeof err), 0);
    assert_int_equal(cfg.api_threads, 32);
    assert_string_equal(cfg.db_url, "dbname=fromenv");
    config_release(&cfg);

    setenv("MISSIVE_API_THREADS", "many", 1);
    assert_int_equal(config_load(&cfg, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "MISSIVE_API_THREADS"));
    config_release(&cfg);

    unsetenv("MISSIVE_API_THREADS");
    unsetenv("MISSIVE_DB_URL");
    assert_int_equal(config_load(&cfg, NULL, err, sizeof err), 0);
    assert_int_equal(cfg.api_threads, 64);
    config_release(&cfg);
}

static void test_long_line(void **state)
{
    (void)state;
    struct config cfg;
    char err[256] = "";

    /* Exactly 4096 bytes (without the newline) is accepted. */
    char *text = malloc(6000);
    assert_non_null(text);
    strcpy(text, "db_url = ");
    size_t pre = strlen(text);
    memset(text + pre, 'a', 4096 - pre);
    strcpy(text + 4096, "\n");
    assert_int_equal(load_text(&cfg, text, err, sizeof err), 0);
    assert_int_equal(strlen(cfg.db_url), 4096 - pre);
    config_release(&cfg);

    /* One more byte is an error, not a silent split or overflow. */
    memset(text + pre, 'a', 4097 - pre);
    strcpy(text + 4097, "\n");
    err[0] = '\0';
    assert_int_equal(load_text(&cfg, text, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 1"));
    assert_non_null(strstr(err, "too long"));

    /* Same for a much longer comment line in the middle of a file. */
    strcpy(text, "api_threads = 2\n#");
    pre = strlen(text);
    memset(text + pre, '#', 5000);
    strcpy(text + pre + 5000, "\n");
    assert_int_equal(load_text(&cfg, text, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 2"));
    free(text);
}

static char *dump_to_string(const struct config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    config_dump(cfg, f);
    fclose(f);
    return buf;
}

static void test_dump_redacts_secret(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    config_defaults(&cfg);

    char *out = dump_to_string(&cfg);
    assert_non_null(strstr(out, "token_secret = (unset)\n"));
    assert_non_null(strstr(out, "api_threads = 64\n"));
    assert_non_null(strstr(out, "api_socket_mode = 0660\n"));
    assert_non_null(strstr(out, "dbname='missive'"));
    free(out);

    assert_int_equal(config_set(&cfg, "token_secret", secret40, err, sizeof err), 0);
    out = dump_to_string(&cfg);
    assert_non_null(strstr(out, "token_secret = (set, 40 bytes)\n"));
    assert_null(strstr(out, secret40));
    assert_null(strstr(out, "0123456789"));
    free(out);

    /* Passwords inside db_url are hidden too, however they are spelled: libpq's
     * own parser finds them (cases from tests/fuzz/crashes/fuzz_config). */
    const char *urls[][2] = {
        {"host=db password=hunter2 dbname=m", "password=***"},
        {"host=db password = 'hun ter\\'2' dbname=m", "password=***"},
        {"host=db password=hunter2&defghij dbname=m", "password=***"},
        {"postgresql://bob:hunter2@db:5432/m", "password=***"},
        {"postgresql://db/m?user=bob&password=hunter2&sslmode=require", "password=***"},
        {"postgresql://missive@db/missive?pass%77ord=hunter22", "password=***"},
        {"postgresql://db/m?password=hunter2%20horse", "password=***"},
        {"postgresql://bob@db/m", "user='bob'"},
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        assert_int_equal(config_set(&cfg, "db_url", urls[i][0], err, sizeof err), 0);
        out = dump_to_string(&cfg);
        assert_non_null(strstr(out, urls[i][1]));
        assert_null(strstr(out, "hunter2"));
        assert_null(strstr(out, "hun"));
        assert_null(strstr(out, "horse"));
        assert_null(strstr(out, "defghij"));
        free(out);
    }
    config_release(&cfg);
}

static void test_validate(void **state)
{
    (void)state;
    struct config cfg;
    char err[256] = "";
    config_defaults(&cfg);
    assert_int_equal(config_validate(&cfg, err, sizeof err), -1); /* no secret */
    assert_non_null(strstr(err, "token_secret"));

    assert_int_equal(
        config_set(&cfg, "token_secret", "short-secret-31-bytes-long-xxxx", err, sizeof err), 0);
    assert_int_equal(strlen(cfg.token_secret), 31);
    err[0] = '\0';
    assert_int_equal(config_validate(&cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "token_secret"));
    assert_null(strstr(err, "short-secret")); /* never echo the secret */

    assert_int_equal(
        config_set(&cfg, "token_secret", "exactly-32-bytes-long-secret-xxx", err, sizeof err), 0);
    assert_int_equal(config_validate(&cfg, err, sizeof err), 0);

    /* A log level that bypassed config_set is still caught. */
    free(cfg.log_level);
    cfg.log_level = strdup("loud");
    assert_int_equal(config_validate(&cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "log_level"));
    config_release(&cfg);
}

static void test_help(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    config_help(f);
    fclose(f);
    assert_non_null(strstr(buf, "db_url"));
    assert_non_null(strstr(buf, "MISSIVE_DB_URL"));
    assert_non_null(strstr(buf, "MISSIVE_SSE_MAX_CONNECTIONS"));
    assert_non_null(strstr(buf, "dbname=missive"));
    assert_non_null(strstr(buf, "19000"));
    free(buf);
}

int main(void)
{
    clear_missive_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_parse),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_bad_int),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_env_override),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_dump_redacts_secret),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

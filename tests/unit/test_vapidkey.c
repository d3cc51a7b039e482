/*
 * Unit tests for lib/vapidkey.c: the VAPID key file is created on first use with
 * mode 0600, read back unchanged afterwards, and programs racing to create it
 * (missive-api and the push worker starting together) end up with one key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vapidkey.h"
#include "webpush.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/missive-vapid-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
    return 0;
}

static void test_create_then_load(void **state)
{
    char path[128], err[256], pub[128];
    struct webpush_vapid *v = NULL;
    struct stat st;
    int created = -1;
    (void)state;

    snprintf(path, sizeof path, "%s/vapid.pem", dir);
    assert_int_equal(vapidkey_load_or_create(path, &v, &created, err, sizeof err), 0);
    assert_int_equal(created, 1);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(pub, sizeof pub, "%s", webpush_vapid_public(v));
    assert_int_equal(strlen(pub), 87); /* base64url of 65 bytes */
    webpush_vapid_free(v);

    assert_int_equal(vapidkey_load_or_create(path, &v, &created, err, sizeof err), 0);
    assert_int_equal(created, 0);
    assert_string_equal(webpush_vapid_public(v), pub);
    webpush_vapid_free(v);

    /* No temporary files are left behind. */
    DIR *d = opendir(dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL)
        files += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(files, 1);
}

static void test_refusals(void **state)
{
    char path[128], err[256];
    struct webpush_vapid *v = NULL;
    (void)state;

    snprintf(path, sizeof path, "%s/missing-dir/vapid.pem", dir);
    assert_int_equal(vapidkey_load_or_create(path, &v, NULL, err, sizeof err), -1);
    assert_null(v);
    assert_non_null(strstr(err, "cannot create"));

    snprintf(path, sizeof path, "%s/garbage.pem", dir);
    FILE *f = fopen(path, "w");
    fputs("not a key\n", f);
    fclose(f);
    assert_int_equal(vapidkey_load_or_create(path, &v, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "not an unencrypted P-256 private key"));

    assert_int_equal(vapidkey_load_or_create(dir, &v, NULL, err, sizeof err), -1); /* a directory */
    assert_int_equal(vapidkey_load_or_create("", &v, NULL, err, sizeof err), -1);
}

static void test_racing_creators_agree(void **state)
{
    enum { N = 8 };
    char path[128];
    int fds[N][2];
    pid_t pids[N];
    char keys[N][160];
    int created_total = 0;
    (void)state;

    snprintf(path, sizeof path, "%s/race.pem", dir);
    for (int i = 0; i < N; i++) {
        assert_int_equal(pipe(fds[i]), 0);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            char err[256], out[160];
            struct webpush_vapid *v = NULL;
            int created = 0;
            close(fds[i][0]);
            if (vapidkey_load_or_create(path, &v, &created, err, sizeof err) != 0)
                _exit(1);
            int n = snprintf(out, sizeof out, "%d %s", created, webpush_vapid_public(v));
            if (write(fds[i][1], out, (size_t)n) != n)
                _exit(1);
            _exit(0);
        }
        close(fds[i][1]);
    }
    for (int i = 0; i < N; i++) {
        char buf[160] = {0};
        int status = 0;
        ssize_t n = read(fds[i][0], buf, sizeof buf - 1);
        close(fds[i][0]);
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_true(n > 2);
        created_total += buf[0] == '1';
        snprintf(keys[i], sizeof keys[i], "%s", buf + 2);
    }
    assert_int_equal(created_total, 1); /* exactly one of them made the key */
    for (int i = 1; i < N; i++)
        assert_string_equal(keys[i], keys[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_then_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_racing_creators_agree, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

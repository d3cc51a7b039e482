/*
 * Unit tests for lib/storage_local.c and lib/storage.c: the local backend's URL
 * signatures (sign/verify round trip, tampering, expiry, no overwrite), keys, media
 * types and Content-Disposition; the server's own put/get of files. Expected HMACs
 * were computed independently with Python's hmac module over the documented string
 * to sign.
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
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "storage.h"

static const char *const secret40 = "0123456789012345678901234567890123456789";
static const char *const key1 = "0123456789abcdef0123456789abcdef.jpg";

struct fixture {
    struct config cfg;
    struct storage *st;
    char dir[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[256];
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/missive-storage-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    config_defaults(&f->cfg);
    if (config_set(&f->cfg, "token_secret", secret40, err, sizeof err) != 0 ||
        config_set(&f->cfg, "storage_local_dir", f->dir, err, sizeof err) != 0 ||
        config_set(&f->cfg, "storage_local_base_url", "http://127.0.0.1:8080/media/", err,
                   sizeof err) != 0)
        return -1;
    f->st = storage_new(&f->cfg, err, sizeof err);
    if (!f->st) {
        fprintf(stderr, "storage_new: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/%s", f->dir, key1);
    unlink(path);
    rmdir(f->dir);
    storage_free(f->st);
    config_release(&f->cfg);
    free(f);
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The decoded value of query parameter name in url (heap), or NULL. */
static char *query_param(const char *url, const char *name)
{
    const char *q = strchr(url, '?');
    size_t n = strlen(name);
    while (q) {
        q++;
        if (strncmp(q, name, n) == 0 && q[n] == '=') {
            const char *v = q + n + 1;
            size_t len = strcspn(v, "&");
            char *out = calloc(1, len + 1), *o = out;
            for (size_t i = 0; i < len; i++) {
                if (v[i] == '%' && i + 2 < len + 1) {
                    *o++ = (char)(hexval(v[i + 1]) * 16 + hexval(v[i + 2]));
                    i += 2;
                } else {
                    *o++ = v[i];
                }
            }
            return out;
        }
        q = strchr(q, '&');
    }
    return NULL;
}

static void test_known_signatures(void **state)
{
    (void)state;
    unsigned char k[32];
    char sig[65];
    for (int i = 0; i < 32; i++)
        k[i] = (unsigned char)i;
    storage_local_sign(k, "PUT", key1, "image/jpeg", "1000", "", 1700000000, sig);
    assert_string_equal(sig, "5dc5affa84402bd1831028478604d432fc12f5443d2dae32591e4bd2f47049b5");
    storage_local_sign(k, "GET", key1, "", "",
                       "inline; filename=\"a.jpg\"; filename*=UTF-8''a.jpg", 1700000000, sig);
    assert_string_equal(sig, "ab4c78e5d0ce620fe10ec79dfa09375dc41a48080e790c4d2d5ff68d92eb5f56");
}

static void test_key_derived_from_token_secret(void **state)
{
    struct fixture *f = *state;
    static const unsigned char want[32] = {
        0x5d, 0xa5, 0xe2, 0xf3, 0x9e, 0x41, 0x20, 0xf4, 0xb8, 0x07, 0xbe,
        0x21, 0xd9, 0x62, 0x42, 0x4a, 0xc1, 0x39, 0x80, 0xfc, 0xec, 0x92,
        0x8f, 0x56, 0x7c, 0x59, 0x65, 0x8d, 0x73, 0x49, 0x9b, 0x71};
    assert_memory_equal(storage_local_key(f->st), want, 32);
}

static void test_put_roundtrip_and_tamper(void **state)
{
    struct fixture *f = *state;
    json_t *h = NULL;
    char *url = storage_presign_put(f->st, key1, "image/jpeg", 1000, 600, &h);
    time_t now = time(NULL);
    assert_non_null(url);
    assert_non_null(h);
    assert_string_equal(json_string_value(json_object_get(h, "Content-Type")), "image/jpeg");
    assert_string_equal(json_string_value(json_object_get(h, "Content-Length")), "1000");
    assert_int_equal(strncmp(url, "http://127.0.0.1:8080/media/", 28), 0);
    assert_int_equal(strncmp(url + 28, key1, strlen(key1)), 0);

    char *exp = query_param(url, "exp"), *sig = query_param(url, "sig");
    assert_non_null(exp);
    assert_non_null(sig);
    assert_true(atoll(exp) >= (long long)now + 599 && atoll(exp) <= (long long)now + 601);

    struct storage_local_req q = {"PUT", key1, "image/jpeg", "1000", exp, sig, NULL};
    const char *why = NULL;
    assert_int_equal(storage_local_check(f->st, &q, now, 1, &why), STORAGE_LOCAL_OK);

    /* Another type, another length, another key, another method: all refused. */
    struct storage_local_req t = q;
    t.content_type = "image/png";
    assert_int_equal(storage_local_check(f->st, &t, now, 1, &why), STORAGE_LOCAL_BAD);
    t = q;
    t.content_type = "image/jpeg ";
    assert_int_equal(storage_local_check(f->st, &t, now, 1, &why), STORAGE_LOCAL_BAD);
    t = q;
    t.content_length = "999";
    assert_int_equal(storage_local_check(f->st, &t, now, 1, &why), STORAGE_LOCAL_BAD);
    t = q;
    t.content_length = NULL; /* chunked: no length */
    assert_int_equal(storage_local_check(f->st, &t, now, 1, &why), STORAGE_LOCAL_BAD);
    t = q;
    t.key = "0123456789abcdef0123456789abcdee.jpg";
    assert_int_equal(storage_local_check(f->st, &t, now, 1, &why), STORAGE_LOCAL_BAD);
    t = q;
    t.method = "GET";
    assert_int_equal(storage_local_check(f->st, &t, now, 1, &why), STORAGE_LOCAL_BAD);
    t = q;
    t.method = "DELETE";
    assert_int_equal(storage_local_check(f->st, &t, now, 1, &why), STORAGE_LOCAL_BAD);

    /* A changed signature or expiry. */
    char bad_sig[65];
    snprintf(bad_sig, sizeof bad_sig, "%s", sig);
    bad_sig[10] = bad_sig[10] == 'a' ? 'b' : 'a';
    t = q;
    t.sig = bad_sig;
    assert_int_equal(storage_local_check(f->st, &t, now, 1, &why), STORAGE_LOCAL_BAD);
    char later[24];
    snprintf(later, sizeof later, "%lld", atoll(exp) + 3600);
    t = q;
    t.exp = later;
    assert_int_equal(storage_local_check(f->st, &t, now, 1, &why), STORAGE_LOCAL_BAD);
    t = q;
    t.sig = "ABCDEF";
    assert_int_equal(storage_local_check(f->st, &t, now, 1, &why), STORAGE_LOCAL_BAD);
    t = q;
    t.exp = "-5";
    assert_int_equal(storage_local_check(f->st, &t, now, 1, &why), STORAGE_LOCAL_BAD);

    /* Upper-case hex of the right signature is not what we issue. */
    char upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] = (char)(sig[i] >= 'a' && sig[i] <= 'f' ? sig[i] - 32 : sig[i]);
    t = q;
    t.sig = upper;
    assert_int_equal(storage_local_check(f->st, &t, now, 1, &why), STORAGE_LOCAL_BAD);

    free(exp);
    free(sig);
    free(url);
    json_decref(h);
}

static void test_expiry(void **state)
{
    struct fixture *f = *state;
    char *url = storage_presign_put(f->st, key1, "image/png", 5, 2, NULL);
    char *exp = query_param(url, "exp"), *sig = query_param(url, "sig");
    struct storage_local_req q = {"PUT", key1, "image/png", "5", exp, sig, NULL};
    time_t e = (time_t)atoll(exp);
    assert_int_equal(storage_local_check(f->st, &q, e, 0, NULL), STORAGE_LOCAL_OK);
    assert_int_equal(storage_local_check(f->st, &q, e + 1, 0, NULL), STORAGE_LOCAL_EXPIRED);
    assert_int_equal(storage_local_check(f->st, &q, e + 86400, 0, NULL), STORAGE_LOCAL_EXPIRED);
    /* Too far in the future is not ours either (more than 7 days ahead). */
    assert_int_equal(storage_local_check(f->st, &q, e - 8 * 86400, 0, NULL), STORAGE_LOCAL_BAD);
    free(exp);
    free(sig);
    free(url);
}

static void test_no_overwrite(void **state)
{
    struct fixture *f = *state;
    char *url = storage_presign_put(f->st, key1, "image/jpeg", 3, 60, NULL);
    char *exp = query_param(url, "exp"), *sig = query_param(url, "sig");
    struct storage_local_req q = {"PUT", key1, "image/jpeg", "3", exp, sig, NULL};
    char path[128];
    long long size = -1;
    char ct[32];

    assert_int_equal(storage_head(f->st, key1, &size, ct, sizeof ct), 1);
    assert_int_equal(storage_local_check(f->st, &q, time(NULL), 1, NULL), STORAGE_LOCAL_OK);
    snprintf(path, sizeof path, "%s/%s", f->dir, key1);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("abc", fp);
    fclose(fp);
    assert_int_equal(storage_local_check(f->st, &q, time(NULL), 1, NULL), STORAGE_LOCAL_EXISTS);
    assert_int_equal(storage_local_check(f->st, &q, time(NULL), 0, NULL), STORAGE_LOCAL_OK);
    assert_int_equal(storage_head(f->st, key1, &size, ct, sizeof ct), 0);
    assert_int_equal(size, 3);
    assert_string_equal(ct, "");
    assert_int_equal(storage_delete(f->st, key1), 0);
    assert_int_equal(storage_head(f->st, key1, &size, ct, sizeof ct), 1);
    assert_int_equal(storage_delete(f->st, key1), 0); /* already gone: fine */
    free(exp);
    free(sig);
    free(url);
}

static void test_get_roundtrip(void **state)
{
    struct fixture *f = *state;
    char *cd = storage_disposition("r\xc3\xa9sum\xc3\xa9 \"1\".jpg");
    char *url = storage_presign_get(f->st, key1, "image/jpeg", cd, 300);
    char *exp = query_param(url, "exp"), *sig = query_param(url, "sig");
    char *qcd = query_param(url, "cd");
    time_t now = time(NULL);

    assert_string_equal(cd, "inline; filename=\"r_sum_ _1_.jpg\"; "
                            "filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.jpg");
    assert_non_null(qcd);
    assert_string_equal(qcd, cd);
    struct storage_local_req q = {"GET", key1, NULL, NULL, exp, sig, qcd};
    assert_int_equal(storage_local_check(f->st, &q, now, 1, NULL), STORAGE_LOCAL_OK);
    q.method = "HEAD";
    assert_int_equal(storage_local_check(f->st, &q, now, 1, NULL), STORAGE_LOCAL_OK);
    /* Another disposition (say, attachment or another name) is not signed. */
    q.cd = "attachment";
    assert_int_equal(storage_local_check(f->st, &q, now, 1, NULL), STORAGE_LOCAL_BAD);
    q.cd = NULL;
    assert_int_equal(storage_local_check(f->st, &q, now, 1, NULL), STORAGE_LOCAL_BAD);
    /* A GET signature does not allow a PUT. */
    struct storage_local_req p = {"PUT", key1, "image/jpeg", "3", exp, sig, qcd};
    assert_int_equal(storage_local_check(f->st, &p, now, 1, NULL), STORAGE_LOCAL_BAD);
    free(qcd);
    free(exp);
    free(sig);
    free(url);
    free(cd);
}

static void test_keys(void **state)
{
    (void)state;
    char a[STORAGE_KEY_MAX + 1], b[STORAGE_KEY_MAX + 1];
    assert_int_equal(storage_new_key("image/jpeg", a), 0);
    assert_int_equal(storage_new_key("image/jpeg", b), 0);
    assert_int_equal(strlen(a), 36);
    assert_string_equal(a + 32, ".jpg");
    assert_string_not_equal(a, b);
    assert_true(storage_valid_key(a));
    assert_int_equal(storage_new_key("video/webm", a), 0);
    assert_string_equal(a + 32, ".webm");
    assert_int_equal(storage_new_key("text/html", a), -1);
    assert_int_equal(storage_new_key("image/svg+xml", a), -1);

    assert_false(storage_valid_key(NULL));
    assert_false(storage_valid_key(""));
    assert_false(storage_valid_key("../0123456789abcdef0123456789ab.jpg"));
    assert_false(storage_valid_key("0123456789abcdef0123456789abcdef"));
    assert_false(storage_valid_key("0123456789abcdef0123456789abcdef.j"));
    assert_false(storage_valid_key("0123456789abcdef0123456789abcdef.jpegxx"));
    assert_false(storage_valid_key("0123456789ABCDEF0123456789abcdef.jpg"));
    assert_false(storage_valid_key("0123456789abcdef0123456789abcdef.jpg/x"));
    assert_false(storage_valid_key("0123456789abcdef0123456789abcdef.jp/"));
}

static void test_media_types(void **state)
{
    struct fixture *f = *state;
    char err[256];
    assert_int_equal(storage_max_size(f->st, "image/jpeg"), 16LL * 1024 * 1024);
    assert_int_equal(storage_max_size(f->st, "video/mp4"), 256LL * 1024 * 1024);
    assert_int_equal(storage_max_size(f->st, "image/avif"), 0); /* known, not allowed */
    assert_int_equal(storage_max_size(f->st, "text/html"), 0);
    assert_int_equal(storage_max_size(f->st, "IMAGE/JPEG"), 0);
    assert_non_null(strstr(storage_allowed_types(f->st), "image/webp"));

    assert_int_equal(storage_check_media_types("image/png:10,video/mp4:1G", err, sizeof err), 0);
    assert_int_equal(storage_check_media_types(" image/png : 2K , audio/mpeg:3m", err, sizeof err),
                     0);
    assert_int_equal(storage_check_media_types("", err, sizeof err), -1);
    assert_int_equal(storage_check_media_types("image/png", err, sizeof err), -1);
    assert_int_equal(storage_check_media_types("image/png:0", err, sizeof err), -1);
    assert_int_equal(storage_check_media_types("image/png:6G", err, sizeof err), -1);
    assert_int_equal(storage_check_media_types("image/png:1X", err, sizeof err), -1);
    assert_int_equal(storage_check_media_types("text/html:1K", err, sizeof err), -1);
    assert_non_null(strstr(err, "text/html"));
    assert_int_equal(storage_check_media_types("image/png:1,image/png:2", err, sizeof err), -1);
}

static void test_disposition(void **state)
{
    (void)state;
    char *d = storage_disposition("a.jpg");
    assert_string_equal(d, "inline; filename=\"a.jpg\"; filename*=UTF-8''a.jpg");
    free(d);
    d = storage_disposition("x\\y\r\n.png");
    assert_null(strpbrk(d, "\r\n"));
    assert_string_equal(d, "inline; filename=\"x_y__.png\"; filename*=UTF-8''x%5Cy%0D%0A.png");
    free(d);
    d = storage_disposition("");
    assert_string_equal(d, "inline");
    free(d);
}

/* The server's own writes and reads (the thumbnail job): storage_put/storage_get. */
static void test_server_put_get(void **state)
{
    struct fixture *f = *state;
    static const char body[] = "thumbnail bytes", other[] = "other";
    unsigned char *data = NULL;
    size_t len = 0;
    struct stat st;
    char path[128];
    int entries = 0;

    assert_int_equal(storage_get(f->st, key1, 1000, &data, &len), 1); /* missing */
    assert_null(data);
    assert_int_equal(storage_put(f->st, key1, "image/webp", body, sizeof body - 1), 0);
    snprintf(path, sizeof path, "%s/%s", f->dir, key1);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0640); /* like nginx's own uploads */
    assert_int_equal(storage_get(f->st, key1, 1000, &data, &len), 0);
    assert_int_equal(len, sizeof body - 1);
    assert_memory_equal(data, body, len);
    free(data);
    data = NULL;
    assert_int_equal(storage_get(f->st, key1, (long long)sizeof body - 2, &data, &len), 2);
    assert_null(data);
    /* Replaced whole, and no temporary file is left behind. */
    assert_int_equal(storage_put(f->st, key1, "image/webp", other, sizeof other - 1), 0);
    assert_int_equal(storage_get(f->st, key1, 1000, &data, &len), 0);
    assert_int_equal(len, sizeof other - 1);
    assert_memory_equal(data, other, len);
    free(data);
    data = NULL;
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 1);
    /* Only keys, never paths. */
    assert_int_equal(storage_put(f->st, "../escape.jpg", "image/webp", body, 3), -1);
    assert_int_equal(storage_get(f->st, "../../etc/passwd", 1000, &data, &len), -1);
    assert_int_equal(storage_put(f->st, key1, "", body, 3), -1);
    assert_int_equal(storage_delete(f->st, key1), 0);
    assert_int_equal(storage_get(f->st, key1, 1000, &data, &len), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_signatures),
        cmocka_unit_test_setup_teardown(test_key_derived_from_token_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_roundtrip_and_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_put_get, setup, teardown),
        cmocka_unit_test(test_keys),
        cmocka_unit_test_setup_teardown(test_media_types, setup, teardown),
        cmocka_unit_test(test_disposition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

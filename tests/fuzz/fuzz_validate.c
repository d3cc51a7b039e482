/*
 * fuzz_validate: the value rules of api/validate.c and http_parse_id (api/http.c), plus
 * the two media helpers that take client text (lib/storage.c: storage_valid_key for keys
 * from paths, storage_disposition for the filename of POST /v1/media).
 *
 * Input: one C string (bytes up to the first NUL), given to every function.
 *
 * Properties checked besides memory safety:
 *  - http_parse_id accepts exactly the canonical decimals of 1 .. 2^63-1 (round trip
 *    through "%lld", and every such decimal is accepted);
 *  - each validator's documented shape holds for what it accepts (lengths, hex digits,
 *    no control characters, valid UTF-8);
 *  - storage_disposition yields a header value with no control characters and no
 *    quote that could end filename="...".
 */
#include "http.h"
#include "jsonv.h"
#include "storage.h"
#include "validate.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_check(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 1;
    return 0;
}

static void check_parse_id(const char *s)
{
    long long id = -7;
    int rc = http_parse_id(s, &id);
    if (rc == 0) {
        char back[32];
        fuzz_check(id >= 1);
        snprintf(back, sizeof back, "%lld", id);
        fuzz_check(strcmp(back, s) == 0);
        return;
    }
    fuzz_check(rc == -1 && id == -7);
    /* Reference: a canonical decimal that strtoll reads without overflow must pass. */
    size_t n = strlen(s);
    int digits = n > 0 && n <= 19 && s[0] >= '1' && s[0] <= '9';
    for (size_t i = 0; digits && i < n; i++)
        digits = isdigit((unsigned char)s[i]);
    if (digits) {
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        fuzz_check(errno == ERANGE || v < 1);
    }
}

static void check_uuid(const char *s)
{
    if (!validate_uuid(s))
        return;
    fuzz_check(strlen(s) == 36);
    for (int i = 0; i < 36; i++)
        fuzz_check((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] == '-'
                                                             : isxdigit((unsigned char)s[i]));
}

static void check_timestamp(const char *s)
{
    if (!validate_timestamp(s))
        return;
    size_t n = strlen(s);
    /* Shortest: 2030-01-01T00:00:00Z; longest: 9 fraction digits and +hh:mm. */
    fuzz_check(n >= 20 && n <= 35);
    fuzz_check(!has_control(s));
    fuzz_check(s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't') && s[13] == ':' &&
               s[16] == ':');
    /* Something a SQL timestamptz cast can read: digits, separators, zone, fraction. */
    for (size_t i = 0; i < n; i++)
        fuzz_check(strchr("0123456789-:.+TtZz", s[i]) != NULL);
}

static void check_text_rule(const char *s, int ok, long long max)
{
    if (!ok)
        return;
    long long cps = utf8_length(s, strlen(s));
    fuzz_check(cps >= 1 && cps <= max);
}

static void check_disposition(const char *s)
{
    /* The handler passes filenames that passed jsonv (valid UTF-8); any bytes must
     * still give a safe header value. */
    char *d = storage_disposition(s);
    fuzz_check(d != NULL);
    fuzz_check(!has_control(d));
    if (*s == '\0') {
        fuzz_check(strcmp(d, "inline") == 0);
    } else {
        const char *fn = "inline; filename=\"";
        fuzz_check(strncmp(d, fn, strlen(fn)) == 0);
        const char *q = strchr(d + strlen(fn), '"');
        fuzz_check(q != NULL && strncmp(q, "\"; filename*=UTF-8''", 20) == 0);
        /* The encoded part is attr-chars and %XX only. */
        for (const char *p = q + 20; *p; p++) {
            if (*p == '%') {
                fuzz_check(isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]));
                p += 2;
            } else {
                fuzz_check(isalnum((unsigned char)*p) || strchr("!#$&+-.^_`|~", *p));
            }
        }
    }
    free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';

    check_parse_id(s);
    check_uuid(s);
    check_timestamp(s);

    int dn = validate_display_name(s);
    check_text_rule(s, dn, 64);
    if (dn)
        fuzz_check(!has_control(s));
    int title = validate_title(s);
    check_text_rule(s, title, 128);
    if (title)
        fuzz_check(!has_control(s));
    check_text_rule(s, validate_body(s), 4000);

    if (storage_valid_key(s)) {
        size_t n = strlen(s);
        fuzz_check(n >= 35 && n <= 38 && s[32] == '.');
        fuzz_check(strchr(s, '/') == NULL && strstr(s, "..") == NULL);
    }
    check_disposition(s);

    free(s);
    return 0;
}

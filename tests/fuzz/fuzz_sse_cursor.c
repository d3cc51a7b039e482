/*
 * fuzz_sse_cursor: the parser missive-sse applies to Last-Event-ID, ?cursor=, ?timeout=
 * and ?limit= (sse/server.c).
 *
 * FUZZ_LINK: sse
 *
 * The parser is the file-static parse_pos() in sse/server.c. This target is written
 * against a shared helper
 *
 *     long long sse_parse_pos(const char *s);   (declared in sse/server.h)
 *
 * with parse_pos's contract: -1 for NULL (absent), -2 for anything but a non-empty
 * string of ASCII digits that fits, else the value. run.sh defines
 * MISSIVE_HAVE_SSE_PARSE_POS when sse/server.h declares it; until then the target
 * tests a verbatim copy (below), which must be kept in step with sse/server.c.
 *
 * Input: one C string (bytes up to the first NUL).
 *
 * Properties checked besides memory safety: the result is -2 or a value >= 0; a value is
 * only given for all-digit input and equals strtoll's reading; every all-digit input up
 * to 9223372036854775799 is accepted (parse_pos refuses the last 8 values below 2^63 by
 * design: its overflow guard is conservative).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MISSIVE_HAVE_SSE_PARSE_POS
#include "../../sse/server.h"
#else
/* Verbatim copy of parse_pos() from sse/server.c (file-static there). */
/* A non-negative decimal, or -1 (absent) / -2 (malformed). */
static long long parse_pos(const char *s)
{
    long long x = 0;
    if (!s)
        return -1;
    if (!*s)
        return -2;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || x > (0x7fffffffffffffffLL - 9) / 10)
            return -2;
        x = x * 10 + (*s - '0');
    }
    return x;
}
#define sse_parse_pos parse_pos
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_check(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define LARGEST_ACCEPTED 9223372036854775799LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';

    fuzz_check(sse_parse_pos(NULL) == -1);

    long long v = sse_parse_pos(s);
    size_t n = strlen(s);
    int digits = n > 0;
    for (size_t i = 0; digits && i < n; i++)
        digits = s[i] >= '0' && s[i] <= '9';

    errno = 0;
    long long ref = digits ? strtoll(s, NULL, 10) : -1;
    int fits = digits && errno == 0 && ref <= LARGEST_ACCEPTED;

    fuzz_check(v == -2 || v >= 0);
    if (v >= 0)
        fuzz_check(digits && errno == 0 && v == ref);
    if (fits)
        fuzz_check(v == ref);
    free(s);
    return 0;
}

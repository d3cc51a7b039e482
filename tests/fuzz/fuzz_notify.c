/*
 * fuzz_notify: how missive-sse's listener (sse/listener.c) decodes NOTIFY payloads and
 * the user-id arrays it reads back.
 *
 * FUZZ_LINK: sse
 *
 * Both parsers are file-static in sse/listener.c today: parse_ids(), and the
 * "FIRST:LAST" parse written inline in handle(). This target is written against the
 * helpers they should become (declared in sse/listener.h):
 *
 *     // "FIRST:LAST" (or "LAST") of a missive_events notice. 0, or -1 if malformed.
 *     int listener_parse_range(const char *payload, long long *first, long long *last);
 *     // A PostgreSQL bigint[] text "{1,2,3}" as a heap array (free it); the count.
 *     size_t listener_parse_ids(const char *text, long long **out);
 *
 * run.sh defines MISSIVE_HAVE_LISTENER_PARSE when sse/listener.h declares
 * listener_parse_range; until then the copies below stand in. parse_ids is verbatim;
 * the range parse is the inline code of handle() wrapped in that signature (it never
 * refuses anything). Keep them in step with sse/listener.c.
 *
 * Input: "range payload\nid array text" (no newline: both get the whole input).
 *
 * Properties checked besides memory safety:
 *  - listener_parse_ids gives one value per run of digits, each >= 0 and equal to
 *    strtoll's reading of the run;
 *  - with FUZZ_STRICT=1 (run.sh repro; and always once the helper exists) a range that is
 *    accepted has 0 <= FIRST <= LAST and LAST leaves room for the listener's page
 *    arithmetic (watermark + 500 must not overflow). The copy fails this: see README.md.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MISSIVE_HAVE_LISTENER_PARSE
#include "../../sse/listener.h"
#define HELPERS_ARE_REAL 1
#else
#include "xalloc.h"
#define HELPERS_ARE_REAL   0

/* Verbatim copy of parse_ids() from sse/listener.c (file-static there). */
/* Parses "{1,2,3}" into a heap array. */
static size_t parse_ids(const char *text, long long **out)
{
    size_t n = 0, cap = 16;
    long long *v = xmalloc(cap * sizeof *v);
    const char *p = text;

    while (*p) {
        char *end;
        if (*p < '0' || *p > '9') {
            p++;
            continue;
        }
        long long x = strtoll(p, &end, 10);
        if (n == cap) {
            cap *= 2;
            v = xrealloc(v, cap * sizeof *v);
        }
        v[n++] = x;
        p = end;
    }
    *out = v;
    return n;
}
#define listener_parse_ids parse_ids

/* The inline parse of handle() in sse/listener.c:
 *     const char *colon = strchr(n->extra, ':');
 *     long long last = strtoll(colon ? colon + 1 : n->extra, NULL, 10);
 * FIRST is not read there; here it is read the same way for the checks. */
static int listener_parse_range(const char *payload, long long *first, long long *last)
{
    const char *colon = strchr(payload, ':');
    *last = strtoll(colon ? colon + 1 : payload, NULL, 10);
    *first = colon ? strtoll(payload, NULL, 10) : *last;
    return 0;
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_check(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define RANGE_PAGE 500 /* sse/listener.c */

static void check_ids(const char *text)
{
    long long *ids = NULL;
    size_t n = listener_parse_ids(text, &ids);
    size_t runs = 0;
    const char *p = text;

    fuzz_check(n == 0 || ids != NULL);
    while (*p) {
        if (*p < '0' || *p > '9') {
            p++;
            continue;
        }
        const char *start = p;
        while (*p >= '0' && *p <= '9')
            p++;
        char run[64];
        if ((size_t)(p - start) < sizeof run && runs < n) {
            snprintf(run, sizeof run, "%.*s", (int)(p - start), start);
            fuzz_check(ids[runs] == strtoll(run, NULL, 10));
        }
        runs++;
    }
    fuzz_check(n == runs);
    for (size_t i = 0; i < n; i++)
        fuzz_check(ids[i] >= 0);
    free(ids);
}

static void check_range(const char *payload, int strict)
{
    long long first = -7, last = -7;
    int rc = listener_parse_range(payload, &first, &last);
    fuzz_check(rc == 0 || rc == -1);
    if (rc != 0 || !strict)
        return;
    if (!(first >= 0 && first <= last && last <= LLONG_MAX - RANGE_PAGE)) {
        fprintf(stderr, "fuzz_check failed: range '%s' accepted as %lld:%lld\n", payload, first,
                last);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int strict = -1;
    if (strict < 0) {
        const char *e = getenv("FUZZ_STRICT");
        strict = HELPERS_ARE_REAL || (e && strcmp(e, "1") == 0);
    }

    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    char *nl = strchr(s, '\n');
    const char *ids = s;
    if (nl) {
        *nl = '\0';
        ids = nl + 1;
    }
    check_range(s, strict);
    check_ids(ids);
    free(s);
    return 0;
}

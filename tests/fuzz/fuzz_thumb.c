/*
 * fuzz_thumb: lib/thumb.c, the thumbnailer of uploaded images (libvips).
 *
 * Input: one byte choosing the declared type (its value modulo 4: image/jpeg,
 * image/png, image/webp, image/gif), then the file.
 *
 * libvips and the codecs are Debian's (not instrumented), so coverage guides the
 * search only through our wrapper; what this target is for is the whole path on
 * hostile bytes: any crash, hang (libFuzzer -timeout), leak or oversized
 * allocation (-rss_limit_mb) in the decoders we let through, and these properties:
 *  - thumb_make answers 0 or -1, and -1 leaves no output and a reason of printable
 *    ASCII;
 *  - 0 gives a WebP ("RIFF" size "WEBP", the RIFF size matching the length) no
 *    side of which is longer than the limit;
 *  - the declared type is enforced: input that does not start with that type's
 *    signature is refused.
 * Limits are smaller than the product's (64 px, 4 megapixels, 5 s) so that each
 * input is quick; the code paths are the same.
 *
 * FUZZ_PKGS: vips
 * FUZZ_FLAGS: -max_len=65536
 */
#include "thumb.h"

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

#define SIZE 64

static const struct {
    const char *type;
    const char *magic;
    size_t magic_len;
} types[4] = {
    {"image/jpeg", "\xff\xd8\xff", 3},
    {"image/png", "\x89PNG\r\n\x1a\n", 8},
    {"image/webp", "RIFF", 4}, /* then 4 bytes of size, then WEBP */
    {"image/gif", "GIF8", 4},
};

static int signature_ok(int t, const uint8_t *p, size_t n)
{
    if (n < types[t].magic_len || memcmp(p, types[t].magic, types[t].magic_len) != 0)
        return 0;
    return t != 2 || (n >= 12 && memcmp(p + 8, "WEBP", 4) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct thumb *th;
    struct thumb_image img;
    char why[256];

    if (!th) {
        char err[256];
        th = thumb_new(err, sizeof err);
        if (!th) {
            fprintf(stderr, "thumb_new: %s\n", err);
            abort();
        }
        thumb_set_limits(th, SIZE, 4LL * 1000 * 1000, 5000);
    }
    if (size < 1)
        return 0;
    int t = data[0] % 4;
    const uint8_t *file = data + 1;
    size_t len = size - 1;

    int rc = thumb_make(th, file, len, types[t].type, &img, why, sizeof why);
    fuzz_check(rc == 0 || rc == -1);
    fuzz_check(memchr(why, '\0', sizeof why) != NULL);
    for (const char *c = why; *c; c++)
        fuzz_check(*c >= 0x20 && *c <= 0x7e);
    if (rc != 0) {
        fuzz_check(img.data == NULL && img.len == 0);
        fuzz_check(why[0] != '\0');
        return 0;
    }
    fuzz_check(signature_ok(t, file, len));
    fuzz_check(img.data && img.len >= 20);
    fuzz_check(memcmp(img.data, "RIFF", 4) == 0 && memcmp(img.data + 8, "WEBP", 4) == 0);
    uint32_t riff = (uint32_t)img.data[4] | (uint32_t)img.data[5] << 8 |
                    (uint32_t)img.data[6] << 16 | (uint32_t)img.data[7] << 24;
    fuzz_check((size_t)riff + 8 == img.len);
    fuzz_check(img.width >= 1 && img.height >= 1);
    fuzz_check(img.width <= SIZE && img.height <= SIZE);
    free(img.data);
    return 0;
}

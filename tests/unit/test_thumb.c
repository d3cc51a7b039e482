/*
 * Unit tests for lib/thumb.c: real images of each type get a WebP thumbnail of the
 * right size (longest side 320, orientation applied, never enlarged, no metadata),
 * and everything else is refused cleanly: garbage, truncated files, bytes of
 * another type than declared, formats only other loaders read, headers claiming
 * huge images, decodes over the time limit. The fixtures are in thumb_images/
 * (its README says how they were made). Output sizes are read from the WebP
 * container here, independently of libvips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thumb.h"
#include "xalloc.h"

struct blob {
    unsigned char *data;
    size_t len;
};

/* The fixture directory, next to this source file (no working directory assumed). */
static struct blob fixture(const char *name)
{
    const char *slash = strrchr(__FILE__, '/');
    int dirlen = slash ? (int)(slash - __FILE__ + 1) : 0;
    char *path = xasprintf("%.*sthumb_images/%s", dirlen, __FILE__, name);
    struct blob b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    b.data = xmalloc(1 << 20);
    b.len = fread(b.data, 1, 1 << 20, f);
    fclose(f);
    free(path);
    assert_true(b.len > 0);
    return b;
}

static uint32_t le24(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

/* Width and height from a WebP file's first chunk (RFC 9649); -1 if it is not one. */
static int webp_size(const unsigned char *p, size_t n, int *w, int *h, int *vp8x_flags)
{
    *vp8x_flags = 0;
    if (n < 30 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WEBP", 4) != 0)
        return -1;
    if (memcmp(p + 12, "VP8X", 4) == 0) {
        *vp8x_flags = p[20];
        *w = (int)le24(p + 24) + 1;
        *h = (int)le24(p + 27) + 1;
        return 0;
    }
    if (memcmp(p + 12, "VP8 ", 4) == 0 && p[23] == 0x9d && p[24] == 0x01 && p[25] == 0x2a) {
        *w = (p[26] | p[27] << 8) & 0x3fff;
        *h = (p[28] | p[29] << 8) & 0x3fff;
        return 0;
    }
    if (memcmp(p + 12, "VP8L", 4) == 0 && p[20] == 0x2f) {
        uint32_t bits =
            (uint32_t)p[21] | (uint32_t)p[22] << 8 | (uint32_t)p[23] << 16 | (uint32_t)p[24] << 24;
        *w = (int)(bits & 0x3fff) + 1;
        *h = (int)((bits >> 14) & 0x3fff) + 1;
        return 0;
    }
    return -1;
}

static int contains(const unsigned char *p, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, needle, k) == 0)
            return 1;
    return 0;
}

static int setup(void **state)
{
    char err[256];
    struct thumb *t = thumb_new(err, sizeof err);
    if (!t) {
        fprintf(stderr, "thumb_new: %s\n", err);
        return -1;
    }
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    thumb_free(*state);
    return 0;
}

/* Thumbnails fixture name (declared ctype): must succeed with w x h, a real WebP
 * of that size, without metadata, and the thumbnail of the thumbnail is the same size. */
static void expect_thumb(struct thumb *t, const char *name, const char *ctype, int w, int h)
{
    struct blob b = fixture(name);
    struct thumb_image img, again;
    char why[256];
    int fw = 0, fh = 0, flags = 0;

    if (thumb_make(t, b.data, b.len, ctype, &img, why, sizeof why) != 0)
        fail_msg("%s: %s", name, why);
    assert_int_equal(img.width, w);
    assert_int_equal(img.height, h);
    assert_int_equal(webp_size(img.data, img.len, &fw, &fh, &flags), 0);
    assert_int_equal(fw, w);
    assert_int_equal(fh, h);
    assert_int_equal(flags & (0x20 | 0x04), 0); /* no ICC or XMP chunk */
    /* Nothing of the upload's metadata (photo.jpg carries both markers). libvips
     * 8.14 adds an EXIF block of its own (resolution), so that chunk may be there. */
    assert_false(contains(img.data, img.len, "MISSIVE-PRIVATE"));
    assert_false(contains(img.data, img.len, "xmpmeta"));
    assert_true(img.len < 64 * 1024);

    assert_int_equal(thumb_make(t, img.data, img.len, "image/webp", &again, why, sizeof why), 0);
    assert_int_equal(again.width, w);
    assert_int_equal(again.height, h);
    free(again.data);
    free(img.data);
    free(b.data);
}

/* Must be refused; the reason must mention expect (if not NULL). */
static void expect_refused(struct thumb *t, const void *data, size_t len, const char *ctype,
                           const char *expect)
{
    struct thumb_image img;
    char why[256];
    assert_int_equal(thumb_make(t, data, len, ctype, &img, why, sizeof why), -1);
    assert_null(img.data);
    assert_int_equal(img.len, 0);
    assert_true(strlen(why) > 0);
    assert_null(strchr(why, '\n'));
    if (expect && !strstr(why, expect))
        fail_msg("reason '%s' does not mention '%s'", why, expect);
}

static void test_supported(void **state)
{
    (void)state;
    assert_true(thumb_supported("image/jpeg"));
    assert_true(thumb_supported("image/png"));
    assert_true(thumb_supported("image/webp"));
    assert_true(thumb_supported("image/gif"));
    assert_false(thumb_supported("image/avif"));
    assert_false(thumb_supported("image/svg+xml"));
    assert_false(thumb_supported("video/mp4"));
    assert_false(thumb_supported("IMAGE/PNG"));
    assert_false(thumb_supported(""));
    assert_false(thumb_supported(NULL));
}

static void test_each_type(void **state)
{
    expect_thumb(*state, "wide.png", "image/png", 320, 80);
    expect_thumb(*state, "alpha.webp", "image/webp", 320, 320);
    expect_thumb(*state, "anim.gif", "image/gif", 320, 240);
}

static void test_jpeg_orientation_applied(void **state)
{
    struct blob b = fixture("photo.jpg");
    /* The fixture does carry what must not get through. */
    assert_true(contains(b.data, b.len, "MISSIVE-PRIVATE-EXIF"));
    assert_true(contains(b.data, b.len, "MISSIVE-PRIVATE-XMP"));
    free(b.data);
    /* 480 x 240 stored, EXIF says turn it: shown 240 x 480. */
    expect_thumb(*state, "photo.jpg", "image/jpeg", 160, 320);
}

static void test_small_not_enlarged(void **state)
{
    expect_thumb(*state, "small.png", "image/png", 100, 50);
}

static void test_alpha_kept(void **state)
{
    struct blob b = fixture("alpha.webp");
    struct thumb_image img;
    char why[256];
    int w, h, flags;
    assert_int_equal(thumb_make(*state, b.data, b.len, "image/webp", &img, why, sizeof why), 0);
    assert_int_equal(webp_size(img.data, img.len, &w, &h, &flags), 0);
    assert_true(flags & 0x10); /* VP8X alpha */
    free(img.data);
    free(b.data);
}

static void test_garbage_refused(void **state)
{
    unsigned char junk[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        x = x * 1103515245 + 12345;
        junk[i] = (unsigned char)(x >> 16);
    }
    expect_refused(*state, junk, sizeof junk, "image/png", "not an image");
    expect_refused(*state, junk, sizeof junk, "image/jpeg", NULL);
    expect_refused(*state, "", 0, "image/png", "empty");
    expect_refused(*state, NULL, 0, "image/png", "empty");
    /* Only a signature. */
    expect_refused(*state, "\x89PNG\r\n\x1a\n", 8, "image/png", NULL);
    expect_refused(*state, "\xff\xd8\xff", 3, "image/jpeg", NULL);
    expect_refused(*state, "GIF89a", 6, "image/gif", NULL);
    expect_refused(*state, "RIFF\x10\0\0\0WEBPVP8 ", 16, "image/webp", NULL);
}

static void test_truncated_refused(void **state)
{
    const char *names[] = {"wide.png", "photo.jpg", "alpha.webp", "anim.gif"};
    const char *types[] = {"image/png", "image/jpeg", "image/webp", "image/gif"};
    for (size_t i = 0; i < 4; i++) {
        struct blob b = fixture(names[i]);
        /* Header intact, pixel data cut off. */
        expect_refused(*state, b.data, b.len / 2, types[i], NULL);
        /* Cut within the header. */
        expect_refused(*state, b.data, 20, types[i], NULL);
        free(b.data);
    }
}

static void test_declared_type_must_match(void **state)
{
    struct blob png = fixture("wide.png"), jpg = fixture("photo.jpg"), gif = fixture("anim.gif");
    expect_refused(*state, png.data, png.len, "image/jpeg", "declared image/jpeg");
    expect_refused(*state, jpg.data, jpg.len, "image/png", "declared image/png");
    expect_refused(*state, gif.data, gif.len, "image/webp", "declared image/webp");
    expect_refused(*state, png.data, png.len, "image/avif", "no thumbnails");
    expect_refused(*state, png.data, png.len, "video/mp4", "no thumbnails");
    expect_refused(*state, png.data, png.len, NULL, "no thumbnails");
    free(png.data);
    free(jpg.data);
    free(gif.data);
}

static void test_other_formats_refused(void **state)
{
    /* Formats only other (blocked) loaders read: SVG, ImageMagick's XPM and PPM, PDF. */
    static const char svg[] = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"4000\" "
                              "height=\"4000\"><rect width=\"10\" height=\"10\"/></svg>";
    static const char xpm[] = "/* XPM */\nstatic char *x[] = {\"2 1 1 1\", \"a c #000000\", "
                              "\"aa\"};\n";
    static const char ppm[] = "P3\n2 1\n255\n0 0 0 255 255 255\n";
    static const char pdf[] = "%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
    const char *all[] = {svg, xpm, ppm, pdf};
    for (size_t i = 0; i < 4; i++) {
        expect_refused(*state, all[i], strlen(all[i]), "image/png", NULL);
        expect_refused(*state, all[i], strlen(all[i]), "image/gif", NULL);
    }
}

static void test_huge_header_refused(void **state)
{
    struct blob b = fixture("huge.png"), w = fixture("wide.png");
    expect_refused(*state, b.data, b.len, "image/png", "30000 x 30000 pixels");
    /* The limit is the pixel count, whatever the file size. */
    thumb_set_limits(*state, THUMB_SIZE, 800 * 200 - 1, THUMB_TIMEOUT_MS);
    expect_refused(*state, w.data, w.len, "image/png", "800 x 200 pixels");
    thumb_set_limits(*state, THUMB_SIZE, 800 * 200, THUMB_TIMEOUT_MS);
    expect_thumb(*state, "wide.png", "image/png", 320, 80);
    thumb_set_limits(*state, THUMB_SIZE, THUMB_MAX_PIXELS, THUMB_TIMEOUT_MS);
    free(b.data);
    free(w.data);
}

static void test_too_slow_killed(void **state)
{
    struct blob b = fixture("wide.png");
    /* A deadline already past: the first progress report stops the decode. */
    thumb_set_limits(*state, THUMB_SIZE, THUMB_MAX_PIXELS, -1);
    expect_refused(*state, b.data, b.len, "image/png", "took longer");
    thumb_set_limits(*state, THUMB_SIZE, THUMB_MAX_PIXELS, THUMB_TIMEOUT_MS);
    /* And the next image is not affected. */
    expect_thumb(*state, "wide.png", "image/png", 320, 80);
    free(b.data);
}

static void test_other_size(void **state)
{
    thumb_set_limits(*state, 64, THUMB_MAX_PIXELS, THUMB_TIMEOUT_MS);
    expect_thumb(*state, "wide.png", "image/png", 64, 16);
    expect_thumb(*state, "photo.jpg", "image/jpeg", 32, 64);
    thumb_set_limits(*state, THUMB_SIZE, THUMB_MAX_PIXELS, THUMB_TIMEOUT_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_supported),
        cmocka_unit_test(test_each_type),
        cmocka_unit_test(test_jpeg_orientation_applied),
        cmocka_unit_test(test_small_not_enlarged),
        cmocka_unit_test(test_alpha_kept),
        cmocka_unit_test(test_garbage_refused),
        cmocka_unit_test(test_truncated_refused),
        cmocka_unit_test(test_declared_type_must_match),
        cmocka_unit_test(test_other_formats_refused),
        cmocka_unit_test(test_huge_header_refused),
        cmocka_unit_test(test_too_slow_killed),
        cmocka_unit_test(test_other_size),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * thumb: thumbnails of untrusted images with libvips (see thumb.h for the why).
 *
 * The only file that talks to libvips, so that only the programs that make
 * thumbnails (missive-worker) link it.
 */
#include "thumb.h"

#include "log.h"
#include "xalloc.h"

#include <vips/vips.h>
/* After vips.h, which it needs. */
#include <vips/vector.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct thumb {
    int size;
    long long max_pixels;
    int timeout_ms;
};

/*
 * The types we thumbnail and the libvips loader each must be read with: the one
 * vips_foreign_find_load_buffer names for the bytes must be this one, so a PNG
 * declared as a JPEG is refused rather than decoded by another loader. libvips
 * before 8.11 read GIF with giflib, under another name.
 */
static const struct {
    const char *type;
    const char *loader; /* the class that reads it; "Buffer" is appended */
    const char *loader2;
} types[] = {
    {"image/jpeg", "VipsForeignLoadJpeg", NULL},
    {"image/png", "VipsForeignLoadPng", NULL},
    {"image/webp", "VipsForeignLoadWebp", NULL},
    {"image/gif", "VipsForeignLoadNsgif", "VipsForeignLoadGif"},
};
#define NTYPES (sizeof types / sizeof types[0])

/* libvips's own messages (warnings about odd files): for debugging only. */
static void on_vips_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer ud)
{
    (void)domain;
    (void)level;
    (void)ud;
    log_debug("thumb_vips", "%s", msg ? msg : "");
}

/* Once per process; 0, or -1 with the reason in err. */
static int vips_setup(char *err, size_t errlen)
{
    static int done = 0, failed = 0;

    if (done)
        return failed ? -1 : 0;
    done = 1;
    if (VIPS_INIT("missive") != 0) {
        snprintf(err, errlen, "libvips: %s", vips_error_buffer());
        vips_error_clear();
        failed = 1;
        return -1;
    }
    g_log_set_handler("VIPS", G_LOG_LEVEL_MASK & ~G_LOG_LEVEL_ERROR, on_vips_log, NULL);
    /* Every loader that is not for untrusted input, then every loader but ours:
     * nothing else can be reached whatever the bytes look like. */
    vips_block_untrusted_set(TRUE);
    vips_operation_block_set("VipsForeignLoad", TRUE);
    for (size_t i = 0; i < NTYPES; i++) {
        vips_operation_block_set(types[i].loader, FALSE);
        if (types[i].loader2)
            vips_operation_block_set(types[i].loader2, FALSE);
    }
    /* One image at a time, nothing kept between images, no JIT (the worker's
     * systemd unit forbids writable executable memory anyway). */
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    vips_concurrency_set(1);
    vips_vector_set_enabled(FALSE);
    return 0;
}

struct thumb *thumb_new(char *err, size_t errlen)
{
    struct thumb *t;

    if (vips_setup(err, errlen) != 0)
        return NULL;
    t = xcalloc(1, sizeof *t);
    t->size = THUMB_SIZE;
    t->max_pixels = THUMB_MAX_PIXELS;
    t->timeout_ms = THUMB_TIMEOUT_MS;
    return t;
}

void thumb_free(struct thumb *t)
{
    free(t);
}

void thumb_set_limits(struct thumb *t, int size, long long max_pixels, int timeout_ms)
{
    t->size = size;
    t->max_pixels = max_pixels;
    t->timeout_ms = timeout_ms;
}

static int type_index(const char *content_type)
{
    for (size_t i = 0; content_type && i < NTYPES; i++)
        if (strcmp(types[i].type, content_type) == 0)
            return (int)i;
    return -1;
}

int thumb_supported(const char *content_type)
{
    return type_index(content_type) >= 0;
}

/* Does the loader libvips picked for the bytes read the declared type? */
static int loader_matches(int ti, const char *found)
{
    const char *names[2] = {types[ti].loader, types[ti].loader2};
    for (int i = 0; i < 2; i++) {
        size_t n = names[i] ? strlen(names[i]) : 0;
        if (n && strncmp(found, names[i], n) == 0 && strcmp(found + n, "Buffer") == 0)
            return 1;
    }
    return 0;
}

/* The first line of libvips's error text, then clears it. */
static void vips_why(char *why, size_t whylen, const char *what)
{
    const char *e = vips_error_buffer();
    size_t n = strcspn(e, "\n");
    if (n == 0)
        snprintf(why, whylen, "%s: failed", what);
    else
        snprintf(why, whylen, "%s: %.*s", what, (int)(n > 200 ? 200 : n), e);
    vips_error_clear();
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Called as the pipeline is evaluated: past the deadline, stop it. */
static void on_eval(VipsImage *image, VipsProgress *progress, void *ud)
{
    const long long *deadline = ud;
    (void)progress;
    if (mono_ms() > *deadline)
        vips_image_set_kill(image, TRUE);
}

int thumb_make(struct thumb *t, const void *in, size_t len, const char *content_type,
               struct thumb_image *out, char *why, size_t whylen)
{
    VipsImage *header = NULL, *small = NULL, *bare = NULL;
    void *webp = NULL;
    size_t webp_len = 0;
    const char *loader;
    long long deadline = mono_ms() + t->timeout_ms;
    int ti = type_index(content_type), rc = -1;

    memset(out, 0, sizeof *out);
    snprintf(why, whylen, "ok");
    if (ti < 0) {
        snprintf(why, whylen, "no thumbnails for %s", content_type ? content_type : "(none)");
        goto out;
    }
    if (!in || len == 0 || (long long)len > THUMB_MAX_INPUT) {
        snprintf(why, whylen, "%zu bytes: empty or too large", len);
        goto out;
    }
    loader = vips_foreign_find_load_buffer(in, len);
    if (!loader) {
        vips_error_clear();
        snprintf(why, whylen, "not an image libvips may read (declared %s)", content_type);
        goto out;
    }
    if (!loader_matches(ti, loader)) {
        snprintf(why, whylen, "declared %s but read by %s", content_type, loader);
        goto out;
    }

    /* The header only: nothing is decoded until pixels are asked for. */
    header = vips_image_new_from_buffer(in, len, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!header) {
        vips_why(why, whylen, "header");
        goto out;
    }
    long long w = vips_image_get_width(header), h = vips_image_get_height(header);
    if (w < 1 || h < 1 || w * h > t->max_pixels) {
        snprintf(why, whylen, "%lld x %lld pixels: more than the %lld allowed", w, h,
                 t->max_pixels);
        goto out;
    }

    /* Shrinks while decoding where the format allows (JPEG, WebP), applies the
     * EXIF orientation, never enlarges; a truncated file is an error. */
    if (vips_thumbnail_buffer((void *)in, len, &small, t->size, "height", t->size, "size",
                              VIPS_SIZE_DOWN, "option_string", "fail_on=truncated", NULL) != 0) {
        vips_why(why, whylen, "decode");
        goto out;
    }
    /* No metadata of the upload may reach the thumbnail (EXIF with GPS, XMP, ...):
     * libvips 8.14.1's webpsave writes the EXIF fields it finds even with strip
     * set, so every field goes first. What it then writes is a small EXIF block of
     * its own (resolution, dimensions). */
    if (vips_copy(small, &bare, NULL) != 0) {
        vips_why(why, whylen, "copy");
        goto out;
    }
    gchar **fields = vips_image_get_fields(bare);
    for (int i = 0; fields[i]; i++)
        vips_image_remove(bare, fields[i]); /* built-in fields (width...) stay */
    g_strfreev(fields);
    vips_image_set_progress(bare, TRUE);
    g_signal_connect(bare, "eval", G_CALLBACK(on_eval), &deadline);
    int saved = vips_webpsave_buffer(bare, &webp, &webp_len, "Q", 75, "strip", TRUE, NULL);
    /* Past the deadline is a refusal even if it finished: libvips reports progress
     * (and so can be stopped) only between strips, and a small output may be one. */
    if (mono_ms() > deadline) {
        snprintf(why, whylen, "took longer than %d ms", t->timeout_ms);
        vips_error_clear();
        goto out;
    }
    if (saved != 0) {
        vips_why(why, whylen, "decode");
        goto out;
    }
    out->data = xmalloc(webp_len);
    memcpy(out->data, webp, webp_len);
    out->len = webp_len;
    out->width = vips_image_get_width(bare);
    out->height = vips_image_get_height(bare);
    rc = 0;
out:
    /* Decoders may quote what they read: keep the reason printable ASCII. */
    for (char *c = why; *c; c++)
        if (*c < 0x20 || *c > 0x7e)
            *c = '?';
    g_free(webp);
    if (bare)
        g_object_unref(bare);
    if (small)
        g_object_unref(small);
    if (header)
        g_object_unref(header);
    return rc;
}

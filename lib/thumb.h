/*
 * thumb: a small preview of an untrusted image, made with libvips.
 *
 * Bytes in (an upload whose declared type is image/jpeg, png, webp or gif), WebP
 * bytes out: the longest side THUMB_SIZE pixels (never upscaled), EXIF orientation
 * applied, colour converted to sRGB, every piece of metadata stripped, animation
 * reduced to its first frame.
 *
 * Why libvips (Debian's libvips42): it decodes on demand in small tiles or strips,
 * so memory follows the output, not the input; JPEG and WebP are shrunk while
 * they are decoded; and since 8.13 it can refuse, process-wide, every loader not
 * meant for untrusted input (ImageMagick, PDF, SVG, FITS, Matlab, ...). We go
 * further and leave only the four loaders of the types we thumbnail, and check
 * that the bytes are the declared type. What we add on top, because a loader's
 * own limits are far too generous for us:
 *   - the header is read first, and more than THUMB_MAX_PIXELS pixels are refused
 *     before anything is decoded;
 *   - a truncated or corrupt image fails (fail_on=truncated) instead of being
 *     half drawn;
 *   - a decode that runs longer than THUMB_TIMEOUT_MS is killed (at the next
 *     progress report) and refused;
 *   - no operation cache, one worker thread, no run-time generated code (orc).
 *
 * libvips is process-wide: thumb_new sets it up the first time (call it before
 * starting threads of your own) and it stays until the process exits. A struct
 * thumb only holds limits; thumb_make may be called from one thread at a time
 * per struct (libvips itself is thread-safe; the worker is single-threaded).
 */
#ifndef MISSIVE_THUMB_H
#define MISSIVE_THUMB_H

#include <stddef.h>

/* Longest side of a thumbnail, in pixels. */
#define THUMB_SIZE 320
/* Larger images are refused from their header: ~400 MB of RGBA in the worst case
 * (an interlaced PNG or a GIF is decoded whole). */
#define THUMB_MAX_PIXELS (100LL * 1000 * 1000)
/* Longest time one image may take. */
#define THUMB_TIMEOUT_MS 20000
/* Inputs larger than this are not read at all (the largest image upload allowed
 * by default is 16 MiB). */
#define THUMB_MAX_INPUT (64LL * 1024 * 1024)
/* What thumb_make produces. */
#define THUMB_CONTENT_TYPE "image/webp"

struct thumb;

/* Sets libvips up (once per process) and returns the default limits. NULL with a
 * reason in err. */
struct thumb *thumb_new(char *err, size_t errlen);
void thumb_free(struct thumb *t);

/* Other limits (tests): longest side, largest pixel count, milliseconds. */
void thumb_set_limits(struct thumb *t, int size, long long max_pixels, int timeout_ms);

/* 1 if content_type is one we make thumbnails of (image/jpeg, png, webp, gif). */
int thumb_supported(const char *content_type);

/* A thumbnail: data is malloc()ed WebP bytes for the caller to free(). */
struct thumb_image {
    unsigned char *data;
    size_t len;
    int width, height;
};

/*
 * Makes the thumbnail of in[0..len), whose declared type is content_type. 0 with
 * *out filled; -1 if the image is refused or cannot be read (not the declared
 * type, corrupt, truncated, too large, too slow), with a short reason for logs in
 * why (one line of printable ASCII, e.g. what the decoder said). Never retrying a
 * refused image is the caller's business: the same bytes give the same answer.
 */
int thumb_make(struct thumb *t, const void *in, size_t len, const char *content_type,
               struct thumb_image *out, char *why, size_t whylen);

#endif

/*
 * vapidkey: the server's VAPID key file (Web Push, RFC 8292).
 *
 * The key is made on first use: whichever program gets there first (missive-api
 * answering GET /v1/push/vapid-key, or the push worker) generates a P-256 key and
 * publishes it atomically, so two programs starting together agree on one key
 * and nobody ever reads a half-written file. The file is mode 0600 and must never
 * be committed or shared: every browser subscription is bound to its public half,
 * so replacing it silently orphans every subscription (see docs/push.md).
 */
#ifndef MISSIVE_VAPIDKEY_H
#define MISSIVE_VAPIDKEY_H

#include <stddef.h>

struct webpush_vapid;

/*
 * Loads the PEM key at path; if there is no file yet, generates one first (the
 * directory must exist). *created is set to 1 when this call made the file (may be
 * NULL). 0 on success; -1 with a one-line reason in err.
 */
int vapidkey_load_or_create(const char *path, struct webpush_vapid **out, int *created,
                            char *err, size_t errlen);

#endif

/*
 * password: Argon2id password hashing and verification (libargon2).
 *
 * Owns one cached dummy PHC string (for password_verify_dummy) guarded by a
 * mutex; everything else is per call. Returned hashes belong to the caller.
 * Thread-safe.
 */
#include "password.h"
#include "crypto.h"
#include "log.h"
#include "xalloc.h"

#include <argon2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SALT_BYTES  16
#define HASH_BYTES  32
#define PARALLELISM 1
#define PHC_PREFIX  "$argon2id$"
/* Stored hashes are ours, but a corrupted row should not make us parse megabytes. */
#define PHC_MAX 512

static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static char *dummy_phc;
static struct password_params dummy_params;

char *password_hash(const struct password_params *p, const char *pw)
{
    unsigned char salt[SALT_BYTES];
    char *out = NULL;

    if (!p || !pw)
        goto fail;
    size_t pwlen = strnlen(pw, PASSWORD_MAX_BYTES + 1);
    if (pwlen > PASSWORD_MAX_BYTES)
        goto fail;

    crypto_random(salt, sizeof salt);
    size_t outlen = argon2_encodedlen(p->iterations, p->memory_kib, PARALLELISM, SALT_BYTES,
                                      HASH_BYTES, Argon2_id);
    out = xmalloc(outlen);
    int rc = argon2id_hash_encoded(p->iterations, p->memory_kib, PARALLELISM, pw, pwlen, salt,
                                   sizeof salt, HASH_BYTES, out, outlen);
    if (rc != ARGON2_OK) {
        log_error("password_hash_failed", "argon2id: %s", argon2_error_message(rc));
        goto fail;
    }
    return out;

fail:
    free(out);
    return NULL;
}

int password_verify(const char *phc, const char *pw)
{
    if (!phc || !pw)
        return 0;
    if (strncmp(phc, PHC_PREFIX, strlen(PHC_PREFIX)) != 0 || strnlen(phc, PHC_MAX + 1) > PHC_MAX)
        return 0;
    size_t pwlen = strnlen(pw, PASSWORD_MAX_BYTES + 1);
    if (pwlen > PASSWORD_MAX_BYTES)
        return 0;
    return argon2id_verify(phc, pw, pwlen) == ARGON2_OK;
}

/*
 * Returns a private copy of the dummy hash for p, creating it on first use (or
 * when the parameters change, which only tests do). A copy, so that a thread
 * replacing the cache cannot free a string another thread is verifying against.
 */
static char *dummy_for(const struct password_params *p)
{
    char *copy = NULL;
    pthread_mutex_lock(&dummy_lock);
    if (!dummy_phc || dummy_params.memory_kib != p->memory_kib ||
        dummy_params.iterations != p->iterations) {
        free(dummy_phc);
        dummy_phc = password_hash(p, "missive dummy password, never matches");
        dummy_params = *p;
    }
    if (dummy_phc)
        copy = xstrdup(dummy_phc);
    pthread_mutex_unlock(&dummy_lock);
    return copy;
}

int password_verify_dummy(const struct password_params *p, const char *pw)
{
    if (!p)
        return 0;
    char *phc = dummy_for(p);
    (void)password_verify(phc, pw);
    free(phc);
    return 0;
}

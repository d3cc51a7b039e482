/*
 * password: Argon2id hashing in PHC string form ($argon2id$v=19$m=..,t=..,p=..$salt$hash).
 *
 * Parameters live in the stored string, so they can be raised later without
 * invalidating old hashes. Passwords longer than PASSWORD_MAX_BYTES are refused
 * before hashing (hashing cost is the attacker's lever otherwise).
 */
#ifndef MISSIVE_PASSWORD_H
#define MISSIVE_PASSWORD_H

#include <stddef.h>

#define PASSWORD_MAX_BYTES 1024

struct password_params {
    unsigned memory_kib; /* OWASP floor: 19456 */
    unsigned iterations; /* OWASP floor: 2 */
};

/* Returns a heap PHC string, or NULL if the password is too long or hashing failed. */
char *password_hash(const struct password_params *p, const char *pw);

/* 1 if pw matches the PHC string, 0 otherwise (including malformed strings). */
int password_verify(const char *phc, const char *pw);

/*
 * Spends the same time as a real verification, for unknown users, so timing does
 * not reveal who has an account. Always returns 0.
 */
int password_verify_dummy(const struct password_params *p, const char *pw);

#endif

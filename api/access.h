/*
 * access: "may this user see this conversation?", asked by every handler that
 * takes a conversation id. A conversation the caller is not in answers exactly
 * like one that does not exist (404), so ids reveal nothing.
 */
#ifndef MISSIVE_ACCESS_H
#define MISSIVE_ACCESS_H

#include "http.h"

struct membership {
    char kind[8];  /* direct | group */
    char role[8];  /* owner | admin | member */
    char state[12]; /* active | request */
    long long joined_seq;
    long long last_seq;
};

/*
 * Looks up the caller's membership of conversation id. Returns 0 if the caller
 * is an active member or has a pending request; otherwise answers 404 (or 503)
 * and returns -1.
 */
int access_member(struct req *r, long long id, struct membership *out);

/* Decimal text of v in the request's arena, for query parameters. */
const char *access_itoa(struct req *r, long long v);

#endif

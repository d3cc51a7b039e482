/*
 * auth: who is calling.
 *
 * Accepts "Authorization: Bearer <access token>" only. The token must verify
 * (token.c) and its session must still be live in the database, so signing out
 * or a detected refresh-token theft cuts the session off at once, not in 15 min.
 */
#ifndef MISSIVE_AUTH_H
#define MISSIVE_AUTH_H

#include "http.h"

/*
 * Sets r->user_id and r->session_id and returns 0, or answers 401/503 and returns
 * -1. check_session = 0 skips the session query, for handlers whose own SQL checks
 * the session in the same statement (the send batch).
 */
int auth_require_user(struct req *r, int check_session);

#endif

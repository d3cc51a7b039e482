/*
 * h_messages: sending, history, edits and deletes.
 *
 * POST   /v1/conversations/{id}/messages     201 Message | 200 (a retry) | 400 | 401 | 403 | 404 | 422 | 503
 * GET    /v1/conversations/{id}/messages?before=|after=&limit=   200 MessagePage | 400 | 404
 * PATCH  /v1/conversations/{id}/messages/{seq}   200 Message | 400 | 403 | 404 | 409 | 422
 * DELETE /v1/conversations/{id}/messages/{seq}   204 | 403 | 404 | 409
 *
 * Sends go through the batched writer (sendq.c) and are answered only once their
 * batch has committed. The route skips the per-request session query; the batch
 * checks the session in the same statement that stores the message.
 */
#include "handlers.h"

#include "access.h"
#include "sendq.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Answers status with one message as the caller sees it. */
static void answer_message(struct req *r, int status, long long conv, long long seq)
{
    const char *p[3] = {access_itoa(r, conv), access_itoa(r, seq), access_itoa(r, r->user_id)};
    PGresult *res = NULL;
    enum db_status st =
        db_exec(r->db, &res,
                "SELECT missive_message_json(m, $3) FROM messages m"
                " WHERE m.conversation_id = $1 AND m.seq = $2",
                3, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    if (PQntuples(res) == 0)
        http_problem(r, PROB_NOT_FOUND, "seq", "There is no message %lld here.", seq);
    else
        http_text(r, status, "application/json", PQgetvalue(res, 0, 0),
                  (size_t)PQgetlength(res, 0, 0));
    PQclear(res);
}

void h_messages_send(struct req *r)
{
    static const struct jsonv_field fields[] = {
        {"client_msg_id", JV_STRING, 1, 0, 0, 0},
        {"body", JV_STRING, 0, 0, 0, 1},
        {"reply_to", JV_ID, 0, 0, 0, 1},
        {"media_ids", JV_ARRAY, 0, 0, 0, 1},
        JSONV_END,
    };
    struct sendq_item it;
    const json_t *media;
    long long conv;
    json_t *body;

    if (http_path_id(r, 0, "id", &conv) != 0 || !(body = http_body(r, fields)))
        return;
    memset(&it, 0, sizeof it);
    it.conversation_id = conv;
    it.sender_id = r->user_id;
    it.session_id = r->session_id;
    it.client_msg_id = arena_strdup(r->arena, jsonv_str(body, "client_msg_id", ""));
    /* One spelling everywhere: PostgreSQL prints uuids in lower case. */
    for (char *c = (char *)it.client_msg_id; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            *c = (char)(*c - 'A' + 'a');
    it.body = jsonv_str(body, "body", NULL);
    media = json_object_get(body, "media_ids");
    if (media && (json_is_null(media) || json_array_size(media) == 0))
        media = NULL;
    it.reply_to = jsonv_int(body, "reply_to", 0);
    if (http_limit(r, "messages", access_itoa(r, r->user_id), r->app->cfg->rate_send, 60) != 0)
        return;
    if (!validate_uuid(it.client_msg_id)) {
        http_problem(r, PROB_VALIDATION, "client_msg_id",
                     "client_msg_id is a UUID the client makes up for this message.");
        return;
    }
    if (it.body && !*it.body && media)
        it.body = NULL; /* a photo without a caption */
    if (!it.body && !media) {
        http_problem(r, PROB_BAD_REQUEST, "body", "A message needs a body, media_ids, or both.");
        return;
    }
    if (it.body && !validate_body(it.body)) {
        http_problem(r, PROB_VALIDATION, "body",
                     "A message body is 1 to 4000 characters and not only whitespace.");
        return;
    }
    if (media) {
        char *ids = NULL;
        /* The uploads must exist in the store with the declared size before the
         * message is accepted: a message never points at nothing. */
        if (media_check_for_send(r, media, &ids) != 0)
            return; /* ids is the request arena's */
        it.media = media;
    }

    sendq_send(r->app->sendq, r->db, &it);

    switch (it.result) {
    case SEND_CREATED: {
        json_t *m = json_pack(
            "{s:I,s:I,s:I,s:s,s:o,s:o,s:o,s:s,s:n,s:n,s:[]}", "conversation_id", (json_int_t)conv,
            "seq", (json_int_t)it.seq, "sender_id", (json_int_t)r->user_id, "client_msg_id",
            it.client_msg_id, "body", it.body ? json_string(it.body) : json_null(), "reply_to",
            it.reply_to ? json_integer(it.reply_to) : json_null(), "media_ids",
            media ? json_deep_copy(media) : json_array(), "created_at", it.created_at,
            "edited_at", "deleted_at", "reactions");
        http_header(r, "Location",
                    arena_sprintf(r->arena, "/v1/conversations/%lld/messages/%lld", conv, it.seq));
        http_json(r, 201, m);
        break;
    }
    case SEND_EXISTING:
        answer_message(r, 200, conv, it.seq);
        break;
    case SEND_SESSION:
        http_problem(r, PROB_UNAUTHORIZED, NULL, "The session has ended; sign in again.");
        break;
    case SEND_NOT_MEMBER:
        http_problem(r, PROB_NOT_FOUND, NULL, "There is no conversation %lld that you are in.",
                     conv);
        break;
    case SEND_REQUEST:
        http_problem(r, PROB_FORBIDDEN, NULL,
                     "Accept this message request before replying to it.");
        break;
    case SEND_BLOCKED:
        http_problem(r, PROB_FORBIDDEN, NULL,
                     "You cannot message this person: one of you has blocked the other.");
        break;
    case SEND_BAD_REPLY:
        http_problem(r, PROB_VALIDATION, "reply_to",
                     "reply_to must be the seq of an earlier message in this conversation.");
        break;
    case SEND_DB_UNAVAILABLE:
        http_header(r, "Retry-After", "1");
        http_problem(r, PROB_UNAVAILABLE, NULL,
                     "The database is unavailable, so the message may not have been stored. "
                     "Retry with the same client_msg_id.");
        break;
    default:
        http_problem(r, PROB_INTERNAL, NULL,
                     "The message may not have been stored. Retry with the same client_msg_id.");
        break;
    }
}

void h_messages_list(struct req *r)
{
    long long conv, before = 0, after = 0, limit;
    struct membership m;
    int bad = 0;
    PGresult *res = NULL;
    enum db_status st;
    const char *sql;

    if (http_path_id(r, 0, "id", &conv) != 0)
        return;
    if (http_query_int(r, "before", 1, 0x7fffffffffffffffLL, 0, &before) != 0 ||
        http_query_int(r, "after", 0, 0x7fffffffffffffffLL, -1, &after) != 0 ||
        http_query_int(r, "limit", 1, 200, 50, &limit) != 0)
        return;
    (void)bad;
    if (before && after >= 0) {
        http_problem(r, PROB_BAD_REQUEST, "before", "Give before or after, not both.");
        return;
    }
    if (access_member(r, conv, &m) != 0)
        return;
    if (after >= 0) {
        /* Oldest first, from after+1 up. */
        sql = "SELECT missive_message_json(x, $4)::text FROM messages x"
              " WHERE x.conversation_id = $1 AND x.seq > greatest($2::bigint, $5::bigint)"
              " ORDER BY x.seq LIMIT $3";
    } else {
        /* Newest first, below before (or from the latest). */
        sql = "SELECT missive_message_json(x, $4)::text FROM messages x"
              " WHERE x.conversation_id = $1 AND x.seq < $2 AND x.seq > $5"
              " ORDER BY x.seq DESC LIMIT $3";
        if (!before)
            before = 0x7fffffffffffffffLL;
    }
    const char *p[5] = {access_itoa(r, conv), access_itoa(r, after >= 0 ? after : before),
                        access_itoa(r, limit + 1), access_itoa(r, r->user_id),
                        access_itoa(r, m.joined_seq)};
    st = db_exec(r->db, &res, sql, 5, p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    int n = PQntuples(res), shown = n > limit ? (int)limit : n;
    size_t cap = 64;
    for (int i = 0; i < shown; i++)
        cap += (size_t)PQgetlength(res, i, 0) + 1;
    char *out = arena_alloc(r->arena, cap), *o = out;
    o += sprintf(o, "{\"messages\":[");
    for (int i = 0; i < shown; i++) {
        if (i)
            *o++ = ',';
        memcpy(o, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
        o += PQgetlength(res, i, 0);
    }
    o += sprintf(o, "],\"has_more\":%s}", n > limit ? "true" : "false");
    http_text(r, 200, "application/json", out, (size_t)(o - out));
    PQclear(res);
}

/* Edit (body != NULL) or delete (body == NULL). */
static void change(struct req *r, const char *body)
{
    long long conv, seq;
    PGresult *res = NULL;
    enum db_status st;

    if (http_path_id(r, 0, "id", &conv) != 0 || http_path_id(r, 1, "seq", &seq) != 0)
        return;
    const char *p[5] = {access_itoa(r, conv), access_itoa(r, r->user_id), access_itoa(r, seq), body,
                        access_itoa(r, r->app->cfg->edit_window)};
    st = db_exec(r->db, &res,
                 "SELECT missive_change_message($1, $2, $3, $4, make_interval(secs => $5::int))", 5,
                 p);
    if (st != DB_OK) {
        http_db_error(r, st);
        return;
    }
    const char *s = PQgetvalue(res, 0, 0);
    if (strcmp(s, "ok") == 0) {
        if (body)
            answer_message(r, 200, conv, seq);
        else
            http_empty(r, 204);
    } else if (strcmp(s, "not_found") == 0) {
        http_problem(r, PROB_NOT_FOUND, NULL, "There is no conversation %lld that you are in.", conv);
    } else if (strcmp(s, "no_message") == 0) {
        http_problem(r, PROB_NOT_FOUND, "seq", "There is no message %lld here.", seq);
    } else if (strcmp(s, "deleted") == 0) {
        http_problem(r, PROB_CONFLICT, "seq", "Message %lld was deleted.", seq);
    } else if (strcmp(s, "too_late") == 0) {
        http_problem(r, PROB_CONFLICT, "seq", "Messages can be edited for %d hours after sending.",
                     r->app->cfg->edit_window / 3600);
    } else {
        http_problem(r, PROB_FORBIDDEN, "seq",
                     body ? "Only the sender can edit a message."
                          : "Only the sender or a group admin can delete a message.");
    }
    PQclear(res);
}

void h_messages_edit(struct req *r)
{
    static const struct jsonv_field fields[] = {
        {"body", JV_STRING, 1, 0, 0, 0},
        JSONV_END,
    };
    json_t *body = http_body(r, fields);
    const char *text;
    if (!body)
        return;
    text = jsonv_str(body, "body", "");
    if (!validate_body(text)) {
        http_problem(r, PROB_VALIDATION, "body",
                     "A message body is 1 to 4000 characters and not only whitespace.");
        return;
    }
    change(r, text);
}

void h_messages_delete(struct req *r)
{
    change(r, NULL);
}

/*
 * handlers: one function per operation in openapi.yaml, grouped by file:
 * h_accounts.c, h_sessions.c, h_users.c, h_ops.c. Each lists its statuses.
 */
#ifndef MISSIVE_HANDLERS_H
#define MISSIVE_HANDLERS_H

#include "http.h"

/* h_accounts.c */
void h_accounts_create(struct req *r);

/* h_sessions.c */
void h_sessions_create(struct req *r);
void h_sessions_refresh(struct req *r);
void h_sessions_delete_current(struct req *r);

/* h_users.c */
void h_me_get(struct req *r);
void h_me_patch(struct req *r);
void h_users_search(struct req *r);
void h_users_get(struct req *r);

/* h_conversations.c */
void h_conversations_create(struct req *r);
void h_conversations_list(struct req *r);
void h_conversations_get(struct req *r);
void h_conversations_patch(struct req *r);
void h_conversations_accept(struct req *r);
void h_conversations_decline(struct req *r);
/* Answers status with conversation id as the caller sees it (members listed if asked). */
void h_answer_conversation(struct req *r, int status, long long id, int with_members);

/* h_members.c */
void h_members_add(struct req *r);
void h_members_remove(struct req *r);

/* h_messages.c */
void h_messages_send(struct req *r);
void h_messages_list(struct req *r);
void h_messages_edit(struct req *r);
void h_messages_delete(struct req *r);

/* h_reactions.c */
void h_reactions_put(struct req *r);
void h_reactions_delete(struct req *r);

/* h_blocks.c */
void h_blocks_put(struct req *r);
void h_blocks_delete(struct req *r);
void h_blocks_list(struct req *r);

/* h_events.c */
void h_events_list(struct req *r);

/* h_receipts.c */
void h_receipts_delivered(struct req *r);
void h_receipts_read(struct req *r);

/* h_live.c */
void h_stream_ticket(struct req *r);
void h_typing(struct req *r);
void h_presence(struct req *r);

/* h_media.c */
void h_media_create(struct req *r);
void h_media_get(struct req *r);
void h_media_auth(struct req *r);
/*
 * For the send path: checks a message's media_ids (NULL or JSON null: none; else an
 * array of at most 10 distinct ids). Each must be the sender's (r->user_id) and
 * its upload complete in the store (exact size, and type where the store reports
 * one); they are then marked ready. 0 with *id_array_text_out = "{1,2}" (a SQL
 * bigint[] literal in the arena; "{}" for none), or -1 after answering: 400
 * (malformed), 404 (unknown or someone else's id, field media_ids), 422 (upload
 * missing or incomplete, field media_ids), 503 (store or database unavailable).
 */
int media_check_for_send(struct req *r, const json_t *media_ids, char **id_array_text_out);

/* h_push.c */
void h_push_vapid_key(struct req *r);
void h_push_subscribe(struct req *r);
void h_push_list(struct req *r);
void h_push_delete(struct req *r);

/* h_ops.c */
void h_ops_healthz(struct req *r);
void h_ops_metrics(struct req *r);

/* Shared by the user handlers: a user JSON object from columns
 * (id, username, display_name[, created_at, dm_policy, send_read_receipts]) of row.
 * full adds the last three,
 * which only the user themself sees. */
json_t *h_user_json(const PGresult *res, int row, int full);
#define H_USER_COLUMNS "id, username, display_name, " SQL_TS("created_at") ", dm_policy, send_read_receipts, push_previews"
#define H_USER_NCOLUMNS 7

#endif

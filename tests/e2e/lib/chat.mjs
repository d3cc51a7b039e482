// Helpers for the conversation, message and event tests. Everything goes
// through api() (lib/client.mjs), so every answer is checked against
// openapi.yaml as well.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { api, assertStatus } from './client.mjs';

/** POST /v1/conversations {kind: direct}; the raw response. */
export function openDirect(from, to) {
  return api('POST', '/v1/conversations', { token: from.token, body: { kind: 'direct', user_id: to.id } });
}

/** Opens the direct conversation from -> to; asserts 201 (or 200 with existing) and returns the Conversation. */
export async function direct(from, to, { existing = false } = {}) {
  const res = await openDirect(from, to);
  assertStatus(res, existing ? 200 : 201);
  return res.body;
}

/**
 * A direct conversation in which both people are active: `to` accepts the
 * message request if there is one. Returns the conversation id.
 */
export async function activeDirect(from, to) {
  const conv = await direct(from, to);
  const mine = conv.members.find((m) => m.user_id === to.id);
  if (mine.state === 'request') assertStatus(await api('POST', `/v1/conversations/${conv.id}/accept`, { token: to.token }), 200);
  return conv.id;
}

/** Creates a group owned by `owner` with `members`; returns the Conversation (201). */
export async function group(owner, members = [], title = 'group') {
  const res = await api('POST', '/v1/conversations', {
    token: owner.token,
    body: { kind: 'group', title, member_ids: members.map((m) => m.id) },
  });
  assertStatus(res, 201);
  return res.body;
}

/** POST /v1/conversations/{conv}/messages; the raw response. */
export function send(user, conv, body = 'hello', { cmid = randomUUID(), reply_to } = {}) {
  const payload = { client_msg_id: cmid, body };
  if (reply_to !== undefined) payload.reply_to = reply_to;
  return api('POST', `/v1/conversations/${conv}/messages`, { token: user.token, body: payload });
}

/** Sends and asserts 201; returns the Message. */
export async function sendOk(user, conv, body = 'hello', opts) {
  const res = await send(user, conv, body, opts);
  assertStatus(res, 201);
  return res.body;
}

/** GET /v1/conversations/{conv} as user; the raw response. */
export function getConversation(user, conv) {
  return api('GET', `/v1/conversations/${conv}`, { token: user.token });
}

/** Every message of a conversation the user may see, oldest first (pages with after=). */
export async function history(user, conv) {
  const all = [];
  let after = 0;
  for (;;) {
    const res = await api('GET', `/v1/conversations/${conv}/messages?after=${after}&limit=200`, { token: user.token });
    assertStatus(res, 200);
    all.push(...res.body.messages);
    if (!res.body.has_more) return all;
    after = all[all.length - 1].seq;
  }
}

/** Every event of the user's stream after `cursor`; -> { events, cursor }. */
export async function drainEvents(user, cursor = 0) {
  const events = [];
  for (;;) {
    const res = await api('GET', `/v1/events?cursor=${cursor}&limit=1000`, { token: user.token });
    assertStatus(res, 200);
    if (res.body.events.length === 0) {
      assert.equal(res.body.cursor, cursor, 'an empty page gives the cursor back');
      return { events, cursor };
    }
    events.push(...res.body.events);
    cursor = res.body.cursor;
  }
}

/** The cursor at the current end of the user's stream. */
export async function eventCursor(user) {
  return (await drainEvents(user, 0)).cursor;
}

/** Path segment for an emoji (percent-encoded UTF-8). */
export function emojiPath(conv, seq, emoji) {
  return `/v1/conversations/${conv}/messages/${seq}/reactions/${encodeURIComponent(emoji)}`;
}

// sender.js: outgoing messages. A message shows at once as "sending"; it is
// sent with a client_msg_id made up here, and a retry reuses that id, so the
// server stores it once however many times it is sent (201, then 200). One
// queue per conversation keeps the order. Network trouble and 5xx answers are
// retried with backoff; a message that still fails, or that the server refuses
// (403, 422, ...), says so and offers Retry.
//
// Other tabs see the pending message too ('local.pending*' messages).

import { api, seg } from './api.js';
import * as store from './store.js';
import { state } from './store.js';
import { post, onTab } from './tabs.js';
import { sleep } from './dom.js';

const MAX_ATTEMPTS = 6;
const busy = new Set(); // conversation ids whose queue is running

/** Queues a new message (mediaIds: uploaded attachments); returns its client_msg_id. */
export function send(convId, body, replyTo = null, mediaIds = []) {
  const p = {
    client_msg_id: crypto.randomUUID(),
    conversation_id: convId,
    sender_id: state.me.id,
    body,
    reply_to: replyTo,
    media_ids: mediaIds,
    created_at: new Date().toISOString(),
    status: 'sending', // 'sending' | 'failed'
    error: null,
    mine: true, // this tab sends it
  };
  store.addPending(p);
  post('local.pending', { msg: { ...p, mine: false } });
  run(convId);
  return p.client_msg_id;
}

/** Sends a failed message again (also one another tab gave up on). */
export function retry(convId, cmid) {
  const p = store.updatePending(convId, cmid, { status: 'sending', error: null, mine: true });
  if (!p) return;
  post('local.pending.update', { id: convId, cmid, patch: { status: 'sending', error: null, mine: false } });
  run(convId);
}

/** Forgets a failed message. */
export function discard(convId, cmid) {
  store.dropPending(convId, cmid);
  post('local.pending.drop', { id: convId, cmid });
}

async function run(convId) {
  if (busy.has(convId)) return;
  busy.add(convId);
  try {
    for (;;) {
      const next = store.pendingOf(convId).find((p) => p.mine && p.status === 'sending');
      if (!next) break;
      await attempt(next);
    }
  } finally {
    busy.delete(convId);
  }
}

async function attempt(p) {
  const { conversation_id: id, client_msg_id: cmid } = p;
  const body = { client_msg_id: cmid };
  if (p.body || !p.media_ids?.length) body.body = p.body; // a picture may go without a caption
  if (p.media_ids?.length) body.media_ids = p.media_ids;
  if (p.reply_to) body.reply_to = p.reply_to;
  for (let n = 1; ; n++) {
    try {
      const r = await api('POST', `/v1/conversations/${seg(id)}/messages`, { body, timeoutMs: 15000 });
      confirmed(id, r.body);
      return;
    } catch (e) {
      if (!store.pendingOf(id).some((x) => x.client_msg_id === cmid)) return; // discarded meanwhile
      if (e.retryable && e.status !== 429 && n < MAX_ATTEMPTS) {
        await sleep(e.retryAfter ? e.retryAfter * 1000 : Math.min(1000 * 2 ** (n - 1), 8000));
        continue;
      }
      if (e.retryable && e.status === 429 && n < MAX_ATTEMPTS) {
        await sleep((e.retryAfter ?? 2) * 1000);
        continue;
      }
      const error = e.name === 'SessionEnded' ? e.message : `Not sent: ${e.message}`;
      failed(id, cmid, error, e.retryable);
      if (e.retryable) {
        // Still offline: the rest of this conversation's queue would fail the same way.
        for (const q of store.pendingOf(id)) if (q.mine && q.status === 'sending') failed(id, q.client_msg_id, error, true);
      }
      return;
    }
  }
}

function failed(id, cmid, error, transient = false) {
  store.updatePending(id, cmid, { status: 'failed', error, transient });
  post('local.pending.update', { id, cmid, patch: { status: 'failed', error } });
}

function confirmed(id, m) {
  store.putMessage(id, m);
  store.dropPending(id, m.client_msg_id);
  post('local.pending.drop', { id, cmid: m.client_msg_id });
  const conv = state.convs.get(id);
  if (conv && m.seq > conv.last_seq) {
    store.patchConv(id, (c) => ({
      last_seq: m.seq,
      last_message: m,
      last_activity_at: m.created_at,
      last_read_seq: Math.max(c.last_read_seq, m.seq),
      last_delivered_seq: Math.max(c.last_delivered_seq, m.seq),
    }));
  }
}

/** After the connection came back: sends again what failed for being offline. */
export function resume() {
  for (const [id, list] of state.pending) {
    for (const p of list) if (p.mine && p.status === 'failed' && p.transient) store.updatePending(id, p.client_msg_id, { status: 'sending', error: null });
    run(id);
  }
}

export function reset() {
  busy.clear();
}

onTab('local.pending', ({ msg }) => {
  if (msg && state.me?.id === msg.sender_id) store.addPending({ ...msg, mine: false });
});
onTab('local.pending.update', ({ id, cmid, patch }) => store.updatePending(id, cmid, { ...patch, mine: false }));
onTab('local.pending.drop', ({ id, cmid }) => store.dropPending(id, cmid));
onTab('local.pending.orphan', ({ items }) => {
  for (const { id, cmid } of items ?? []) {
    store.updatePending(id, cmid, { status: 'failed', error: 'Not sent: the tab that was sending it was closed.' });
  }
});

// A closing tab hands its unsent messages to the others as failed (they offer Retry).
addEventListener('pagehide', () => {
  const items = [];
  for (const [id, list] of state.pending) for (const p of list) if (p.mine) items.push({ id, cmid: p.client_msg_id });
  if (items.length) post('local.pending.orphan', { items });
});
addEventListener('online', resume);

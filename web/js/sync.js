// sync.js: loads what the views show (lists, conversations, history,
// presence) and reports receipts (delivered / read) and typing.

import { api, seg } from './api.js';
import * as store from './store.js';
import { state } from './store.js';
import { post, onTab } from './tabs.js';
import { reportError } from './notify.js';

const PAGE = 50;
let live = { isLeader: () => true };

export function setLive(l) {
  live = l;
}

/** Whether this tab holds the live connection (it reports deliveries). */
export const isLeader = () => live.isLeader();

/** Runs a background promise; failures are shown (except being offline, which the status line shows). */
export function bg(promise, what) {
  promise.catch((e) => {
    if (e?.network || e?.name === 'AbortError' || e?.name === 'SessionEnded') return;
    reportError(e, what);
  });
}

const me = () => state.me?.id;

// ---- lists ----

export async function loadList(filter, { more = false } = {}) {
  const q = new URLSearchParams({ filter, limit: String(PAGE) });
  if (more && state.more[filter]) q.set('cursor', state.more[filter]);
  const r = await api('GET', `/v1/conversations?${q}`);
  for (const c of r.body.conversations) store.upsertConv(c);
  state.more[filter] = r.body.next_cursor;
  if (!more && !r.body.next_cursor) {
    // The whole list is here: anything else of this kind is gone (left, removed, declined).
    const seen = new Set(r.body.conversations.map((c) => c.id));
    const want = filter === 'requests' ? 'request' : 'active';
    for (const c of [...state.convs.values()]) if (c.state === want && !seen.has(c.id)) store.removeConv(c.id);
  }
  store.emit('convs');
  return r.body.conversations;
}

/** Both lists, then delivery marks and presence for them. */
export async function loadAll() {
  const [all, requests] = await Promise.all([loadList('all'), loadList('requests')]);
  for (const c of [...all, ...requests]) {
    if (c.last_seq > c.last_delivered_seq && c.last_message && c.last_message.sender_id !== me()) {
      markDelivered(c.id, c.last_seq);
    }
  }
  bg(loadPresence(all.filter((c) => c.peer).map((c) => c.peer.id)), 'Presence');
}

export async function resync() {
  await loadAll();
  const id = state.openId;
  if (id && state.convs.has(id)) {
    await Promise.all([refreshConversation(id), catchUp(id)]);
    markRead(id);
  }
}

// ---- one conversation ----

const refreshing = new Map(); // id -> {promise, again}

/** GET /v1/conversations/{id} into the store (with members); null when it is gone for us. */
export function refreshConversation(id) {
  const cur = refreshing.get(id);
  if (cur) {
    cur.again = true; // a change arrived while fetching: fetch once more afterwards
    return cur.promise;
  }
  const entry = { again: false };
  entry.promise = (async () => {
    let conv = null;
    do {
      entry.again = false;
      try {
        conv = store.upsertConv((await api('GET', `/v1/conversations/${seg(id)}`)).body);
      } catch (e) {
        if (e.status !== 404) throw e;
        store.removeConv(id);
        conv = null;
      }
    } while (entry.again);
    return conv;
  })().finally(() => refreshing.delete(id));
  refreshing.set(id, entry);
  return entry.promise;
}

export async function openConversation(id) {
  state.openId = id;
  store.emit('open', id);
  const box = state.msgs.get(id);
  const [conv] = await Promise.all([refreshConversation(id), box?.loaded ? catchUp(id) : loadLatest(id)]);
  if (!conv || state.openId !== id) return;
  const others = (conv.members ?? []).map((m) => m.user_id).filter((u) => u !== me());
  bg(loadPresence(others), 'Presence');
  markRead(id);
}

export function closeConversation() {
  state.openId = null;
  store.emit('open', null);
}

export async function loadLatest(id) {
  const r = await api('GET', `/v1/conversations/${seg(id)}/messages?limit=${PAGE}`);
  store.putMessages(id, r.body.messages, { hasMore: r.body.has_more });
}

const loadingOlder = new Set();

/** The page before the oldest loaded message; false when there is none. */
export async function loadOlder(id) {
  const box = state.msgs.get(id);
  if (!box?.loaded || !box.hasMore || loadingOlder.has(id)) return false;
  const before = store.oldestSeq(id);
  if (!before || before <= 1) {
    box.hasMore = false;
    store.emit('messages', id);
    return false;
  }
  loadingOlder.add(id);
  try {
    const r = await api('GET', `/v1/conversations/${seg(id)}/messages?before=${before}&limit=${PAGE}`);
    store.putMessages(id, r.body.messages, { hasMore: r.body.has_more });
    return true;
  } finally {
    loadingOlder.delete(id);
  }
}

/** Everything after the newest loaded message (after an absence). */
export async function catchUp(id) {
  for (;;) {
    const after = store.newestSeq(id);
    const r = await api('GET', `/v1/conversations/${seg(id)}/messages?after=${after}&limit=200`);
    store.putMessages(id, r.body.messages);
    if (!r.body.has_more || r.body.messages.length === 0) break;
  }
}

/** Reloads one message (reactions are counted by the server; this never double-counts). */
export async function refreshMessage(id, seq) {
  const r = await api('GET', `/v1/conversations/${seg(id)}/messages?before=${seq + 1}&limit=1`);
  const m = r.body.messages.find((x) => x.seq === seq);
  if (m) store.putMessages(id, [m]);
}

// ---- presence ----

export async function loadPresence(ids) {
  const uniq = [...new Set(ids)].filter(Boolean);
  for (let i = 0; i < uniq.length; i += 100) {
    const r = await api('GET', `/v1/presence?user_ids=${uniq.slice(i, i + 100).join(',')}`);
    for (const p of r.body.presence) store.setPresence(p);
  }
}

/** Presence of everyone the UI shows: direct peers and the open conversation's members. */
export function presenceTargets() {
  const ids = [];
  for (const c of state.convs.values()) if (c.peer && c.state === 'active') ids.push(c.peer.id);
  const open = state.convs.get(state.openId);
  for (const m of open?.members ?? []) if (m.user_id !== me()) ids.push(m.user_id);
  return ids;
}

// ---- receipts ----

const reading = new Map(); // id -> seq in flight

/** Marks the open conversation read up to its newest message, when the page is visible. */
export function markRead(id) {
  if (id !== state.openId || document.visibilityState !== 'visible') return;
  const conv = state.convs.get(id);
  const seq = Math.max(store.newestSeq(id), 0);
  if (!conv || !seq || seq <= (conv.last_read_seq ?? 0) || (reading.get(id) ?? 0) >= seq) return;
  reading.set(id, seq);
  const before = { last_read_seq: conv.last_read_seq, unread_count: conv.unread_count };
  store.patchConv(id, (c) => ({
    last_read_seq: seq,
    last_delivered_seq: Math.max(c.last_delivered_seq ?? 0, seq),
    unread_count: seq >= c.last_seq ? 0 : Math.max(0, c.last_seq - seq),
  }));
  post('local.read', { id, seq });
  api('POST', `/v1/conversations/${seg(id)}/read`, { body: { seq } })
    .catch((e) => {
      store.patchConv(id, () => before); // try again on the next occasion
      if (e.status === 404) bg(refreshConversation(id));
      else if (!e.network && e.name !== 'SessionEnded') reportError(e, 'Could not mark the conversation as read');
    })
    .finally(() => reading.delete(id));
}

export function markDelivered(id, seq) {
  const conv = state.convs.get(id);
  if (!conv || seq <= (conv.last_delivered_seq ?? 0)) return;
  store.patchConv(id, (c) => ({ last_delivered_seq: Math.max(c.last_delivered_seq ?? 0, seq) }));
  api('POST', `/v1/conversations/${seg(id)}/delivered`, { body: { seq } }).catch((e) => {
    if (e.status === 404) bg(refreshConversation(id));
  });
}

onTab('local.read', ({ id, seq }) => {
  store.patchConv(id, (c) => (seq > (c.last_read_seq ?? 0)
    ? { last_read_seq: seq, unread_count: seq >= c.last_seq ? 0 : Math.max(0, c.last_seq - seq) }
    : {}));
});

// ---- typing ----

const typingSent = new Map(); // id -> ms
const TYPING_EVERY_MS = 2100; // the server takes one notice per 2 s per conversation

export function sendTyping(id) {
  const conv = state.convs.get(id);
  if (!conv || conv.state !== 'active') return;
  const now = Date.now();
  if (now - (typingSent.get(id) ?? 0) < TYPING_EVERY_MS) return;
  typingSent.set(id, now);
  // Best effort by design: a lost typing notice is not worth telling anyone about.
  api('POST', `/v1/conversations/${seg(id)}/typing`).catch(() => {});
}

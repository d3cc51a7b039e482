// sync.js: loads what the views show, applies live events to the store, and
// reports receipts (delivered / read) and typing.

import { api, seg } from './api.js';
import * as store from './store.js';
import { state } from './store.js';
import { post, onTab } from './tabs.js';
import { announce, reportError } from './notify.js';
import { snippet } from './format.js';

const PAGE = 50;
let live = { isLeader: () => true };

export function setLive(l) {
  live = l;
}

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

// ---- events ----

function eventMessage(d, ev) {
  const m = {
    conversation_id: d.conversation_id, seq: d.seq, sender_id: d.sender_id, client_msg_id: d.client_msg_id,
    body: d.body, reply_to: d.reply_to, created_at: d.created_at,
  };
  if (d.deleted) {
    m.deleted_at = ev.created_at;
    m.reactions = [];
  }
  return m;
}

function onMessageCreated(ev) {
  const d = ev.data;
  const id = d.conversation_id;
  const conv = state.convs.get(id);
  const m = eventMessage(d, ev);
  store.putMessage(id, m);
  store.clearTyping(id, d.sender_id);
  const mine = d.sender_id === me();
  if (!conv) {
    bg(refreshConversation(id).then((c) => {
      if (c && !mine && live.isLeader()) markDelivered(id, d.seq);
    }), 'Loading a conversation');
    return;
  }
  if (conv.members) {
    // Sending implies having read everything before (the server moves the sender's marks).
    store.patchConv(id, (c) => ({
      members: c.members.map((x) => (x.user_id !== d.sender_id ? x : {
        ...x,
        last_delivered_seq: Math.max(x.last_delivered_seq, d.seq),
        last_read_seq: x.last_read_seq === null ? null : Math.max(x.last_read_seq, d.seq),
      })),
    }));
  }
  if (d.seq > conv.last_seq) {
    store.patchConv(id, (c) => ({
      last_seq: d.seq,
      last_message: { reactions: [], media_ids: [], edited_at: null, deleted_at: null, ...m },
      last_activity_at: d.created_at,
      unread_count: mine ? c.unread_count : c.unread_count + 1,
      ...(mine ? { last_read_seq: Math.max(c.last_read_seq, d.seq), last_delivered_seq: Math.max(c.last_delivered_seq, d.seq) } : {}),
    }));
  }
  if (!mine) {
    if (live.isLeader()) markDelivered(id, d.seq);
    if (id === state.openId) {
      markRead(id);
      announce(`${store.nameOf(d.sender_id)}: ${snippet(d.body ?? 'deleted message', 140)}`);
    } else if (conv.state === 'active') {
      announce(`New message from ${store.nameOf(d.sender_id)} in ${store.convTitle(conv)}`);
    }
  }
}

function onReceipt(d) {
  const id = d.conversation_id;
  const conv = state.convs.get(id);
  if (!conv) return;
  if (d.user_id === me()) {
    store.patchConv(id, (c) => {
      const read = d.read_seq ?? c.last_read_seq;
      return {
        last_delivered_seq: Math.max(c.last_delivered_seq, d.delivered_seq),
        last_read_seq: Math.max(c.last_read_seq, read),
        unread_count: read >= c.last_seq ? 0 : Math.min(c.unread_count, c.last_seq - read),
      };
    });
  }
  if (conv.members) {
    store.patchConv(id, (c) => ({
      members: c.members.map((m) => (m.user_id !== d.user_id ? m : {
        ...m,
        last_delivered_seq: Math.max(m.last_delivered_seq, d.delivered_seq),
        last_read_seq: d.read_seq === null ? m.last_read_seq : Math.max(m.last_read_seq ?? 0, d.read_seq),
      })),
    }));
    store.emit('messages', id); // ticks
  }
}

/** Applies one live event (stored or ephemeral) to the store. */
export function applyEvent(ev) {
  const d = ev.data ?? {};
  const id = d.conversation_id ?? ev.conversation_id;
  const known = state.convs.has(id);
  switch (ev.type) {
    case 'message.created':
      onMessageCreated(ev);
      break;
    case 'message.edited':
      store.patchMessage(id, d.seq, () => ({ body: d.body, edited_at: d.edited_at, ...(d.deleted ? { deleted_at: ev.created_at } : {}) }));
      patchLast(id, d.seq, { body: d.body, edited_at: d.edited_at });
      break;
    case 'message.deleted':
      store.patchMessage(id, d.seq, () => ({ body: null, deleted_at: d.deleted_at, reactions: [] }));
      patchLast(id, d.seq, { body: null, deleted_at: d.deleted_at });
      break;
    case 'reaction.added':
    case 'reaction.removed':
      if (store.findMessage(id, d.seq)) bg(refreshMessage(id, d.seq), 'Reactions');
      break;
    case 'member.added':
      if (d.user_id === me() || known) bg(refreshConversation(id), 'Loading a conversation');
      break;
    case 'member.removed':
      if (d.user_id === me()) {
        const title = store.convTitle(state.convs.get(id));
        store.removeConv(id);
        if (d.by !== me() && title) announce(`You were removed from ${title}`);
      } else if (known) {
        bg(refreshConversation(id), 'Loading a conversation');
      }
      break;
    case 'member.role_changed':
    case 'conversation.created':
    case 'conversation.accepted':
      bg(refreshConversation(id).then((c) => {
        if (c?.peer && ev.type === 'conversation.accepted') return loadPresence([c.peer.id]);
        return undefined;
      }), 'Loading a conversation');
      break;
    case 'conversation.renamed':
      store.patchConv(id, () => ({ title: d.title }));
      break;
    case 'conversation.declined':
      store.removeConv(id);
      break;
    case 'receipt':
      onReceipt(d);
      break;
    case 'typing':
      if (d.user_id !== me() && known) store.setTyping(id, d.user_id);
      break;
    case 'presence':
      store.setPresence(d);
      break;
    default:
      break;
  }
}

function patchLast(id, seq, patch) {
  const c = state.convs.get(id);
  if (c?.last_message?.seq === seq) store.patchConv(id, (x) => ({ last_message: { ...x.last_message, ...patch } }));
}

// ---- changes this tab makes (the other tabs are told, events follow anyway) ----

function changed(id) {
  post('local.conv', { id });
}
onTab('local.conv', ({ id }) => bg(refreshConversation(id)));
onTab('local.blocks', () => bg(loadBlocks()));

export async function openDirect(userId) {
  const r = await api('POST', '/v1/conversations', { body: { kind: 'direct', user_id: userId } });
  changed(r.body.id);
  return store.upsertConv(r.body);
}

export async function createGroup(title, memberIds) {
  const r = await api('POST', '/v1/conversations', { body: { kind: 'group', title, member_ids: memberIds } });
  changed(r.body.id);
  return store.upsertConv(r.body);
}

export async function accept(id) {
  const r = await api('POST', `/v1/conversations/${seg(id)}/accept`);
  changed(id);
  const c = store.upsertConv(r.body);
  if (c.peer) bg(loadPresence([c.peer.id]));
  return c;
}

export async function decline(id, { block = false } = {}) {
  const peer = state.convs.get(id)?.peer;
  await api('POST', `/v1/conversations/${seg(id)}/decline`, { body: { block } });
  store.removeConv(id);
  changed(id);
  if (block && peer) {
    state.blocked.add(peer.id);
    store.emit('blocks');
    post('local.blocks');
  }
}

export async function addMembers(id, userIds) {
  const r = await api('POST', `/v1/conversations/${seg(id)}/members`, { body: { user_ids: userIds } });
  changed(id);
  return store.upsertConv(r.body);
}

export async function removeMember(id, userId) {
  await api('DELETE', `/v1/conversations/${seg(id)}/members/${seg(userId)}`);
  changed(id);
  if (userId === me()) store.removeConv(id);
  else await refreshConversation(id);
}

export async function updateConversation(id, patch) {
  const r = await api('PATCH', `/v1/conversations/${seg(id)}`, { body: patch });
  changed(id);
  return store.upsertConv(r.body);
}

export async function loadBlocks() {
  const r = await api('GET', '/v1/blocks');
  state.blocked = new Set(r.body.blocks.map((b) => b.user.id));
  for (const b of r.body.blocks) store.rememberUser(b.user);
  store.emit('blocks');
  return r.body.blocks;
}

export async function setBlocked(userId, blocked) {
  await api(blocked ? 'PUT' : 'DELETE', `/v1/blocks/${seg(userId)}`);
  if (blocked) state.blocked.add(userId);
  else state.blocked.delete(userId);
  store.emit('blocks');
  post('local.blocks');
}

export async function editMessage(id, seq, body) {
  const r = await api('PATCH', `/v1/conversations/${seg(id)}/messages/${seg(seq)}`, { body: { body } });
  store.putMessages(id, [r.body]);
  patchLast(id, seq, { body: r.body.body, edited_at: r.body.edited_at });
}

export async function deleteMessage(id, seq) {
  await api('DELETE', `/v1/conversations/${seg(id)}/messages/${seg(seq)}`);
  const at = new Date().toISOString();
  store.patchMessage(id, seq, () => ({ body: null, deleted_at: at, reactions: [] }));
  patchLast(id, seq, { body: null, deleted_at: at });
}

export async function toggleReaction(id, seq, emoji, on) {
  await api(on ? 'PUT' : 'DELETE', `/v1/conversations/${seg(id)}/messages/${seg(seq)}/reactions/${seg(emoji)}`);
  await refreshMessage(id, seq);
}

export async function searchUsers(prefix) {
  const q = new URLSearchParams({ q: prefix, limit: '20' });
  const r = await api('GET', `/v1/users?${q}`);
  for (const u of r.body.users) store.rememberUser(u);
  return r.body.users.filter((u) => u.id !== me());
}

export async function updateMe(patch) {
  const r = await api('PATCH', '/v1/me', { body: patch });
  store.setMe(r.body);
  return r.body;
}

export async function loadMe() {
  const r = await api('GET', '/v1/me');
  store.setMe(r.body);
  return r.body;
}

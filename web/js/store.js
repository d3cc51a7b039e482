// store.js: what the client knows, and change notifications.
//
// Views subscribe to topics ('convs', 'conv', 'messages', 'presence', 'typing',
// 'live', 'me', 'blocks', 'open'); each notice carries at most a conversation
// id. Notices are coalesced per microtask, so a burst of events renders once.

const bus = new EventTarget();
let queued = new Map();
let scheduled = false;

export function on(topic, fn) {
  const handler = (e) => fn(e.detail);
  bus.addEventListener(topic, handler);
  return () => bus.removeEventListener(topic, handler);
}

export function emit(topic, id = null) {
  queued.set(`${topic}:${id}`, { topic, id });
  if (!scheduled) {
    scheduled = true;
    queueMicrotask(flush);
  }
}

function flush() {
  scheduled = false;
  const batch = [...queued.values()];
  queued = new Map();
  for (const { topic, id } of batch) bus.dispatchEvent(new CustomEvent(topic, { detail: id }));
}

function fresh(me = null) {
  return {
    me,
    convs: new Map(), // id -> Conversation (members only once fetched one by one)
    more: { all: null, requests: null }, // next_cursor of the lists
    msgs: new Map(), // id -> {bySeq: Map<seq, Message>, hasMore, loaded}
    pending: new Map(), // id -> [outgoing message not stored yet]
    presence: new Map(), // user id -> {online, last_active_at}
    typing: new Map(), // id -> Map<user id, expires at (ms)>
    users: new Map(), // user id -> {id, username, display_name}
    blocked: new Set(), // user ids I blocked
    openId: null,
    tab: 'all',
    live: { status: 'offline', leader: false },
  };
}

export const state = fresh();

export function reset(me = null) {
  Object.assign(state, fresh(me));
  if (me) rememberUser(me);
  for (const t of ['convs', 'open', 'me', 'live', 'presence', 'blocks']) emit(t);
}

export function setMe(me) {
  state.me = me;
  rememberUser(me);
  emit('me');
}

// ---- users ----

export function rememberUser(u) {
  if (u?.id) state.users.set(u.id, { id: u.id, username: u.username, display_name: u.display_name });
}

/** "You" for me, the display name for others. */
export function nameOf(id, { you = 'You' } = {}) {
  if (id === state.me?.id) return you;
  const u = state.users.get(id);
  return u ? u.display_name || u.username : 'Someone';
}

// ---- conversations ----

export function convTitle(c) {
  if (!c) return '';
  if (c.kind === 'group') return c.title || 'Group';
  return c.peer ? c.peer.display_name || c.peer.username : 'Direct chat';
}

/**
 * Merges a Conversation from the server. A snapshot can be older than what
 * events already told us (a fetch that started before an event), so marks and
 * the last message only move forward.
 */
export function upsertConv(c) {
  const old = state.convs.get(c.id);
  const next = { ...old, ...c };
  if (!c.members && old?.members) next.members = old.members;
  if (old) {
    if (old.last_seq > c.last_seq) {
      next.last_seq = old.last_seq;
      next.last_message = old.last_message;
      next.last_activity_at = old.last_activity_at;
      next.unread_count = Math.max(old.unread_count, c.unread_count);
    }
    next.last_read_seq = Math.max(old.last_read_seq ?? 0, c.last_read_seq ?? 0);
    next.last_delivered_seq = Math.max(old.last_delivered_seq ?? 0, c.last_delivered_seq ?? 0);
    if (next.last_read_seq >= next.last_seq) next.unread_count = 0;
  }
  if (c.peer) rememberUser(c.peer);
  for (const m of c.members ?? []) rememberUser({ id: m.user_id, username: m.username, display_name: m.display_name });
  state.convs.set(c.id, next);
  emit('convs');
  emit('conv', c.id);
  return next;
}

export function patchConv(id, fn) {
  const c = state.convs.get(id);
  if (!c) return null;
  const next = { ...c, ...fn(c) };
  state.convs.set(id, next);
  emit('convs');
  emit('conv', id);
  return next;
}

export function removeConv(id) {
  if (!state.convs.delete(id)) return;
  state.msgs.delete(id);
  state.pending.delete(id);
  state.typing.delete(id);
  emit('convs');
  emit('conv', id);
  if (state.openId === id) emit('open', id);
}

const byActivity = (a, b) =>
  (b.last_activity_at ?? '').localeCompare(a.last_activity_at ?? '') || b.id - a.id;

/** Conversations of one list: 'all' (active) or 'requests'. */
export function convList(tab) {
  const want = tab === 'requests' ? 'request' : 'active';
  return [...state.convs.values()].filter((c) => c.state === want).sort(byActivity);
}

// ---- messages ----

export function msgBox(id) {
  let b = state.msgs.get(id);
  if (!b) {
    b = { bySeq: new Map(), hasMore: true, loaded: false };
    state.msgs.set(id, b);
  }
  return b;
}

/** Message fields an event leaves out are kept from what we had. */
function mergeMessage(old, m) {
  if (!old) return { reactions: [], media_ids: [], edited_at: null, deleted_at: null, ...m };
  const next = { ...old, ...m };
  if (!m.receipts && old.receipts) next.receipts = old.receipts;
  if (!m.reactions) next.reactions = old.reactions;
  return next;
}

/** Adds messages of conversation id (any order). hasMore: older ones exist. */
export function putMessages(id, list, { hasMore } = {}) {
  const b = msgBox(id);
  for (const m of list) {
    b.bySeq.set(m.seq, mergeMessage(b.bySeq.get(m.seq), m));
    if (m.sender_id === state.me?.id) dropPending(id, m.client_msg_id);
  }
  if (hasMore !== undefined) b.hasMore = hasMore;
  b.loaded = true;
  emit('messages', id);
}

/** Adds or updates one message, but only where the history is loaded. */
export function putMessage(id, m) {
  const b = state.msgs.get(id);
  if (m.sender_id === state.me?.id) dropPending(id, m.client_msg_id);
  if (!b?.loaded) return;
  b.bySeq.set(m.seq, mergeMessage(b.bySeq.get(m.seq), m));
  emit('messages', id);
}

export function patchMessage(id, seq, fn) {
  const b = state.msgs.get(id);
  const m = b?.bySeq.get(seq);
  if (!m) return;
  b.bySeq.set(seq, { ...m, ...fn(m) });
  emit('messages', id);
}

/** Updates the conversation's last_message when it is message seq. */
export function patchLastMessage(id, seq, patch) {
  const c = state.convs.get(id);
  if (c?.last_message?.seq === seq) patchConv(id, (x) => ({ last_message: { ...x.last_message, ...patch } }));
}

export function messagesOf(id) {
  const b = state.msgs.get(id);
  return b ? [...b.bySeq.values()].sort((x, y) => x.seq - y.seq) : [];
}

export function findMessage(id, seq) {
  return state.msgs.get(id)?.bySeq.get(seq) ?? null;
}

export function newestSeq(id) {
  let max = 0;
  for (const seq of state.msgs.get(id)?.bySeq.keys() ?? []) if (seq > max) max = seq;
  return max;
}

export function oldestSeq(id) {
  let min = 0;
  for (const seq of state.msgs.get(id)?.bySeq.keys() ?? []) if (!min || seq < min) min = seq;
  return min;
}

// ---- outgoing messages not stored yet ----

export const pendingOf = (id) => state.pending.get(id) ?? [];

export function addPending(p) {
  const list = state.pending.get(p.conversation_id) ?? [];
  if (list.some((x) => x.client_msg_id === p.client_msg_id)) return;
  // Already stored (its event came first)?
  const b = state.msgs.get(p.conversation_id);
  if (b && [...b.bySeq.values()].some((m) => m.client_msg_id === p.client_msg_id)) return;
  state.pending.set(p.conversation_id, [...list, p]);
  emit('messages', p.conversation_id);
  emit('convs');
}

export function updatePending(id, cmid, patch) {
  const list = state.pending.get(id);
  const p = list?.find((x) => x.client_msg_id === cmid);
  if (!p) return null;
  Object.assign(p, patch);
  emit('messages', id);
  emit('convs');
  return p;
}

export function dropPending(id, cmid) {
  const list = state.pending.get(id);
  if (!list?.some((x) => x.client_msg_id === cmid)) return;
  state.pending.set(id, list.filter((x) => x.client_msg_id !== cmid));
  emit('messages', id);
  emit('convs');
}

// ---- presence and typing ----

export function setPresence(p) {
  state.presence.set(p.user_id, { online: p.online, last_active_at: p.last_active_at });
  emit('presence');
}

const TYPING_MS = 6000;

export function setTyping(convId, userId) {
  if (!state.typing.has(convId)) state.typing.set(convId, new Map());
  state.typing.get(convId).set(userId, Date.now() + TYPING_MS);
  emit('typing', convId);
  setTimeout(() => emit('typing', convId), TYPING_MS + 50);
}

export function clearTyping(convId, userId) {
  if (state.typing.get(convId)?.delete(userId)) emit('typing', convId);
}

/** Ids of the people typing in the conversation now. */
export function typingIn(convId) {
  const now = Date.now();
  return [...(state.typing.get(convId) ?? new Map())].filter(([, until]) => until > now).map(([id]) => id);
}

export function setLive(live) {
  state.live = live;
  emit('live');
}

// actions.js: what the user does to conversations, messages, blocks and their
// profile. Each answer goes into the store at once; the other tabs are told
// (the events that follow would tell them too, a little later). Errors are
// thrown to the view, which shows them.

import { api, seg } from './api.js';
import * as store from './store.js';
import { state } from './store.js';
import { post, onTab } from './tabs.js';
import { bg, refreshConversation, refreshMessage, loadPresence } from './sync.js';

const me = () => state.me?.id;

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
  store.patchLastMessage(id, seq, { body: r.body.body, edited_at: r.body.edited_at });
}

export async function deleteMessage(id, seq) {
  await api('DELETE', `/v1/conversations/${seg(id)}/messages/${seg(seq)}`);
  const at = new Date().toISOString();
  store.patchMessage(id, seq, () => ({ body: null, deleted_at: at, reactions: [] }));
  store.patchLastMessage(id, seq, { body: null, deleted_at: at });
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

// Conversations: opening direct conversations, creating groups, listing,
// reading, renaming, muting, and group membership (add, leave, remove,
// ownership hand-over). Every answer is also checked against openapi.yaml.

import test from 'node:test';
import assert from 'node:assert/strict';
import { api, assertProblem, assertStatus, signup } from './lib/client.mjs';
import { direct, drainEvents, eventCursor, getConversation, group, history, openDirect, send, sendOk } from './lib/chat.mjs';
import { makeAdmin } from './lib/db.mjs';

const publicOf = (u) => ({ id: u.id, username: u.username, display_name: u.display_name });
const roles = (conv) => Object.fromEntries(conv.members.map((m) => [m.user_id, m.role]));
const UNKNOWN_ID = 9007199254740000;

async function myConversations(user, query = '') {
  const res = await api('GET', `/v1/conversations${query}`, { token: user.token });
  assertStatus(res, 200);
  return res.body;
}

// ---------------------------------------------------------------- direct

test('direct: 201 on open, then 200 with the same conversation from either side', async () => {
  const alice = await signup();
  const bob = await signup();
  const first = await openDirect(alice, bob);
  assertStatus(first, 201);
  const c = first.body;
  assert.equal(c.kind, 'direct');
  assert.equal(c.title, null);
  assert.equal(c.created_by, alice.id);
  assert.equal(c.role, 'member');
  assert.equal(c.state, 'active');
  assert.equal(c.last_seq, 0);
  assert.equal(c.last_message, null);
  assert.equal(c.member_count, 2);
  assert.deepEqual(c.peer, publicOf(bob));
  assert.deepEqual(c.members.map((m) => m.user_id).sort(), [alice.id, bob.id].sort());

  const again = await openDirect(alice, bob);
  assertStatus(again, 200);
  assert.equal(again.body.id, c.id);
  const back = await openDirect(bob, alice);
  assertStatus(back, 200);
  assert.equal(back.body.id, c.id);
  assert.deepEqual(back.body.peer, publicOf(alice));
});

test('direct: with yourself is 422, with an unknown user 404, and nothing is created', async () => {
  const alice = await signup();
  assertProblem(await openDirect(alice, alice), 422, 'validation', 'user_id');
  assertProblem(await openDirect(alice, { id: UNKNOWN_ID }), 404, 'not-found', 'user_id');
  assert.deepEqual((await myConversations(alice)).conversations, []);
});

test('create: malformed bodies are 400, an unknown kind 422; nothing is created', async () => {
  const alice = await signup();
  const bob = await signup();
  const post = (body, opts = {}) => api('POST', '/v1/conversations', { token: alice.token, body, ...opts });
  assertProblem(await post({ kind: 'direct', user_id: bob.id, title: 'x' }), 400, 'bad-request', 'title');
  assertProblem(await post({ kind: 'direct', user_id: bob.id, member_ids: [] }), 400, 'bad-request', 'member_ids');
  assertProblem(await post({ kind: 'direct' }), 400, 'bad-request', 'user_id');
  assertProblem(await post({ kind: 'direct', user_id: String(bob.id) }), 400, 'bad-request', 'user_id');
  assertProblem(await post({ kind: 'direct', user_id: 0 }), 400, 'bad-request', 'user_id');
  assertProblem(await post({ user_id: bob.id }), 400, 'bad-request', 'kind');
  assertProblem(await post({ kind: 5, user_id: bob.id }), 400, 'bad-request', 'kind');
  assertProblem(await post({ kind: 'direct', user_id: bob.id, extra: 1 }), 400, 'bad-request', 'extra');
  assertProblem(await post({ kind: 'group', title: 'g', user_id: bob.id }), 400, 'bad-request', 'user_id');
  assertProblem(await post({ kind: 'group', title: 'g', member_ids: [String(bob.id)] }), 400, 'bad-request', 'member_ids');
  assertProblem(await post({ kind: 'group', title: 'g', member_ids: bob.id }), 400, 'bad-request', 'member_ids');
  assertProblem(await post({ kind: 'group', title: 7 }), 400, 'bad-request', 'title');
  assertProblem(await post(undefined, { raw: '{"kind":"direct",' }), 400, 'bad-request');
  assertProblem(await post(undefined, { raw: '{"kind":"direct"}', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported-media-type');
  assertProblem(await post({ kind: 'channel', user_id: bob.id }), 422, 'validation', 'kind');
  assert.deepEqual((await myConversations(alice)).conversations, []);
  assert.deepEqual((await myConversations(bob, '?filter=requests')).conversations, []);
});

// ---------------------------------------------------------------- groups

test('group: created with the caller as owner and the others as members', async () => {
  const owner = await signup();
  const m1 = await signup();
  const m2 = await signup();
  const res = await api('POST', '/v1/conversations', {
    token: owner.token,
    // duplicates and the owner's own id are ignored
    body: { kind: 'group', title: 'Book club 📚', member_ids: [m1.id, m2.id, m1.id, owner.id] },
  });
  assertStatus(res, 201);
  const c = res.body;
  assert.equal(c.kind, 'group');
  assert.equal(c.title, 'Book club 📚');
  assert.equal(c.created_by, owner.id);
  assert.equal(c.role, 'owner');
  assert.equal(c.state, 'active');
  assert.equal(c.peer, null);
  assert.equal(c.member_count, 3);
  assert.deepEqual(roles(c), { [owner.id]: 'owner', [m1.id]: 'member', [m2.id]: 'member' });
  for (const m of c.members) {
    assert.equal(m.state, 'active');
    const u = [owner, m1, m2].find((x) => x.id === m.user_id);
    assert.equal(m.username, u.username);
    assert.equal(m.display_name, u.display_name);
  }
  // members see it too, with their own role, in their default list
  const seen = await getConversation(m1, c.id);
  assertStatus(seen, 200);
  assert.equal(seen.body.role, 'member');
  assert.deepEqual(roles(seen.body), roles(c));
  assert.deepEqual((await myConversations(m2)).conversations.map((x) => x.id), [c.id]);
});

test('group: a group of one (no member_ids) is allowed', async () => {
  const owner = await signup();
  const res = await api('POST', '/v1/conversations', { token: owner.token, body: { kind: 'group', title: 'notes' } });
  assertStatus(res, 201);
  assert.equal(res.body.member_count, 1);
  assert.deepEqual(roles(res.body), { [owner.id]: 'owner' });
});

test('group: title is 1..128 characters, member ids must exist, at most 1024 members; nothing is created', async () => {
  const owner = await signup();
  const m = await signup();
  const post = (body) => api('POST', '/v1/conversations', { token: owner.token, body: { kind: 'group', ...body } });
  assertProblem(await post({ title: '' }), 422, 'validation', 'title');
  assertProblem(await post({ title: 'x'.repeat(129) }), 422, 'validation', 'title');
  assertProblem(await post({ title: '😀'.repeat(129) }), 422, 'validation', 'title');
  // a missing title is a 422 as well (the server treats it as a bad title, not a malformed body)
  assertProblem(await post({}), 422, 'validation', 'title');
  assertProblem(await post({ title: 'g', member_ids: [m.id, UNKNOWN_ID] }), 422, 'validation', 'member_ids');
  assertProblem(await post({ title: 'g', member_ids: Array.from({ length: 1024 }, (_, i) => i + 1) }), 422, 'validation', 'member_ids');
  assert.deepEqual((await myConversations(owner)).conversations, []);
  assert.deepEqual((await myConversations(m)).conversations, []);

  const max = await post({ title: '😀'.repeat(128), member_ids: [m.id] });
  assertStatus(max, 201);
  assert.equal(max.body.title, '😀'.repeat(128));
  const one = await post({ title: 'x' });
  assertStatus(one, 201);
});

// ---------------------------------------------------------------- lists

test('list: newest activity first, paged with limit and cursor', async () => {
  const me = await signup();
  const other = await signup();
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await group(me, [other], `g${i}`)).id);
  // Activity order: a message moves a conversation to the front.
  await sendOk(other, ids[1], 'bump 1');
  await sendOk(me, ids[3], 'bump 3');
  await sendOk(other, ids[0], 'bump 0');
  const expected = [ids[0], ids[3], ids[1], ids[4], ids[2]];

  const all = await myConversations(me);
  assert.deepEqual(all.conversations.map((c) => c.id), expected);
  assert.equal(all.next_cursor, null);
  for (const c of all.conversations) assert.ok(!('members' in c), 'list items carry no members');
  const times = all.conversations.map((c) => c.last_activity_at);
  assert.deepEqual([...times].sort().reverse(), times, 'ordered by last_activity_at, newest first');
  assert.equal(all.conversations[0].last_message.body, 'bump 0');

  const pages = [];
  let cursor = null;
  for (let i = 0; i < 5; i++) {
    const page = await myConversations(me, `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    pages.push(page.conversations.map((c) => c.id));
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  assert.deepEqual(pages, [expected.slice(0, 2), expected.slice(2, 4), expected.slice(4)]);
  assert.deepEqual((await myConversations(me, '?filter=all&limit=100')).conversations.map((c) => c.id), expected);
});

test('list: bad filter, limit or cursor is 400', async () => {
  const me = await signup();
  for (const [q, field] of [
    ['filter=archived', 'filter'],
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=', 'limit'],
    ['cursor=garbage', 'cursor'],
  ]) {
    assertProblem(await api('GET', `/v1/conversations?${q}`, { token: me.token }), 400, 'bad-request', field);
  }
});

// ---------------------------------------------------------------- reading

test('get: a non-member gets the same 404 as for an id that does not exist', async () => {
  const alice = await signup();
  const bob = await signup();
  const mallory = await signup();
  const c = await group(alice, [bob]);
  const hidden = await getConversation(mallory, c.id);
  const missing = await getConversation(mallory, UNKNOWN_ID);
  assertProblem(hidden, 404, 'not-found');
  assertProblem(missing, 404, 'not-found');
  const strip = ({ detail, ...rest }) => rest;
  assert.deepEqual(strip(hidden.body), strip(missing.body));
  assert.deepEqual(Object.keys(hidden.body).sort(), Object.keys(missing.body).sort());
  assertStatus(await getConversation(bob, c.id), 200);
  for (const bad of ['abc', '0', '-1', '1.5', '99999999999999999999']) {
    assertProblem(await api('GET', `/v1/conversations/${bad}`, { token: alice.token }), 400, 'bad-request', 'id');
  }
});

// ---------------------------------------------------------------- rename and mute

test('rename: the owner renames a group; members see the title and a conversation.renamed event', async () => {
  const owner = await signup();
  const member = await signup();
  const c = await group(owner, [member], 'before');
  const cursor = await eventCursor(member);
  const res = await api('PATCH', `/v1/conversations/${c.id}`, { token: owner.token, body: { title: 'after ✨' } });
  assertStatus(res, 200);
  assert.equal(res.body.title, 'after ✨');
  assert.equal(res.body.members.length, 2);
  assert.equal((await getConversation(member, c.id)).body.title, 'after ✨');
  const { events } = await drainEvents(member, cursor);
  const renamed = events.filter((e) => e.type === 'conversation.renamed' && e.conversation_id === c.id);
  assert.equal(renamed.length, 1);
  assert.deepEqual(renamed[0].data, { conversation_id: c.id, title: 'after ✨' });
  assert.equal(renamed[0].actor_id, owner.id);
});

test('rename: a plain member gets 403, a direct conversation 422, a bad title 422; nothing changes', async () => {
  const owner = await signup();
  const member = await signup();
  const c = await group(owner, [member], 'kept');
  assertProblem(await api('PATCH', `/v1/conversations/${c.id}`, { token: member.token, body: { title: 'hijack' } }), 403, 'forbidden');
  // a refused rename does not apply the mute that came with it either
  assertProblem(
    await api('PATCH', `/v1/conversations/${c.id}`, { token: member.token, body: { title: 'hijack', muted_until: '2030-01-01T00:00:00Z' } }),
    403,
    'forbidden',
  );
  assertProblem(await api('PATCH', `/v1/conversations/${c.id}`, { token: owner.token, body: { title: '' } }), 422, 'validation', 'title');
  assertProblem(await api('PATCH', `/v1/conversations/${c.id}`, { token: owner.token, body: { title: 'y'.repeat(129) } }), 422, 'validation', 'title');
  assertProblem(await api('PATCH', `/v1/conversations/${c.id}`, { token: owner.token, body: { title: null } }), 400, 'bad-request', 'title');
  assertProblem(await api('PATCH', `/v1/conversations/${c.id}`, { token: owner.token, body: { name: 'x' } }), 400, 'bad-request', 'name');
  const seen = await getConversation(member, c.id);
  assert.equal(seen.body.title, 'kept');
  assert.equal(seen.body.muted_until, null);

  const d = await direct(owner, member);
  assertProblem(await api('PATCH', `/v1/conversations/${d.id}`, { token: owner.token, body: { title: 'dm' } }), 422, 'validation', 'title');
  assert.equal((await getConversation(owner, d.id)).body.title, null);

  const empty = await api('PATCH', `/v1/conversations/${c.id}`, { token: owner.token, body: {} });
  assertStatus(empty, 200);
  assert.equal(empty.body.title, 'kept');
});

test('mute: muted_until is per member, any member may set it, null unmutes', async () => {
  const owner = await signup();
  const member = await signup();
  const c = await group(owner, [member]);
  const set = await api('PATCH', `/v1/conversations/${c.id}`, { token: member.token, body: { muted_until: '2030-01-01T02:00:00+02:00' } });
  assertStatus(set, 200);
  assert.equal(set.body.muted_until, '2030-01-01T00:00:00.000Z');
  assert.equal((await getConversation(member, c.id)).body.muted_until, '2030-01-01T00:00:00.000Z');
  assert.equal((await getConversation(owner, c.id)).body.muted_until, null, "one member's mute is theirs alone");
  const listed = (await myConversations(member)).conversations.find((x) => x.id === c.id);
  assert.equal(listed.muted_until, '2030-01-01T00:00:00.000Z');

  assertProblem(await api('PATCH', `/v1/conversations/${c.id}`, { token: member.token, body: { muted_until: 'tomorrow' } }), 422, 'validation', 'muted_until');
  assertProblem(await api('PATCH', `/v1/conversations/${c.id}`, { token: member.token, body: { muted_until: '2030-01-01' } }), 422, 'validation', 'muted_until');
  assertProblem(await api('PATCH', `/v1/conversations/${c.id}`, { token: member.token, body: { muted_until: 1893456000 } }), 400, 'bad-request', 'muted_until');
  assert.equal((await getConversation(member, c.id)).body.muted_until, '2030-01-01T00:00:00.000Z', 'refused changes keep the mute');

  const unset = await api('PATCH', `/v1/conversations/${c.id}`, { token: member.token, body: { muted_until: null } });
  assertStatus(unset, 200);
  assert.equal(unset.body.muted_until, null);

  // direct conversations can be muted too
  const d = await direct(owner, member);
  const dm = await api('PATCH', `/v1/conversations/${d.id}`, { token: owner.token, body: { muted_until: '2031-06-01T12:30:00.5Z' } });
  assertStatus(dm, 200);
  assert.equal(dm.body.muted_until, '2031-06-01T12:30:00.500Z');
});

test('mute: a date-time that does not exist (Feb 31) is 422, not a server error', async () => {
  const owner = await signup();
  const c = await group(owner, []);
  const res = await api('PATCH', `/v1/conversations/${c.id}`, { token: owner.token, body: { muted_until: '2030-02-31T00:00:00Z' } });
  assertProblem(res, 422, 'validation', 'muted_until');
});

// ---------------------------------------------------------------- members

test('add members: the owner and admins may (200), plain members may not (403)', async () => {
  const owner = await signup();
  const admin = await signup();
  const member = await signup();
  const newcomer = await signup();
  const late = await signup();
  const c = await group(owner, [admin, member]);
  makeAdmin(c.id, admin.id);

  assertProblem(await api('POST', `/v1/conversations/${c.id}/members`, { token: member.token, body: { user_ids: [newcomer.id] } }), 403, 'forbidden');
  assert.equal((await getConversation(newcomer, c.id)).status, 404);

  const byOwner = await api('POST', `/v1/conversations/${c.id}/members`, { token: owner.token, body: { user_ids: [newcomer.id] } });
  assertStatus(byOwner, 200);
  assert.equal(byOwner.body.member_count, 4);
  assert.equal(roles(byOwner.body)[newcomer.id], 'member');
  const seen = await getConversation(newcomer, c.id);
  assertStatus(seen, 200);
  assert.equal(seen.body.role, 'member');

  const byAdmin = await api('POST', `/v1/conversations/${c.id}/members`, { token: admin.token, body: { user_ids: [late.id, newcomer.id] } });
  assertStatus(byAdmin, 200);
  assert.equal(byAdmin.body.member_count, 5, 'someone already in the group is skipped');
  assert.equal(roles(byAdmin.body)[admin.id], 'admin');
  assertStatus(await getConversation(late, c.id), 200);
});

test('add members: errors (unknown user 422, empty or too long list 422, direct 403, non-member 404, malformed 400)', async () => {
  const owner = await signup();
  const member = await signup();
  const stranger = await signup();
  const c = await group(owner, [member]);
  const add = (user, conv, body) => api('POST', `/v1/conversations/${conv}/members`, { token: user.token, body });
  assertProblem(await add(owner, c.id, { user_ids: [stranger.id, UNKNOWN_ID] }), 422, 'validation', 'user_ids');
  assertProblem(await add(owner, c.id, { user_ids: [] }), 422, 'validation', 'user_ids');
  assertProblem(await add(owner, c.id, { user_ids: Array.from({ length: 1025 }, (_, i) => i + 1) }), 422, 'validation', 'user_ids');
  assertProblem(await add(owner, c.id, { user_ids: [String(stranger.id)] }), 400, 'bad-request', 'user_ids');
  assertProblem(await add(owner, c.id, {}), 400, 'bad-request', 'user_ids');
  assertProblem(await add(stranger, c.id, { user_ids: [stranger.id] }), 404, 'not-found');
  const d = await direct(owner, member);
  assertProblem(await add(owner, d.id, { user_ids: [stranger.id] }), 403, 'forbidden');
  // nothing was added anywhere
  assert.equal((await getConversation(owner, c.id)).body.member_count, 2);
  assert.equal((await getConversation(owner, d.id)).body.member_count, 2);
  assert.deepEqual((await myConversations(stranger)).conversations, []);
});

test('leave: 204, then the conversation, its history and its later events are gone for the leaver', async () => {
  const owner = await signup();
  const leaver = await signup();
  const stays = await signup();
  const c = await group(owner, [leaver, stays], 'g');
  await sendOk(owner, c.id, 'before leaving');
  const cursor = await eventCursor(leaver);

  const res = await api('DELETE', `/v1/conversations/${c.id}/members/${leaver.id}`, { token: leaver.token });
  assertStatus(res, 204);
  assertProblem(await getConversation(leaver, c.id), 404, 'not-found');
  assertProblem(await api('GET', `/v1/conversations/${c.id}/messages`, { token: leaver.token }), 404, 'not-found');
  assertProblem(await send(leaver, c.id, 'still here?'), 404, 'not-found');
  assert.deepEqual((await myConversations(leaver)).conversations, []);
  const remaining = await getConversation(owner, c.id);
  assert.equal(remaining.body.member_count, 2);
  assert.ok(!remaining.body.members.some((m) => m.user_id === leaver.id));

  // What happens afterwards is not the leaver's business.
  await sendOk(owner, c.id, 'after leaving');
  assertStatus(await api('PATCH', `/v1/conversations/${c.id}`, { token: owner.token, body: { title: 'renamed later' } }), 200);
  const { events } = await drainEvents(leaver, cursor);
  const here = events.filter((e) => e.conversation_id === c.id);
  assert.deepEqual(here.map((e) => e.type), ['member.removed']);
  assert.deepEqual(here[0].data, { conversation_id: c.id, user_id: leaver.id, by: leaver.id });
  // leaving twice: no longer a member
  assertProblem(await api('DELETE', `/v1/conversations/${c.id}/members/${leaver.id}`, { token: leaver.token }), 404, 'not-found');
});

test('owner leaves: the longest-standing admin becomes owner, even over earlier members', async () => {
  const owner = await signup();
  const early = await signup();
  const admin = await signup();
  const c = await group(owner, [early]);
  assertStatus(await api('POST', `/v1/conversations/${c.id}/members`, { token: owner.token, body: { user_ids: [admin.id] } }), 200);
  makeAdmin(c.id, admin.id);
  const cursor = await eventCursor(early);
  assertStatus(await api('DELETE', `/v1/conversations/${c.id}/members/${owner.id}`, { token: owner.token }), 204);
  const after = await getConversation(early, c.id);
  assert.deepEqual(roles(after.body), { [early.id]: 'member', [admin.id]: 'owner' });
  assert.equal((await getConversation(admin, c.id)).body.role, 'owner');
  const { events } = await drainEvents(early, cursor);
  assert.deepEqual(
    events.filter((e) => e.conversation_id === c.id).map((e) => [e.type, e.data.user_id]),
    [['member.removed', owner.id], ['member.role_changed', admin.id]],
  );
  assert.equal(events.find((e) => e.type === 'member.role_changed').data.role, 'owner');
});

test('owner leaves: without admins the longest-standing member becomes owner and can act as one', async () => {
  const owner = await signup();
  const first = await signup();
  const second = await signup();
  const c = await group(owner, [first]);
  assertStatus(await api('POST', `/v1/conversations/${c.id}/members`, { token: owner.token, body: { user_ids: [second.id] } }), 200);
  assertStatus(await api('DELETE', `/v1/conversations/${c.id}/members/${owner.id}`, { token: owner.token }), 204);
  const after = await getConversation(second, c.id);
  assert.deepEqual(roles(after.body), { [first.id]: 'owner', [second.id]: 'member' });
  // the new owner can rename; the former owner can do nothing
  assertStatus(await api('PATCH', `/v1/conversations/${c.id}`, { token: first.token, body: { title: 'mine now' } }), 200);
  assertProblem(await api('PATCH', `/v1/conversations/${c.id}`, { token: owner.token, body: { title: 'mine again' } }), 404, 'not-found');
});

test('remove: who may remove whom', async () => {
  const owner = await signup();
  const admin1 = await signup();
  const admin2 = await signup();
  const m1 = await signup();
  const m2 = await signup();
  const m3 = await signup();
  const outsider = await signup();
  const c = await group(owner, [admin1, admin2, m1, m2, m3]);
  makeAdmin(c.id, admin1.id);
  makeAdmin(c.id, admin2.id);
  const remove = (by, target) => api('DELETE', `/v1/conversations/${c.id}/members/${target.id}`, { token: by.token });

  assertProblem(await remove(m1, m2), 403, 'forbidden');
  assertProblem(await remove(m1, admin1), 403, 'forbidden');
  assertProblem(await remove(m1, owner), 403, 'forbidden');
  assertProblem(await remove(admin1, admin2), 403, 'forbidden');
  assertProblem(await remove(admin1, owner), 403, 'forbidden');
  assertProblem(await remove(outsider, m1), 404, 'not-found');
  assertProblem(await remove(owner, outsider), 404, 'not-found', 'user_id');
  assertProblem(await remove(owner, { id: UNKNOWN_ID }), 404, 'not-found', 'user_id');
  assert.equal((await getConversation(owner, c.id)).body.member_count, 6, 'nobody was removed by the refused requests');

  assertStatus(await remove(admin1, m1), 204);
  assertStatus(await remove(owner, m2), 204);
  assertStatus(await remove(owner, admin2), 204);
  assertProblem(await getConversation(m1, c.id), 404, 'not-found');
  assertProblem(await getConversation(admin2, c.id), 404, 'not-found');
  const left = await getConversation(owner, c.id);
  assert.deepEqual(roles(left.body), { [owner.id]: 'owner', [admin1.id]: 'admin', [m3.id]: 'member' });

  // a removed admin who is added back is a plain member
  assertStatus(await api('POST', `/v1/conversations/${c.id}/members`, { token: owner.token, body: { user_ids: [admin2.id] } }), 200);
  assert.equal(roles((await getConversation(owner, c.id)).body)[admin2.id], 'member');
});

test('remove: nobody leaves a direct conversation (409); malformed ids are 400', async () => {
  const alice = await signup();
  const bob = await signup();
  const d = await direct(alice, bob);
  assertProblem(await api('DELETE', `/v1/conversations/${d.id}/members/${alice.id}`, { token: alice.token }), 409, 'conflict');
  assertProblem(await api('DELETE', `/v1/conversations/${d.id}/members/${bob.id}`, { token: alice.token }), 409, 'conflict');
  assertStatus(await getConversation(alice, d.id), 200);
  assertProblem(await api('DELETE', `/v1/conversations/${d.id}/members/abc`, { token: alice.token }), 400, 'bad-request', 'user_id');
  assertProblem(await api('DELETE', `/v1/conversations/abc/members/${bob.id}`, { token: alice.token }), 400, 'bad-request', 'id');
});

test('history is kept for members who stay after others leave', async () => {
  const owner = await signup();
  const member = await signup();
  const c = await group(owner, [member]);
  await sendOk(member, c.id, 'from the member');
  assertStatus(await api('DELETE', `/v1/conversations/${c.id}/members/${member.id}`, { token: member.token }), 204);
  const msgs = await history(owner, c.id);
  assert.deepEqual(msgs.map((m) => [m.seq, m.sender_id, m.body]), [[1, member.id, 'from the member']]);
});

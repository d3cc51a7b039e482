// Message requests (accept, decline, decline and block), blocks, and the
// dm_policy setting. Every answer is also checked against openapi.yaml.

import test from 'node:test';
import assert from 'node:assert/strict';
import { api, assertProblem, assertStatus, signup } from './lib/client.mjs';
import { direct, drainEvents, eventCursor, getConversation, group, history, openDirect, send, sendOk } from './lib/chat.mjs';

const list = async (user, query = '') => {
  const res = await api('GET', `/v1/conversations${query}`, { token: user.token });
  assertStatus(res, 200);
  return res.body.conversations.map((c) => c.id);
};
const accept = (user, conv) => api('POST', `/v1/conversations/${conv}/accept`, { token: user.token });
const decline = (user, conv, body) => api('POST', `/v1/conversations/${conv}/decline`, { token: user.token, body });
const block = (user, target) => api('PUT', `/v1/blocks/${target.id}`, { token: user.token });
const unblock = (user, target) => api('DELETE', `/v1/blocks/${target.id}`, { token: user.token });
const blocks = async (user) => {
  const res = await api('GET', '/v1/blocks', { token: user.token });
  assertStatus(res, 200);
  return res.body.blocks;
};
const stateOf = (conv, user) => conv.members.find((m) => m.user_id === user.id)?.state;

// ---------------------------------------------------------------- requests

test('request: a stranger\'s direct conversation is a request until accepted', async () => {
  const sender = await signup();
  const recipient = await signup();
  const c = await direct(sender, recipient);
  assert.equal(c.state, 'active', 'the sender is an active member');
  assert.equal(stateOf(c, recipient), 'request');
  await sendOk(sender, c.id, 'hi, remember me?');

  assert.deepEqual(await list(recipient), [], 'not in the default list');
  assert.deepEqual(await list(recipient, '?filter=requests'), [c.id]);
  assert.deepEqual(await list(sender, '?filter=requests'), []);
  const seen = await getConversation(recipient, c.id);
  assertStatus(seen, 200);
  assert.equal(seen.body.state, 'request');
  assert.equal(seen.body.unread_count, 1);
  assert.deepEqual((await history(recipient, c.id)).map((m) => m.body), ['hi, remember me?'], 'a request can be read');
  assertProblem(await send(recipient, c.id, 'reply before accepting'), 403, 'forbidden');
  assertProblem(await api('PATCH', `/v1/conversations/${c.id}/messages/1`, { token: recipient.token, body: { body: 'x' } }), 403, 'forbidden');

  const acc = await accept(recipient, c.id);
  assertStatus(acc, 200);
  assert.equal(acc.body.state, 'active');
  assert.equal(stateOf(acc.body, recipient), 'active');
  assert.deepEqual(await list(recipient), [c.id]);
  assert.deepEqual(await list(recipient, '?filter=requests'), []);
  const reply = await send(recipient, c.id, 'sure!');
  assertStatus(reply, 201);
  assert.equal(reply.body.seq, 2);
  assertProblem(await accept(recipient, c.id), 409, 'conflict');
  assertProblem(await accept(sender, c.id), 409, 'conflict');
});

test('request: people who already share a conversation are not a request', async () => {
  const a = await signup();
  const b = await signup();
  await group(a, [b]);
  const c = await direct(a, b);
  assert.equal(stateOf(c, b), 'active');
  assert.ok((await list(b)).includes(c.id), 'listed for b right away');
  assertStatus(await send(b, c.id, 'no need to accept'), 201);
  assertProblem(await accept(b, c.id), 409, 'conflict');
});

test('decline: gone for the decliner (404), the sender notices nothing and can still send', async () => {
  const sender = await signup();
  const recipient = await signup();
  const c = await direct(sender, recipient);
  await sendOk(sender, c.id, 'first');
  const senderCursor = await eventCursor(sender);
  const recipientCursor = await eventCursor(recipient);

  const res = await decline(recipient, c.id);
  assertStatus(res, 204);
  assertProblem(await getConversation(recipient, c.id), 404, 'not-found');
  assertProblem(await api('GET', `/v1/conversations/${c.id}/messages`, { token: recipient.token }), 404, 'not-found');
  assertProblem(await send(recipient, c.id, 'x'), 404, 'not-found');
  assertProblem(await accept(recipient, c.id), 404, 'not-found');
  assertProblem(await decline(recipient, c.id), 404, 'not-found');
  assert.deepEqual(await list(recipient), []);
  assert.deepEqual(await list(recipient, '?filter=requests'), []);

  const still = await send(sender, c.id, 'second');
  assertStatus(still, 201);
  assertStatus(await getConversation(sender, c.id), 200);
  assert.deepEqual(await list(sender), [c.id]);
  assert.equal((await openDirect(sender, recipient)).status, 200, 'opening it again finds the same conversation');

  // the decline is on the decliner's stream only; later messages are not
  const mine = (await drainEvents(recipient, recipientCursor)).events.filter((e) => e.conversation_id === c.id);
  assert.deepEqual(mine.map((e) => e.type), ['conversation.declined']);
  assert.equal(mine[0].actor_id, recipient.id);
  const theirs = (await drainEvents(sender, senderCursor)).events.filter((e) => e.conversation_id === c.id);
  assert.deepEqual(theirs.map((e) => e.type), ['message.created']);
});

test('decline: the sender\'s view of the conversation does not change', async () => {
  const sender = await signup();
  const recipient = await signup();
  const c = await direct(sender, recipient);
  const before = (await getConversation(sender, c.id)).body;
  assertStatus(await decline(recipient, c.id), 204);
  const after = (await getConversation(sender, c.id)).body;
  assert.equal(after.member_count, before.member_count, 'member_count must not reveal the decline');
  assert.deepEqual(after.members, before.members, 'members must not reveal the decline');
});

test('decline: the decliner can later open the conversation again, which accepts it', async () => {
  const sender = await signup();
  const recipient = await signup();
  const c = await direct(sender, recipient);
  await sendOk(sender, c.id, 'before the decline');
  assertStatus(await decline(recipient, c.id), 204);
  await sendOk(sender, c.id, 'after the decline');
  const again = await openDirect(recipient, sender);
  assertStatus(again, 200);
  assert.equal(again.body.id, c.id);
  assert.equal(again.body.state, 'active');
  assertStatus(await send(recipient, c.id, 'hello after all'), 201);
  assert.deepEqual((await history(recipient, c.id)).map((m) => m.body), ['before the decline', 'after the decline', 'hello after all']);
});

test('decline with block: the sender can neither write there nor open it again', async () => {
  const sender = await signup();
  const recipient = await signup();
  const c = await direct(sender, recipient);
  await sendOk(sender, c.id, 'buy my stuff');
  assertStatus(await decline(recipient, c.id, { block: true }), 204);
  assertProblem(await getConversation(recipient, c.id), 404, 'not-found');
  assertProblem(await send(sender, c.id, 'hello?'), 403, 'forbidden');
  assertProblem(await openDirect(sender, recipient), 403, 'forbidden', 'user_id');
  const bl = await blocks(recipient);
  assert.deepEqual(bl.map((b) => b.user), [{ id: sender.id, username: sender.username, display_name: sender.display_name }]);
  assert.deepEqual(await blocks(sender), [], 'the block is one-way');
  assert.deepEqual((await history(sender, c.id)).map((m) => m.body), ['buy my stuff'], 'nothing was stored');
});

test('accept / decline: errors', async () => {
  const sender = await signup();
  const recipient = await signup();
  const stranger = await signup();
  const c = await direct(sender, recipient);
  assertProblem(await decline(recipient, c.id, { block: 'yes' }), 400, 'bad-request', 'block');
  assertProblem(await decline(recipient, c.id, { report: true }), 400, 'bad-request', 'report');
  assertProblem(await api('POST', `/v1/conversations/${c.id}/decline`, { token: recipient.token, raw: '{"block":true}', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported-media-type');
  assertProblem(await decline(sender, c.id), 409, 'conflict');
  assertProblem(await accept(stranger, c.id), 404, 'not-found');
  assertProblem(await decline(stranger, c.id), 404, 'not-found');
  assertProblem(await accept(recipient, 'abc'), 400, 'bad-request', 'id');
  assertProblem(await decline(recipient, '0'), 400, 'bad-request', 'id');
  // the refused requests changed nothing
  assert.equal((await getConversation(recipient, c.id)).body.state, 'request');
  assert.deepEqual(await blocks(recipient), []);
  const g = await group(sender, [recipient]);
  assertProblem(await accept(recipient, g.id), 409, 'conflict');
  assertProblem(await decline(recipient, g.id, { block: true }), 409, 'conflict');
  assert.deepEqual(await blocks(recipient), []);
});

// ---------------------------------------------------------------- blocks

test('blocks: PUT and DELETE are idempotent; GET lists blocked users, oldest first', async () => {
  const me = await signup();
  const x = await signup();
  const y = await signup();
  assert.deepEqual(await blocks(me), []);
  assertStatus(await block(me, x), 204);
  assertStatus(await block(me, x), 204);
  assertStatus(await block(me, y), 204);
  const bl = await blocks(me);
  assert.deepEqual(bl.map((b) => b.user), [
    { id: x.id, username: x.username, display_name: x.display_name },
    { id: y.id, username: y.username, display_name: y.display_name },
  ]);
  assert.ok(bl[0].created_at <= bl[1].created_at);
  assert.deepEqual(await blocks(x), [], 'the blocked user is not told and blocks nobody');

  assertStatus(await unblock(me, x), 204);
  assertStatus(await unblock(me, x), 204);
  assertStatus(await unblock(me, { id: 9007199254740000 }), 204, 'unblocking someone never blocked');
  assert.deepEqual((await blocks(me)).map((b) => b.user.id), [y.id]);
});

test('blocks: unknown user 404, yourself 422, malformed id 400', async () => {
  const me = await signup();
  assertProblem(await block(me, { id: 9007199254740000 }), 404, 'not-found', 'user_id');
  assertProblem(await block(me, me), 422, 'validation', 'user_id');
  for (const bad of ['abc', '0', '-1']) {
    assertProblem(await api('PUT', `/v1/blocks/${bad}`, { token: me.token }), 400, 'bad-request', 'user_id');
    assertProblem(await api('DELETE', `/v1/blocks/${bad}`, { token: me.token }), 400, 'bad-request', 'user_id');
  }
  assert.deepEqual(await blocks(me), []);
});

test('blocks: neither side can open a direct conversation or write in an existing one; unblocking restores it', async () => {
  const blocker = await signup();
  const blocked = await signup();
  const later = await signup();
  await group(blocker, [blocked]); // so that their direct conversation is not a request
  const c = await direct(blocker, blocked);
  await sendOk(blocked, c.id, 'before');
  assertStatus(await block(blocker, blocked), 204);

  assertProblem(await send(blocked, c.id, 'blocked writes'), 403, 'forbidden');
  assertProblem(await send(blocker, c.id, 'blocker writes'), 403, 'forbidden');
  assertProblem(await openDirect(blocked, blocker), 403, 'forbidden', 'user_id');
  assertProblem(await openDirect(blocker, blocked), 403, 'forbidden', 'user_id');
  assertProblem(await openDirect(blocked, blocker), 403, 'forbidden', 'user_id');
  // never-opened pairs too
  assertStatus(await block(later, blocker), 204);
  assertProblem(await openDirect(blocker, later), 403, 'forbidden', 'user_id');
  assert.deepEqual((await history(blocker, c.id)).map((m) => m.body), ['before']);

  assertStatus(await unblock(blocker, blocked), 204);
  assertStatus(await send(blocked, c.id, 'after'), 201);
  assertStatus(await openDirect(blocked, blocker), 200);
});

test('blocks: nobody creates a group with, or adds, someone on either side of a block', async () => {
  const owner = await signup();
  const hater = await signup();
  const fine = await signup();
  assertStatus(await block(hater, owner), 204);
  const res = await api('POST', '/v1/conversations', { token: owner.token, body: { kind: 'group', title: 'g', member_ids: [fine.id, hater.id] } });
  assertProblem(res, 403, 'forbidden', 'member_ids');
  assert.deepEqual(await list(fine), [], 'no group was created');
  const g = await group(owner, [fine]);
  assertProblem(await api('POST', `/v1/conversations/${g.id}/members`, { token: owner.token, body: { user_ids: [hater.id] } }), 403, 'forbidden', 'user_ids');
  assert.equal((await getConversation(owner, g.id)).body.member_count, 2);
});

// ---------------------------------------------------------------- dm_policy

async function setPolicy(t, user, dm_policy) {
  const res = await api('PATCH', '/v1/me', { token: user.token, body: { dm_policy } });
  if (res.status === 400 && res.body.field === 'dm_policy') {
    t.skip('PATCH /v1/me does not accept dm_policy yet');
    return false;
  }
  assertStatus(res, 200);
  assert.equal(res.body.dm_policy, dm_policy);
  return true;
}

test('dm_policy: defaults to anyone; bad values are refused', async (t) => {
  const me = await signup();
  const mine = await api('GET', '/v1/me', { token: me.token });
  assert.equal(mine.body.dm_policy, 'anyone');
  if (!(await setPolicy(t, me, 'groups'))) return;
  assertProblem(await api('PATCH', '/v1/me', { token: me.token, body: { dm_policy: 'everyone' } }), 422, 'validation', 'dm_policy');
  assertProblem(await api('PATCH', '/v1/me', { token: me.token, body: { dm_policy: 1 } }), 400, 'bad-request', 'dm_policy');
  assert.equal((await api('GET', '/v1/me', { token: me.token })).body.dm_policy, 'groups');
  // others do not see it
  const other = await signup();
  const pub = await api('GET', `/v1/users/${me.id}`, { token: other.token });
  assert.ok(!('dm_policy' in pub.body));
});

test('dm_policy nobody: nobody opens a new direct conversation; existing ones stay', async (t) => {
  const me = await signup();
  const friend = await signup();
  const stranger = await signup();
  const existing = await direct(friend, me);
  if (!(await setPolicy(t, me, 'nobody'))) return;
  assertProblem(await openDirect(stranger, me), 403, 'forbidden', 'user_id');
  const again = await openDirect(friend, me);
  assertStatus(again, 200);
  assert.equal(again.body.id, existing.id);
  await group(stranger, [me]);
  assertProblem(await openDirect(stranger, me), 403, 'forbidden', 'user_id');
  // the policy limits others, not me
  assertStatus(await openDirect(me, stranger), 201);
});

test('dm_policy groups: only people who share a group with me open a direct conversation', async (t) => {
  const me = await signup();
  const stranger = await signup();
  const colleague = await signup();
  if (!(await setPolicy(t, me, 'groups'))) return;
  assertProblem(await openDirect(stranger, me), 403, 'forbidden', 'user_id');
  await group(colleague, [me]);
  const res = await openDirect(colleague, me);
  assertStatus(res, 201);
  assert.equal(res.body.members.find((m) => m.user_id === me.id).state, 'active', 'sharing a group: not a request');
  await setPolicy(t, me, 'anyone');
  assertStatus(await openDirect(stranger, me), 201);
});

// Messages: sending (idempotent retries, validation), history paging,
// visibility for members who join later, edits, deletes and reactions.
// Every answer is also checked against openapi.yaml.

import test from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { api, assertProblem, assertStatus, signup } from './lib/client.mjs';
import { activeDirect, emojiPath, getConversation, group, history, send, sendOk } from './lib/chat.mjs';
import { ageMessage, makeAdmin } from './lib/db.mjs';

const page = async (user, conv, query = '') => {
  const res = await api('GET', `/v1/conversations/${conv}/messages${query}`, { token: user.token });
  assertStatus(res, 200);
  return { seqs: res.body.messages.map((m) => m.seq), has_more: res.body.has_more, messages: res.body.messages };
};
const edit = (user, conv, seq, body) => api('PATCH', `/v1/conversations/${conv}/messages/${seq}`, { token: user.token, body: { body } });
const del = (user, conv, seq) => api('DELETE', `/v1/conversations/${conv}/messages/${seq}`, { token: user.token });
const react = (user, conv, seq, emoji, method = 'PUT') => api(method, emojiPath(conv, seq, emoji), { token: user.token });
// The sender's own view of a message adds `receipts` (except in the 201 answer of a send).
const withoutReceipts = ({ receipts, ...m }) => m;
const bySeq = async (user, conv, seq) => (await history(user, conv)).find((m) => m.seq === seq);

async function pair() {
  const alice = await signup();
  const bob = await signup();
  const conv = (await group(alice, [bob])).id;
  return { alice, bob, conv };
}

// ---------------------------------------------------------------- send

test('send: 201 with Location and the stored message; seqs count up from 1', async () => {
  const { alice, bob, conv } = await pair();
  const cmid = randomUUID();
  const res = await send(alice, conv, 'hello 👋', { cmid });
  assertStatus(res, 201);
  assert.equal(res.headers.get('location'), `/v1/conversations/${conv}/messages/1`);
  const m = res.body;
  assert.equal(m.conversation_id, conv);
  assert.equal(m.seq, 1);
  assert.equal(m.sender_id, alice.id);
  assert.equal(m.client_msg_id, cmid);
  assert.equal(m.body, 'hello 👋');
  assert.equal(m.reply_to, null);
  assert.deepEqual(m.media_ids, []);
  assert.equal(m.edited_at, null);
  assert.equal(m.deleted_at, null);
  assert.deepEqual(m.reactions, []);
  assert.deepEqual(await history(bob, conv), [m], 'the answer is the stored message');

  const second = await send(bob, conv, 'hi', { reply_to: 1 });
  assertStatus(second, 201);
  assert.equal(second.body.seq, 2);
  assert.equal(second.body.reply_to, 1);
  assert.equal(second.headers.get('location'), `/v1/conversations/${conv}/messages/2`);

  const seen = (await getConversation(alice, conv)).body;
  assert.equal(seen.last_seq, 2);
  assert.equal(seen.last_message.seq, 2);
  assert.equal(seen.unread_count, 1, "bob's message is unread for alice");
  assert.equal((await getConversation(bob, conv)).body.unread_count, 0, 'sending marks everything before as read');
});

test('send: a retry with the same client_msg_id is 200 with the stored message and stores nothing', async () => {
  const { alice, bob, conv } = await pair();
  const cmid = randomUUID();
  const first = await send(alice, conv, 'original', { cmid });
  assertStatus(first, 201);
  await sendOk(bob, conv, 'in between');
  const retry = await send(alice, conv, 'a different body', { cmid });
  assertStatus(retry, 200);
  assert.equal(retry.headers.get('location'), null);
  assert.deepEqual(withoutReceipts(retry.body), first.body);
  assert.deepEqual(retry.body.receipts, { recipients: 1, delivered: 1, read: 1 }, 'bob has it: he wrote after it');
  // the key is per sender and per conversation
  const sameKeyOtherSender = await send(bob, conv, 'bob uses the same key', { cmid });
  assertStatus(sameKeyOtherSender, 201);
  const other = (await group(alice, [bob])).id;
  assertStatus(await send(alice, other, 'same key elsewhere', { cmid }), 201);

  const msgs = await history(bob, conv);
  assert.deepEqual(msgs.map((m) => [m.seq, m.sender_id, m.body]), [
    [1, alice.id, 'original'],
    [2, bob.id, 'in between'],
    [3, bob.id, 'bob uses the same key'],
  ]);
});

test('send: the client_msg_id is answered as stored, whatever its letter case', async () => {
  const { alice, conv } = await pair();
  const cmid = randomUUID().toUpperCase();
  const first = await send(alice, conv, 'upper-case key', { cmid });
  assertStatus(first, 201);
  const retry = await send(alice, conv, 'upper-case key', { cmid });
  assertStatus(retry, 200);
  const stored = (await history(alice, conv))[0];
  assert.equal(first.body.client_msg_id, stored.client_msg_id, 'the 201 answer and the stored message agree');
  assert.equal(retry.body.client_msg_id, stored.client_msg_id);
  assert.equal(stored.client_msg_id.toLowerCase(), cmid.toLowerCase());
});

test('send: invalid input is refused and nothing is stored', async () => {
  const { alice, bob, conv } = await pair();
  await sendOk(alice, conv, 'the only message');
  const before = await history(bob, conv);
  const post = (opts) => api('POST', `/v1/conversations/${conv}/messages`, { token: alice.token, ...opts });
  const cases = [
    [{ body: { client_msg_id: randomUUID(), body: '' } }, 422, 'validation', 'body'],
    [{ body: { client_msg_id: randomUUID(), body: ' \n\t\r ' } }, 422, 'validation', 'body'],
    [{ body: { client_msg_id: randomUUID(), body: 'x'.repeat(4001) } }, 422, 'validation', 'body'],
    [{ body: { client_msg_id: randomUUID(), body: '😀'.repeat(4001) } }, 422, 'validation', 'body'],
    [{ body: { client_msg_id: 'not-a-uuid', body: 'x' } }, 422, 'validation', 'client_msg_id'],
    [{ body: { client_msg_id: randomUUID().replaceAll('-', ''), body: 'x' } }, 422, 'validation', 'client_msg_id'],
    [{ body: { client_msg_id: '', body: 'x' } }, 422, 'validation', 'client_msg_id'],
    [{ body: { client_msg_id: randomUUID(), body: 'x', reply_to: 2 } }, 422, 'validation', 'reply_to'],
    [{ body: { client_msg_id: randomUUID(), body: 'x', reply_to: 999 } }, 422, 'validation', 'reply_to'],
    [{ body: { client_msg_id: randomUUID(), body: 'x', reply_to: 0 } }, 400, 'bad-request', 'reply_to'],
    [{ body: { client_msg_id: randomUUID(), body: 'x', reply_to: '1' } }, 400, 'bad-request', 'reply_to'],
    [{ body: { client_msg_id: randomUUID() } }, 400, 'bad-request', 'body'],
    [{ body: { body: 'x' } }, 400, 'bad-request', 'client_msg_id'],
    [{ body: { client_msg_id: randomUUID(), body: 5 } }, 400, 'bad-request', 'body'],
    [{ body: { client_msg_id: randomUUID(), body: 'x', media_ids: 'x' } }, 400, 'bad-request', 'media_ids'],
    [{ body: { client_msg_id: randomUUID(), body: 'x', media_ids: [0] } }, 400, 'bad-request', 'media_ids'],
    [{ body: { client_msg_id: randomUUID(), body: 'x', media_ids: [987654321] } }, 404, 'not-found', 'media_ids'],
    [{ body: ['x'] }, 400, 'bad-request'],
    // invalid UTF-8 bytes inside a JSON string
    [{ raw: Buffer.concat([Buffer.from(`{"client_msg_id":"${randomUUID()}","body":"a`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]) }, 400, 'bad-request'],
    [{ raw: `{"client_msg_id":"${randomUUID()}","body":"x","body":"y"}` }, 400, 'bad-request'],
    [{ raw: '{"client_msg_id":' }, 400, 'bad-request'],
    [{ raw: JSON.stringify({ client_msg_id: randomUUID(), body: 'x' }), headers: { 'content-type': 'text/plain' } }, 415, 'unsupported-media-type'],
  ];
  for (const [opts, status, slug, field] of cases) {
    const res = await post(opts);
    assertProblem(res, status, slug, field);
    assert.deepEqual(await history(bob, conv), before, `nothing stored after ${res.status} ${res.text}`);
  }
  assert.equal((await getConversation(bob, conv)).body.last_seq, 1);

  const max = await send(alice, conv, 'x'.repeat(4000));
  assertStatus(max, 201);
  assert.equal(max.body.body.length, 4000);
  const maxEmoji = await send(alice, conv, '😀'.repeat(4000));
  assertStatus(maxEmoji, 201, '4000 characters, not bytes');
  const padded = await send(alice, conv, '  x  ');
  assertStatus(padded, 201);
  assert.equal(padded.body.body, '  x  ', 'the body is stored as given');
});

test('send: a body of only Unicode whitespace (NBSP, ideographic space, VT, FF) is 422', async () => {
  const { alice, bob, conv } = await pair();
  for (const body of ['\u00a0', '\u3000\u3000', '\u000b', '\u000c', ' \u2003 ']) {
    const res = await send(alice, conv, body);
    assert.equal(res.status, 422, `body ${JSON.stringify(body)} -> ${res.status}`);
  }
  assert.deepEqual(await history(bob, conv), []);
});

test('send: 404 for a conversation the sender is not in, 401 without a valid token', async () => {
  const { conv } = await pair();
  const mallory = await signup();
  assertProblem(await send(mallory, conv, 'let me in'), 404, 'not-found');
  assertProblem(await send(mallory, 9007199254740000, 'nowhere'), 404, 'not-found');
  assertProblem(await send({ token: null }, conv, 'anonymous'), 401, 'unauthorized');
  assertProblem(await send({ token: 'x.y.z' }, conv, 'forged'), 401, 'unauthorized');
  // a logged-out session can no longer send
  assertStatus(await api('DELETE', '/v1/sessions/current', { token: mallory.token }), 204);
  assertProblem(await send(mallory, conv, 'after logout'), 401, 'unauthorized');
});

// ---------------------------------------------------------------- history

test('history: before / after / limit / has_more', async () => {
  const { alice, bob, conv } = await pair();
  for (let i = 1; i <= 5; i++) await sendOk(i % 2 ? alice : bob, conv, `m${i}`);
  const newest = await page(bob, conv);
  assert.deepEqual(newest.seqs, [5, 4, 3, 2, 1], 'without before/after: newest first');
  assert.equal(newest.has_more, false);
  assert.deepEqual(newest.messages.map((m) => m.body), ['m5', 'm4', 'm3', 'm2', 'm1']);
  const p = async (q) => {
    const r = await page(bob, conv, q);
    return [r.seqs, r.has_more];
  };
  assert.deepEqual(await p('?limit=2'), [[5, 4], true]);
  assert.deepEqual(await p('?before=4&limit=2'), [[3, 2], true]);
  assert.deepEqual(await p('?before=3&limit=2'), [[2, 1], false]);
  assert.deepEqual(await p('?before=2'), [[1], false]);
  assert.deepEqual(await p('?before=1'), [[], false]);
  assert.deepEqual(await p('?before=99'), [[5, 4, 3, 2, 1], false]);
  assert.deepEqual(await p('?after=0&limit=2'), [[1, 2], true]);
  assert.deepEqual(await p('?after=2&limit=2'), [[3, 4], true]);
  assert.deepEqual(await p('?after=3'), [[4, 5], false]);
  assert.deepEqual(await p('?after=4&limit=1'), [[5], false]);
  assert.deepEqual(await p('?after=5'), [[], false]);
  assert.deepEqual(await p('?limit=200'), [[5, 4, 3, 2, 1], false]);
  assert.deepEqual(await p('?limit=5'), [[5, 4, 3, 2, 1], false]);
  assert.deepEqual(await p('?limit=4'), [[5, 4, 3, 2], true]);
});

test('history: bad parameters are 400', async () => {
  const { alice, conv } = await pair();
  await sendOk(alice, conv, 'x');
  for (const [q, field] of [
    ['limit=0', 'limit'],
    ['limit=201', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=-1', 'limit'],
    ['limit=1.5', 'limit'],
    ['before=0', 'before'],
    ['before=abc', 'before'],
    ['after=-1', 'after'],
    ['after=x', 'after'],
  ]) {
    assertProblem(await api('GET', `/v1/conversations/${conv}/messages?${q}`, { token: alice.token }), 400, 'bad-request', field);
  }
  assertProblem(await api('GET', `/v1/conversations/${conv}/messages?before=5&after=1`, { token: alice.token }), 400, 'bad-request');
  assertProblem(await api('GET', '/v1/conversations/abc/messages', { token: alice.token }), 400, 'bad-request', 'id');
  assertProblem(await api('GET', '/v1/conversations/0/messages', { token: alice.token }), 400, 'bad-request', 'id');
  const mallory = await signup();
  assertProblem(await api('GET', `/v1/conversations/${conv}/messages`, { token: mallory.token }), 404, 'not-found');
});

test('members added later see only the messages sent after they joined', async () => {
  const { alice, bob, conv } = await pair();
  await sendOk(alice, conv, 'before carol 1');
  await sendOk(bob, conv, 'before carol 2');
  const carol = await signup();
  const added = await api('POST', `/v1/conversations/${conv}/members`, { token: alice.token, body: { user_ids: [carol.id] } });
  assertStatus(added, 200);

  assert.deepEqual(await history(carol, conv), []);
  assert.deepEqual(await page(carol, conv, '?before=3'), { seqs: [], has_more: false, messages: [] });
  const view = (await getConversation(carol, conv)).body;
  assert.equal(view.last_message, null, 'the last message is not shown either');
  assert.equal(view.unread_count, 0);
  assertProblem(await edit(carol, conv, 1, 'x'), 404, 'not-found', 'seq');
  assertProblem(await react(carol, conv, 2, '👍'), 404, 'not-found', 'seq');

  await sendOk(alice, conv, 'after carol');
  const seen = await history(carol, conv);
  assert.deepEqual(seen.map((m) => [m.seq, m.body]), [[3, 'after carol']]);
  assert.equal((await getConversation(carol, conv)).body.unread_count, 1);
  assert.equal((await getConversation(carol, conv)).body.last_message.seq, 3);
  assert.equal((await history(bob, conv)).length, 3, 'earlier members still see everything');
});

// ---------------------------------------------------------------- edit

test('edit: the sender edits (200, edited_at set); others get 403', async () => {
  const { alice, bob, conv } = await pair();
  const m = await sendOk(alice, conv, 'typo');
  const res = await edit(alice, conv, m.seq, 'fixed ✅');
  assertStatus(res, 200);
  assert.equal(res.body.body, 'fixed ✅');
  assert.equal(res.body.seq, m.seq);
  assert.equal(res.body.created_at, m.created_at);
  assert.ok(res.body.edited_at >= m.created_at, 'edited_at is set, not before created_at');
  assert.deepEqual(await bySeq(bob, conv, m.seq), withoutReceipts(res.body));
  assert.deepEqual(res.body.receipts, { recipients: 1, delivered: 0, read: 0 });

  assertProblem(await edit(bob, conv, m.seq, 'bob was here'), 403, 'forbidden');
  const owned = await sendOk(bob, conv, 'bob writes');
  // the owner of a group may delete others' messages but not edit them
  assertProblem(await edit(alice, conv, owned.seq, 'owner edit'), 403, 'forbidden');
  assert.equal((await bySeq(alice, conv, m.seq)).body, 'fixed ✅');
  assert.equal((await bySeq(alice, conv, owned.seq)).body, 'bob writes');
});

test('edit: bad body 422, unknown seq 404, deleted 409, over 24 h old 409', async () => {
  const { alice, conv } = await pair();
  const m = await sendOk(alice, conv, 'text');
  assertProblem(await edit(alice, conv, m.seq, ''), 422, 'validation', 'body');
  assertProblem(await edit(alice, conv, m.seq, '   '), 422, 'validation', 'body');
  assertProblem(await edit(alice, conv, m.seq, 'x'.repeat(4001)), 422, 'validation', 'body');
  assertProblem(await api('PATCH', `/v1/conversations/${conv}/messages/${m.seq}`, { token: alice.token, body: {} }), 400, 'bad-request', 'body');
  assertProblem(await api('PATCH', `/v1/conversations/${conv}/messages/${m.seq}`, { token: alice.token, body: { body: 'x', reply_to: 1 } }), 400, 'bad-request', 'reply_to');
  assertProblem(await edit(alice, conv, 99, 'x'), 404, 'not-found', 'seq');
  assertProblem(await edit(alice, conv, 'abc', 'x'), 400, 'bad-request', 'seq');
  assertProblem(await edit(alice, conv, 0, 'x'), 400, 'bad-request', 'seq');
  assert.equal((await bySeq(alice, conv, m.seq)).body, 'text');
  assert.equal((await bySeq(alice, conv, m.seq)).edited_at, null);

  const old = await sendOk(alice, conv, 'yesterday');
  ageMessage(conv, old.seq, 25);
  assertProblem(await edit(alice, conv, old.seq, 'too late'), 409, 'conflict');
  assert.equal((await bySeq(alice, conv, old.seq)).body, 'yesterday');

  assertStatus(await del(alice, conv, m.seq), 204);
  assertProblem(await edit(alice, conv, m.seq, 'resurrect'), 409, 'conflict');
  assert.equal((await bySeq(alice, conv, m.seq)).body, null);
});

// ---------------------------------------------------------------- delete

test('delete: the sender deletes (204): body null, deleted_at set, reactions gone; twice is 409', async () => {
  const { alice, bob, conv } = await pair();
  const m = await sendOk(alice, conv, 'regret');
  await sendOk(bob, conv, 'later message');
  assertStatus(await react(bob, conv, m.seq, '😂'), 204);
  assertStatus(await del(alice, conv, m.seq), 204);
  const gone = await bySeq(bob, conv, m.seq);
  assert.equal(gone.body, null);
  assert.ok(gone.deleted_at, 'deleted_at is set');
  assert.deepEqual(gone.reactions, []);
  assert.equal(gone.sender_id, alice.id);
  assert.equal(gone.client_msg_id, m.client_msg_id);
  assert.equal((await history(bob, conv)).length, 2, 'a deleted message keeps its place in the history');
  assertProblem(await del(alice, conv, m.seq), 409, 'conflict');
  assertProblem(await react(bob, conv, m.seq, '😂'), 404, 'not-found', 'seq');
  assertProblem(await del(alice, conv, 99), 404, 'not-found', 'seq');
  // a retry of the deleted message's send does not bring it back
  const retry = await send(alice, conv, 'regret', { cmid: m.client_msg_id });
  assertStatus(retry, 200);
  assert.equal(retry.body.body, null);
});

test('delete: in a direct conversation only the sender may (403)', async () => {
  const alice = await signup();
  const bob = await signup();
  const conv = await activeDirect(alice, bob);
  const m = await sendOk(alice, conv, 'mine');
  assertProblem(await del(bob, conv, m.seq), 403, 'forbidden');
  assert.equal((await bySeq(bob, conv, m.seq)).body, 'mine');
});

test("delete: a group's owner and admins may delete anyone's message, plain members may not", async () => {
  const owner = await signup();
  const admin = await signup();
  const member = await signup();
  const other = await signup();
  const conv = (await group(owner, [admin, member, other])).id;
  makeAdmin(conv, admin.id);
  const m1 = await sendOk(other, conv, 'spam 1');
  const m2 = await sendOk(other, conv, 'spam 2');
  const m3 = await sendOk(owner, conv, "owner's");
  assertProblem(await del(member, conv, m1.seq), 403, 'forbidden');
  assertProblem(await del(member, conv, m3.seq), 403, 'forbidden');
  assertStatus(await del(owner, conv, m1.seq), 204);
  assertStatus(await del(admin, conv, m2.seq), 204);
  assertStatus(await del(admin, conv, m3.seq), 204, 'an admin may delete even the owner\'s message');
  const msgs = await history(member, conv);
  assert.deepEqual(msgs.map((m) => m.body), [null, null, null]);
});

// ---------------------------------------------------------------- reactions

test('reactions: PUT is idempotent; count and mine are per viewer; DELETE takes one back', async () => {
  const { alice, bob, conv } = await pair();
  const carol = await signup();
  assertStatus(await api('POST', `/v1/conversations/${conv}/members`, { token: alice.token, body: { user_ids: [carol.id] } }), 200);
  const m = await sendOk(alice, conv, 'react to me');

  assertStatus(await react(bob, conv, m.seq, '👍'), 204);
  assertStatus(await react(bob, conv, m.seq, '👍'), 204);
  assert.deepEqual((await bySeq(bob, conv, m.seq)).reactions, [{ emoji: '👍', count: 1, mine: true }]);
  assert.deepEqual((await bySeq(alice, conv, m.seq)).reactions, [{ emoji: '👍', count: 1, mine: false }]);

  assertStatus(await react(carol, conv, m.seq, '👍'), 204);
  assertStatus(await react(carol, conv, m.seq, '❤️'), 204);
  assert.deepEqual((await bySeq(carol, conv, m.seq)).reactions, [
    { emoji: '👍', count: 2, mine: true },
    { emoji: '❤️', count: 1, mine: true },
  ]);
  assert.deepEqual((await bySeq(bob, conv, m.seq)).reactions, [
    { emoji: '👍', count: 2, mine: true },
    { emoji: '❤️', count: 1, mine: false },
  ]);

  assertStatus(await react(bob, conv, m.seq, '👍', 'DELETE'), 204);
  assertStatus(await react(bob, conv, m.seq, '👍', 'DELETE'), 204);
  assertStatus(await react(alice, conv, m.seq, '🎉', 'DELETE'), 204, 'taking back a reaction that is not there');
  assert.deepEqual((await bySeq(bob, conv, m.seq)).reactions, [
    { emoji: '👍', count: 1, mine: false },
    { emoji: '❤️', count: 1, mine: false },
  ]);
  assertStatus(await react(carol, conv, m.seq, '❤️', 'DELETE'), 204);
  assert.deepEqual((await bySeq(alice, conv, m.seq)).reactions, [{ emoji: '👍', count: 1, mine: false }]);
});

test('reactions: bad emoji 422, unknown message or non-member 404, malformed ids 400', async () => {
  const { alice, conv } = await pair();
  const m = await sendOk(alice, conv, 'x');
  const path = (emojiSegment) => `/v1/conversations/${conv}/messages/${m.seq}/reactions/${emojiSegment}`;
  for (const bad of ['a', '%3A%2B1%3A', encodeURIComponent('👍a'), encodeURIComponent('😀'.repeat(9)), '%FF', '%C3%28']) {
    assertProblem(await api('PUT', path(bad), { token: alice.token }), 422, 'validation', 'emoji');
    assertProblem(await api('DELETE', path(bad), { token: alice.token }), 422, 'validation', 'emoji');
  }
  assertStatus(await api('PUT', path(encodeURIComponent('😀'.repeat(8))), { token: alice.token }), 204);
  assertStatus(await api('PUT', path(encodeURIComponent('👨‍👩‍👧')), { token: alice.token }), 204, 'a ZWJ sequence is one emoji');
  assertProblem(await react(alice, conv, 99, '👍'), 404, 'not-found', 'seq');
  const mallory = await signup();
  assertProblem(await react(mallory, conv, m.seq, '👍'), 404, 'not-found');
  assertProblem(await react(mallory, conv, m.seq, '👍', 'DELETE'), 404, 'not-found');
  assertProblem(await api('PUT', `/v1/conversations/${conv}/messages/abc/reactions/%F0%9F%91%8D`, { token: alice.token }), 400, 'bad-request', 'seq');
  assertProblem(await api('PUT', `/v1/conversations/abc/messages/1/reactions/%F0%9F%91%8D`, { token: alice.token }), 400, 'bad-request', 'id');
  const reactions = (await bySeq(alice, conv, m.seq)).reactions.map((r) => r.emoji);
  assert.deepEqual(reactions, ['😀'.repeat(8), '👨‍👩‍👧']);
});

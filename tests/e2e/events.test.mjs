// The event stream by polling (GET /v1/events): order, cursor semantics, the
// data of every event type, and who sees what. Every answer is also checked
// against openapi.yaml (which pins each type's `data` schema).

import test from 'node:test';
import assert from 'node:assert/strict';
import { api, assertProblem, assertStatus, signup } from './lib/client.mjs';
import { direct, drainEvents, emojiPath, eventCursor, group, sendOk } from './lib/chat.mjs';

const poll = async (user, query) => {
  const res = await api('GET', `/v1/events?${query}`, { token: user.token });
  assertStatus(res, 200);
  return res.body;
};
const inConv = (events, conv) => events.filter((e) => e.conversation_id === conv);
const ascending = (events) => {
  for (let i = 1; i < events.length; i++) assert.ok(events[i].pos > events[i - 1].pos, `pos order at ${events[i].pos}`);
};

test("a group's life in the stream: every type, in pos order, with its data", async () => {
  const owner = await signup();
  const member = await signup();
  const late = await signup();
  const start = await eventCursor(member);

  const c = await group(owner, [member], 'before');
  const m = await sendOk(owner, c.id, 'hello', { reply_to: undefined });
  const reply = await sendOk(member, c.id, 'hi back', { reply_to: m.seq });
  assertStatus(await api('PATCH', `/v1/conversations/${c.id}/messages/${m.seq}`, { token: owner.token, body: { body: 'hello!' } }), 200);
  assertStatus(await api('PUT', emojiPath(c.id, m.seq, '👍'), { token: member.token }), 204);
  assertStatus(await api('PUT', emojiPath(c.id, m.seq, '👍'), { token: member.token }), 204); // no second event
  assertStatus(await api('DELETE', emojiPath(c.id, m.seq, '👍'), { token: member.token }), 204);
  assertStatus(await api('DELETE', emojiPath(c.id, m.seq, '👍'), { token: member.token }), 204); // nor here
  assertStatus(await api('PATCH', `/v1/conversations/${c.id}`, { token: owner.token, body: { title: 'after' } }), 200);
  assertStatus(await api('PATCH', `/v1/conversations/${c.id}`, { token: owner.token, body: { muted_until: '2030-01-01T00:00:00Z' } }), 200); // no event
  assertStatus(await api('POST', `/v1/conversations/${c.id}/members`, { token: owner.token, body: { user_ids: [late.id] } }), 200);
  assertStatus(await api('DELETE', `/v1/conversations/${c.id}/members/${late.id}`, { token: owner.token }), 204);
  assertStatus(await api('DELETE', `/v1/conversations/${c.id}/messages/${reply.seq}`, { token: member.token }), 204);

  const { events } = await drainEvents(member, start);
  ascending(events);
  const mine = inConv(events, c.id);
  assert.deepEqual(mine.map((e) => e.type), [
    'conversation.created',
    'message.created',
    'message.created',
    'message.edited',
    'reaction.added',
    'reaction.removed',
    'conversation.renamed',
    'member.added',
    'member.removed',
    'message.deleted',
  ]);
  const [created, msg1, msg2, edited, added, removed, renamed, joined, kicked, deleted] = mine;
  for (const e of mine) assert.equal(e.conversation_id, c.id);
  assert.deepEqual(created.data, { conversation: { id: c.id, kind: 'group', title: 'before', created_by: owner.id, member_ids: [owner.id, member.id].sort((a, b) => a - b) } });
  assert.equal(created.actor_id, owner.id);
  // earlier events carry the message's current text: edited, or gone once deleted
  assert.deepEqual(msg1.data, { conversation_id: c.id, seq: m.seq, sender_id: owner.id, client_msg_id: m.client_msg_id, body: 'hello!', reply_to: null, media_ids: [], created_at: m.created_at });
  assert.equal(msg1.actor_id, owner.id);
  assert.deepEqual(msg2.data, { conversation_id: c.id, seq: reply.seq, sender_id: member.id, client_msg_id: reply.client_msg_id, body: null, reply_to: m.seq, media_ids: [], created_at: reply.created_at, deleted: true });
  assert.equal(edited.data.body, 'hello!');
  assert.equal(edited.data.seq, m.seq);
  assert.ok(edited.data.edited_at);
  assert.deepEqual(added.data, { conversation_id: c.id, seq: m.seq, user_id: member.id, emoji: '👍' });
  assert.equal(added.actor_id, member.id);
  assert.deepEqual(removed.data, { conversation_id: c.id, seq: m.seq, user_id: member.id, emoji: '👍' });
  assert.deepEqual(renamed.data, { conversation_id: c.id, title: 'after' });
  assert.deepEqual(joined.data, { conversation_id: c.id, user_id: late.id, role: 'member', by: owner.id });
  assert.deepEqual(kicked.data, { conversation_id: c.id, user_id: late.id, by: owner.id });
  assert.equal(deleted.data.seq, reply.seq);
  assert.equal(deleted.data.by, member.id);
  assert.ok(deleted.data.deleted_at);
});

test('cursor: passing back the cursor gives only newer events; limit pages through the same events', async () => {
  const a = await signup();
  const b = await signup();
  const start = await eventCursor(b);
  const c = await group(a, [b]);
  for (let i = 0; i < 4; i++) await sendOk(a, c.id, `m${i}`);

  const all = await poll(b, `cursor=${start}&limit=1000`);
  assert.equal(all.events.length, 5);
  assert.equal(all.cursor, all.events.at(-1).pos, 'the cursor is the last pos given');
  ascending(all.events);

  const paged = [];
  let cursor = start;
  for (;;) {
    const p = await poll(b, `cursor=${cursor}&limit=2`);
    assert.ok(p.events.length <= 2);
    if (p.events.length === 0) {
      assert.equal(p.cursor, cursor);
      break;
    }
    paged.push(...p.events);
    cursor = p.cursor;
  }
  assert.deepEqual(paged, all.events);

  const again = await poll(b, `cursor=${all.cursor}`);
  assert.deepEqual(again, { events: [], cursor: all.cursor }, 'nothing new: empty, same cursor');
  const m = await sendOk(a, c.id, 'newer');
  const next = await poll(b, `cursor=${all.cursor}`);
  assert.deepEqual(next.events.map((e) => [e.type, e.data.seq]), [['message.created', m.seq]]);
  assert.equal(next.cursor, next.events[0].pos);
  const mid = await poll(b, `cursor=${all.events[2].pos}&limit=1000`);
  assert.deepEqual(mid.events.map((e) => e.pos), [...all.events.slice(3), ...next.events].map((e) => e.pos));

  // without a cursor: from the beginning of the caller's stream
  const fromZero = await poll(b, 'limit=1000');
  assert.deepEqual(fromZero.events.map((e) => e.pos), [...all.events, ...next.events].map((e) => e.pos), "a new user's whole stream");
  assert.equal(fromZero.cursor, next.cursor);
});

test('cursor: at the end of the stream the answer is empty with the same cursor; beyond it, a 400', async () => {
  const a = await signup();
  const end = await eventCursor(a);
  assert.deepEqual(await poll(a, `cursor=${end}`), { events: [], cursor: end });
  // missive-sse, which serves /v1/events behind nginx, refuses a cursor it never gave out
  assertProblem(await api('GET', '/v1/events?cursor=9007199254740000', { token: a.token }), 400, 'bad-request', 'cursor');
});

test('bad cursor, limit or timeout is 400; no token is 401', async () => {
  const a = await signup();
  for (const [q, field] of [
    ['cursor=-1', 'cursor'],
    ['cursor=abc', 'cursor'],
    ['cursor=1.5', 'cursor'],
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=x', 'limit'],
    ['timeout=61', 'timeout'],
    ['timeout=-1', 'timeout'],
    ['timeout=soon', 'timeout'],
  ]) {
    assertProblem(await api('GET', `/v1/events?${q}`, { token: a.token }), 400, 'bad-request', field);
  }
  assertProblem(await api('GET', '/v1/events'), 401, 'unauthorized');
  assertProblem(await api('GET', '/v1/events', { token: 'not.a.token' }), 401, 'unauthorized');
  assertStatus(await api('GET', '/v1/events?limit=1000&timeout=0', { token: a.token }), 200);
});

test('a non-member never sees the events of a conversation', async () => {
  const a = await signup();
  const b = await signup();
  const outsider = await signup();
  const start = await eventCursor(outsider);
  const c = await group(a, [b], 'private');
  const m = await sendOk(a, c.id, 'secret');
  assertStatus(await api('PUT', emojiPath(c.id, m.seq, '🤫'), { token: b.token }), 204);
  assertStatus(await api('PATCH', `/v1/conversations/${c.id}`, { token: a.token, body: { title: 'still private' } }), 200);
  const d = await direct(a, b);
  await sendOk(b, d.id, 'also secret');
  // the outsider's own activity shows up, theirs does not
  const own = await group(outsider, [], 'mine');
  const { events } = await drainEvents(outsider, start);
  assert.deepEqual([...new Set(events.map((e) => e.conversation_id))], [own.id]);
  assert.ok(!JSON.stringify(events).includes('secret'));
});

test('a removed member gets the member.removed event and nothing after it', async () => {
  const owner = await signup();
  const gone = await signup();
  const c = await group(owner, [gone]);
  await sendOk(owner, c.id, 'while you were here');
  const cursor = await eventCursor(gone);
  assertStatus(await api('DELETE', `/v1/conversations/${c.id}/members/${gone.id}`, { token: owner.token }), 204);
  await sendOk(owner, c.id, 'after you left');
  assertStatus(await api('PATCH', `/v1/conversations/${c.id}`, { token: owner.token, body: { title: 'new era' } }), 200);
  assertStatus(await api('PATCH', `/v1/conversations/${c.id}/messages/1`, { token: owner.token, body: { body: 'edited after you left' } }), 200);

  const { events } = await drainEvents(gone, cursor);
  assert.deepEqual(events.map((e) => [e.type, e.data.user_id]), [['member.removed', gone.id]]);
  assert.equal(events[0].actor_id, owner.id);
  assert.equal(events[0].data.by, owner.id);
  // replaying from the start shows the same span: from conversation.created to member.removed
  const before = (await drainEvents(gone, 0)).events.filter((e) => e.conversation_id === c.id);
  assert.deepEqual(before.map((e) => e.type), ['conversation.created', 'message.created', 'member.removed']);

  // added back: the stream resumes from the member.added event
  const cursor2 = (await drainEvents(gone, 0)).cursor;
  assertStatus(await api('POST', `/v1/conversations/${c.id}/members`, { token: owner.token, body: { user_ids: [gone.id] } }), 200);
  await sendOk(owner, c.id, 'welcome back');
  const back = (await drainEvents(gone, cursor2)).events;
  assert.deepEqual(back.map((e) => e.type), ['member.added', 'message.created']);
  assert.equal(back[1].data.body, 'welcome back');
});

test('a member added later sees no event about messages from before they joined', async () => {
  const owner = await signup();
  const early = await signup();
  const late = await signup();
  const c = await group(owner, [early]);
  const old = await sendOk(owner, c.id, 'before late joined');
  assertStatus(await api('POST', `/v1/conversations/${c.id}/members`, { token: owner.token, body: { user_ids: [late.id] } }), 200);
  // changes to the old message, made after late joined
  assertStatus(await api('PATCH', `/v1/conversations/${c.id}/messages/${old.seq}`, { token: owner.token, body: { body: 'edited: secret from before' } }), 200);
  assertStatus(await api('PUT', emojiPath(c.id, old.seq, '👀'), { token: early.token }), 204);

  const { events } = await drainEvents(late, 0);
  const here = inConv(events, c.id);
  assert.equal(here[0].type, 'member.added');
  assert.ok(!JSON.stringify(here).includes('secret from before'), `the text of a message from before joining leaks: ${JSON.stringify(here)}`);
  assert.deepEqual(here.filter((e) => e.data.seq === old.seq), [], 'no event about a message the member cannot see');
});

test('conversation.declined reaches only the decliner; the sender keeps getting nothing new', async () => {
  const sender = await signup();
  const recipient = await signup();
  const c = await direct(sender, recipient);
  const sCursor = await eventCursor(sender);
  const rCursor = await eventCursor(recipient);
  assertStatus(await api('POST', `/v1/conversations/${c.id}/decline`, { token: recipient.token }), 204);
  await sendOk(sender, c.id, 'unanswered');

  const r = inConv((await drainEvents(recipient, rCursor)).events, c.id);
  assert.deepEqual(r.map((e) => e.type), ['conversation.declined']);
  assert.deepEqual(r[0].data, { conversation_id: c.id });
  const s = inConv((await drainEvents(sender, sCursor)).events, c.id);
  assert.deepEqual(s.map((e) => e.type), ['message.created']);
});

test('accepting a request emits conversation.accepted to both', async () => {
  const sender = await signup();
  const recipient = await signup();
  const c = await direct(sender, recipient);
  const sCursor = await eventCursor(sender);
  const rCursor = await eventCursor(recipient);
  assertStatus(await api('POST', `/v1/conversations/${c.id}/accept`, { token: recipient.token }), 200);
  for (const [u, cur] of [[sender, sCursor], [recipient, rCursor]]) {
    const ev = inConv((await drainEvents(u, cur)).events, c.id);
    assert.deepEqual(ev.map((e) => [e.type, e.actor_id, e.data]), [['conversation.accepted', recipient.id, { conversation_id: c.id, user_id: recipient.id }]]);
  }
});

test('the owner leaving: remaining members see member.removed then member.role_changed', async () => {
  const owner = await signup();
  const heir = await signup();
  const c = await group(owner, [heir]);
  const cursor = await eventCursor(heir);
  assertStatus(await api('DELETE', `/v1/conversations/${c.id}/members/${owner.id}`, { token: owner.token }), 204);
  const ev = inConv((await drainEvents(heir, cursor)).events, c.id);
  assert.deepEqual(ev.map((e) => [e.type, e.data]), [
    ['member.removed', { conversation_id: c.id, user_id: owner.id, by: owner.id }],
    ['member.role_changed', { conversation_id: c.id, user_id: heir.id, role: 'owner' }],
  ]);
});

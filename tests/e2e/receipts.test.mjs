// Read receipts and delivery ticks: intake, the receipts worker, the views.

import test from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { api, assertStatus, assertProblem, signup } from './lib/client.mjs';
import { loadStack } from './lib/stack.mjs';
import { openStream, ticket, sleep } from './lib/stream.mjs';

const REPO = new URL('../../', import.meta.url).pathname;
const stack = (cmd, name) => execFileSync('bash', [`${REPO}deploy/stack.sh`, cmd, loadStack().MISSIVE_DIR, name], { stdio: 'pipe' });

async function group(owner, members) {
  const res = await api('POST', '/v1/conversations', { token: owner.token, body: { kind: 'group', title: 'receipts', member_ids: members.map((m) => m.id) } });
  assertStatus(res, 201);
  return res.body.id;
}

async function sendN(user, conv, n) {
  const seqs = [];
  for (let i = 0; i < n; i++) {
    const res = await api('POST', `/v1/conversations/${conv}/messages`, { token: user.token, body: { client_msg_id: randomUUID(), body: `m${i}` } });
    assertStatus(res, 201);
    seqs.push(res.body.seq);
  }
  return seqs;
}

const mark = (user, conv, kind, seq) => api('POST', `/v1/conversations/${conv}/${kind}`, { token: user.token, body: { seq } });

async function history(user, conv) {
  const res = await api('GET', `/v1/conversations/${conv}/messages?after=0&limit=200`, { token: user.token });
  assertStatus(res, 200);
  return res.body.messages;
}

async function until(fn, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(50);
  }
}

test('Bob reads up to 5: Alice gets a receipt event and sees read / delivered / sent', async () => {
  const alice = await signup();
  const bob = await signup();
  const conv = await group(alice, [bob]);
  await sendN(alice, conv, 8);
  const s = openStream({ ticket: await ticket(alice) });
  await s.waitOpen();
  assertStatus(await mark(bob, conv, 'delivered', 7), 204);
  assertStatus(await mark(bob, conv, 'read', 5), 204);
  await s.waitFor((e) => e.type === 'receipt' && e.data.data.user_id === bob.id && e.data.data.read_seq === 5);
  s.close();

  const msgs = await history(alice, conv);
  const status = (m) => (m.receipts.read === m.receipts.recipients ? 'read' : m.receipts.delivered === m.receipts.recipients ? 'delivered' : 'sent');
  assert.deepEqual(msgs.map(status), ['read', 'read', 'read', 'read', 'read', 'delivered', 'delivered', 'sent']);
  const detail = await api('GET', `/v1/conversations/${conv}`, { token: alice.token });
  const b = detail.body.members.find((m) => m.user_id === bob.id);
  assert.equal(b.last_read_seq, 5);
  assert.equal(b.last_delivered_seq, 7);
  // Bob's own unread count follows his read mark.
  const bobsView = await api('GET', `/v1/conversations/${conv}`, { token: bob.token });
  assert.equal(bobsView.body.unread_count, 3);
  // Marks only move forward; read implies delivered.
  assertStatus(await mark(bob, conv, 'read', 2), 204);
  assertStatus(await mark(bob, conv, 'read', 8), 204);
  await until(async () => {
    const d = await api('GET', `/v1/conversations/${conv}`, { token: alice.token });
    const m = d.body.members.find((x) => x.user_id === bob.id);
    return m.last_read_seq === 8 && m.last_delivered_seq === 8;
  });
});

test('1,000 read marks within a second become a handful of receipt events; the maximum wins', async () => {
  const alice = await signup();
  const bob = await signup();
  const conv = await group(alice, [bob]);
  const seqs = await sendN(alice, conv, 20);
  const s = openStream({ ticket: await ticket(alice) });
  await s.waitOpen();
  const marks = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 20 + 1);
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < marks.length) {
      const seq = marks[next++];
      const res = await mark(bob, conv, 'read', seq);
      assertStatus(res, 204);
    }
  }));
  await s.waitFor((e) => e.type === 'receipt' && e.data.data.read_seq === seqs.at(-1), 15000);
  await sleep(500);
  const receipts = s.of('receipt').filter((e) => e.data.data.user_id === bob.id);
  assert.ok(receipts.length <= 20, `${receipts.length} receipt events for 1,000 marks`);
  const reads = receipts.map((e) => e.data.data.read_seq);
  assert.deepEqual(reads, [...reads].sort((a, b) => a - b), 'receipts never go backward');
  s.close();
});

test('group of 5: per-message delivered/read counts follow each member', async () => {
  const alice = await signup();
  const others = [await signup(), await signup(), await signup(), await signup()];
  const conv = await group(alice, others);
  await sendN(alice, conv, 4);
  assertStatus(await mark(others[0], conv, 'read', 4), 204);
  assertStatus(await mark(others[1], conv, 'read', 2), 204);
  assertStatus(await mark(others[2], conv, 'delivered', 3), 204);
  const want = [
    { recipients: 4, delivered: 3, read: 2 },
    { recipients: 4, delivered: 3, read: 2 },
    { recipients: 4, delivered: 2, read: 1 },
    { recipients: 4, delivered: 1, read: 1 },
  ];
  await until(async () => isDeepStrictEqual((await history(alice, conv)).map((m) => m.receipts), want));
  // A member who leaves stops counting.
  assertStatus(await api('DELETE', `/v1/conversations/${conv}/members/${others[0].id}`, { token: others[0].token }), 204);
  const after = (await history(alice, conv)).map((m) => m.receipts);
  assert.deepEqual(after[3], { recipients: 3, delivered: 0, read: 0 });
  // Others do not get the sender's counts.
  const seen = await history(others[1], conv);
  assert.equal(seen[0].receipts, undefined);
});

test('private read receipts: others see delivered only', async () => {
  const alice = await signup();
  const bob = await signup();
  const conv = await group(alice, [bob]);
  await sendN(alice, conv, 3);
  const me = await api('PATCH', '/v1/me', { token: bob.token, body: { send_read_receipts: false } });
  assertStatus(me, 200);
  assert.equal(me.body.send_read_receipts, false);
  assertStatus(await mark(bob, conv, 'read', 3), 204);
  const s = openStream({ token: alice.token, cursor: 0 });
  const ev = await s.waitFor((e) => e.type === 'receipt' && e.data.data.user_id === bob.id);
  assert.equal(ev.data.data.read_seq, null);
  assert.equal(ev.data.data.delivered_seq, 3);
  s.close();
  const msgs = await history(alice, conv);
  assert.deepEqual(msgs.map((m) => m.receipts.read), [0, 0, 0]);
  assert.deepEqual(msgs.map((m) => m.receipts.delivered), [1, 1, 1]);
  // Bob's own unread count still follows his read mark.
  const mine = await api('GET', `/v1/conversations/${conv}`, { token: bob.token });
  assert.equal(mine.body.unread_count, 0);
});

test('bad marks: non-members, other conversations, bad seqs get 4xx and change nothing', async () => {
  const alice = await signup();
  const bob = await signup();
  const carol = await signup();
  const conv = await group(alice, [bob]);
  await sendN(alice, conv, 2);
  assertProblem(await mark(carol, conv, 'read', 1), 404, 'not-found');
  assertProblem(await mark(bob, conv, 'read', 3), 422, 'validation', 'seq');
  assertProblem(await mark(bob, conv, 'read', 0), 400, 'bad-request', 'seq');
  assertProblem(await mark(bob, conv, 'delivered', -1), 400, 'bad-request', 'seq');
  assertProblem(await api('POST', `/v1/conversations/${conv}/read`, { token: bob.token, body: { seq: '1' } }), 400, 'bad-request', 'seq');
  assertProblem(await api('POST', `/v1/conversations/${conv}/read`, { token: bob.token, body: {} }), 400, 'bad-request', 'seq');
  assertProblem(await mark(bob, 999999999, 'read', 1), 404, 'not-found');
  assertProblem(await api('POST', '/v1/conversations/abc/read', { token: bob.token, body: { seq: 1 } }), 400, 'bad-request');
  await sleep(400);
  const d = await api('GET', `/v1/conversations/${conv}`, { token: alice.token });
  for (const m of d.body.members) {
    if (m.user_id === alice.id) continue;
    assert.equal(m.last_read_seq, 0);
    assert.equal(m.last_delivered_seq, 0);
  }
});

test('the receipts worker killed with SIGKILL and restarted loses no mark', async () => {
  const alice = await signup();
  const readers = [await signup(), await signup(), await signup()];
  const conv = await group(alice, readers);
  await sendN(alice, conv, 30);
  let stop = false;
  const marking = Promise.all(readers.map(async (r) => {
    for (let seq = 1; seq <= 30 && !stop; seq++) {
      assertStatus(await mark(r, conv, seq % 2 ? 'delivered' : 'read', seq), 204);
      await sleep(5);
    }
  }));
  await sleep(60);
  stack('kill-one', 'worker');
  await marking;
  // A SIGKILLed process can linger a moment; a start racing it is retried.
  for (let attempt = 1; ; attempt++) {
    try {
      stack('start-one', 'worker');
      break;
    } catch (e) {
      if (attempt >= 3) throw e;
      await sleep(1000);
    }
  }
  await until(async () => {
    const d = await api('GET', `/v1/conversations/${conv}`, { token: alice.token });
    return d.body.members.filter((m) => m.user_id !== alice.id).every((m) => m.last_read_seq === 30 && m.last_delivered_seq === 30);
  }, 20000);
  stop = true;
});

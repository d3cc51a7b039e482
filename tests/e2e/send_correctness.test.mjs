// Correctness of the batched send path and the event stream under concurrency,
// retries and a database crash. Real stack, real PostgreSQL.

import test from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { api, assertStatus, signup } from './lib/client.mjs';
import { loadStack } from './lib/stack.mjs';

const REPO = new URL('../../', import.meta.url).pathname;

async function group(owner, members, title = 'g') {
  const res = await api('POST', '/v1/conversations', {
    token: owner.token,
    body: { kind: 'group', title, member_ids: members.map((m) => m.id) },
  });
  assertStatus(res, 201);
  return res.body.id;
}

function send(user, conv, body, cmid = randomUUID()) {
  return api('POST', `/v1/conversations/${conv}/messages`, {
    token: user.token,
    body: { client_msg_id: cmid, body },
  });
}

/** Every message of a conversation, oldest first, paging with after=. */
async function history(user, conv) {
  const all = [];
  let after = 0;
  for (;;) {
    const res = await api('GET', `/v1/conversations/${conv}/messages?after=${after}&limit=200`, { token: user.token });
    assertStatus(res, 200);
    all.push(...res.body.messages);
    if (!res.body.has_more) return all;
    after = all[all.length - 1].seq;
  }
}

/** Runs fn over items with at most n in flight. */
async function pool(items, n, fn) {
  let next = 0;
  const results = new Array(items.length);
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  }));
  return results;
}

async function currentCursor(user) {
  let cursor = 0;
  for (;;) {
    const res = await api('GET', `/v1/events?cursor=${cursor}&limit=1000`, { token: user.token });
    assertStatus(res, 200);
    if (res.body.events.length === 0) return cursor;
    cursor = res.body.cursor;
  }
}

test('16 concurrent clients, 5,000 sends: each stored once, seqs gap-free, events seen once in order', async () => {
  const users = [];
  for (let i = 0; i < 4; i++) users.push(await signup());
  const reader = await signup();
  const convs = [];
  for (let c = 0; c < 4; c++) convs.push(await group(users[0], [...users.slice(1), reader], `load ${c}`));
  const start = await currentCursor(reader);

  // The reader polls the event stream while the writers run.
  let writing = true;
  const seen = [];
  const polling = (async () => {
    let cursor = start;
    for (;;) {
      const done = !writing;
      const res = await api('GET', `/v1/events?cursor=${cursor}&limit=1000`, { token: reader.token });
      assertStatus(res, 200);
      seen.push(...res.body.events);
      cursor = res.body.cursor;
      if (done && res.body.events.length === 0) return;
    }
  })();

  const total = 5000;
  const jobs = Array.from({ length: total }, (_, i) => ({ i, user: users[i % 4], conv: convs[(i >> 2) % 4], cmid: randomUUID() }));
  const acked = [];
  await pool(jobs, 16, async (j) => {
    const res = await send(j.user, j.conv, `m${j.i}`, j.cmid);
    assertStatus(res, 201);
    acked.push({ conv: j.conv, cmid: j.cmid, seq: res.body.seq });
  });
  writing = false;
  await polling;

  // Stored exactly once; per-conversation seqs are exactly 1..n.
  for (const conv of convs) {
    const msgs = await history(reader, conv);
    const mine = acked.filter((a) => a.conv === conv);
    assert.equal(msgs.length, mine.length, `conversation ${conv}: stored ${msgs.length}, acknowledged ${mine.length}`);
    msgs.forEach((m, k) => assert.equal(m.seq, k + 1, `conversation ${conv}: seq gap at ${k + 1}`));
    const byCmid = new Map(msgs.map((m) => [m.client_msg_id, m.seq]));
    for (const a of mine) assert.equal(byCmid.get(a.cmid), a.seq, `message ${a.cmid} stored with the acknowledged seq`);
  }

  // The reader saw every event once, in pos order, with no gap in positions.
  const created = seen.filter((e) => e.type === 'message.created');
  assert.equal(created.length, total, 'every acknowledged message appears once in the stream');
  assert.equal(new Set(created.map((e) => e.data.client_msg_id)).size, total, 'no event seen twice');
  for (let k = 1; k < seen.length; k++) assert.equal(seen[k].pos, seen[k - 1].pos + 1, `pos gap or reorder after ${seen[k - 1].pos}`);
  assert.equal(seen[0].pos, start + 1, 'the stream starts right after the cursor');
});

test('the same client_msg_id sent by 8 clients at once stores one message', async () => {
  const alice = await signup();
  const bob = await signup();
  const conv = await group(alice, [bob]);
  const cmid = randomUUID();
  const answers = await Promise.all(Array.from({ length: 8 }, () => send(alice, conv, 'only once', cmid)));
  for (const res of answers) assert.ok(res.status === 200 || res.status === 201, `status ${res.status}: ${res.text}`);
  assert.equal(answers.filter((r) => r.status === 201).length, 1, 'exactly one send creates the message');
  assert.equal(new Set(answers.map((r) => r.body.seq)).size, 1, 'all answers name the same message');
  const msgs = await history(bob, conv);
  assert.equal(msgs.filter((m) => m.client_msg_id === cmid).length, 1);
  // A later retry gets the stored message back, not a new one.
  const again = await send(alice, conv, 'a different body', cmid);
  assertStatus(again, 200);
  assert.equal(again.body.body, 'only once');
});

function pgCtl(dir, ...args) {
  const cmd = ['/usr/lib/postgresql/15/bin/pg_ctl', '-D', `${dir}/pg`, ...args];
  const asRoot = process.getuid && process.getuid() === 0;
  execFileSync(asRoot ? 'runuser' : cmd[0], asRoot ? ['-u', 'postgres', '--', ...cmd] : cmd.slice(1), { stdio: 'pipe', cwd: '/' });
}

async function waitHealthy(ms) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      const res = await api('GET', '/healthz', { timeoutMs: 2000 });
      if (res.status === 200) return;
    } catch { /* not up yet */ }
    if (Date.now() > until) throw new Error('the stack did not become healthy again');
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('every acknowledged send survives pg_ctl stop -m immediate', async () => {
  const stack = loadStack();
  const alice = await signup();
  const bob = await signup();
  const conv = await group(alice, [bob]);

  const acked = [];
  await pool(Array.from({ length: 300 }, (_, i) => i), 16, async (i) => {
    const cmid = randomUUID();
    const res = await send(i % 2 ? alice : bob, conv, `durable ${i}`, cmid);
    assertStatus(res, 201);
    acked.push({ cmid, seq: res.body.seq });
  });

  pgCtl(stack.MISSIVE_DIR, 'stop', '-m', 'immediate', '-w');
  let down;
  try {
    // While the database is down a send is refused (never a 2xx for an unstored message).
    down = await send(alice, conv, 'while down');
  } finally {
    execFileSync('bash', [`${REPO}deploy/stack.sh`, 'start-one', stack.MISSIVE_DIR, 'postgres'], { stdio: 'pipe' });
    await waitHealthy(30000);
  }
  assert.equal(down.status, 503, `a send during the outage answers 503, got ${down.status}`);
  assert.equal(down.contentType, 'application/problem+json');

  const msgs = await history(bob, conv);
  const stored = new Map(msgs.map((m) => [m.client_msg_id, m.seq]));
  for (const a of acked) assert.equal(stored.get(a.cmid), a.seq, `acknowledged message ${a.cmid} (seq ${a.seq}) is stored`);
  msgs.forEach((m, k) => assert.equal(m.seq, k + 1, 'seqs stay gap-free across the crash'));
});

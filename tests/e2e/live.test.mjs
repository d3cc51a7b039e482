// Live delivery through missive-sse: streams, replay, long-poll, presence,
// typing, authentication, restarts. Real stack; SSE through nginx.

import test from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { api, assertStatus, assertProblem, signup } from './lib/client.mjs';
import { loadStack } from './lib/stack.mjs';
import { openStream, rawStream, ticket, sleep } from './lib/stream.mjs';

const REPO = new URL('../../', import.meta.url).pathname;
function stack(cmd, name) {
  execFileSync('bash', [`${REPO}deploy/stack.sh`, cmd, loadStack().MISSIVE_DIR, name], { stdio: 'pipe' });
}

// A process killed with SIGKILL can linger a moment (the sandbox's init reaps
// late); a start that races it is retried, as a supervisor would.
async function startAgain(name) {
  for (let attempt = 1; ; attempt++) {
    try {
      stack('start-one', name);
      return;
    } catch (e) {
      if (attempt >= 3) throw e;
      await sleep(1000);
    }
  }
}

async function friends(a, b) {
  const res = await api('POST', '/v1/conversations', { token: a.token, body: { kind: 'group', title: 'friends', member_ids: [b.id] } });
  assertStatus(res, 201);
  return res.body.id;
}

async function send(user, conv, body) {
  const res = await api('POST', `/v1/conversations/${conv}/messages`, { token: user.token, body: { client_msg_id: randomUUID(), body } });
  assertStatus(res, 201);
  return res.body;
}

test('a message reaches every device of the recipient, and nobody else', async () => {
  const alice = await signup();
  const bob = await signup();
  const carol = await signup();
  const conv = await friends(alice, bob);
  const phone = openStream({ ticket: await ticket(bob) });
  const laptop = openStream({ ticket: await ticket(bob) });
  const stranger = openStream({ ticket: await ticket(carol) });
  await Promise.all([phone.waitOpen(), laptop.waitOpen(), stranger.waitOpen()]);

  const m = await send(alice, conv, 'hello bob');
  for (const dev of [phone, laptop]) {
    const ev = await dev.waitFor((e) => e.type === 'message.created' && e.data.data.seq === m.seq);
    assert.equal(ev.data.data.body, 'hello bob');
    assert.equal(ev.data.conversation_id, conv);
    assert.equal(ev.id, String(ev.data.pos), 'the SSE id is the event position');
  }
  await sleep(300);
  assert.equal(stranger.of('message.created').length, 0, 'a non-member receives nothing');
  for (const s of [phone, laptop, stranger]) s.close();
});

test('the stream speaks EventSource: headers, retry hint, ids', async () => {
  const bob = await signup();
  const res = await rawStream(`/v1/stream?ticket=${await ticket(bob)}`, {}, 800);
  assert.equal(res.status, 200);
  assert.match(res.contentType, /^text\/event-stream/);
  assert.match(res.headers.get('cache-control') ?? '', /no-cache/);
  assert.match(res.text, /^retry: \d+\n\n/, 'the stream opens with a retry hint');
  assert.match(res.text, /event: stream.ready\ndata: \{"pos":\d+\}\n\n/, 'and says where it is once caught up');
});

test('reconnecting with Last-Event-ID replays exactly the missed events, then goes live', async () => {
  const alice = await signup();
  const bob = await signup();
  const conv = await friends(alice, bob);
  const first = openStream({ ticket: await ticket(bob) });
  await first.waitOpen();
  await send(alice, conv, 'before');
  const seen = await first.waitFor((e) => e.type === 'message.created' && e.data.data.body === 'before');
  first.close();

  const missed = [];
  for (let i = 0; i < 50; i++) missed.push((await send(alice, conv, `missed ${i}`)).seq);
  const again = openStream({ ticket: await ticket(bob), lastEventId: seen.id });
  const got = await again.waitCount('message.created', 50);
  assert.deepEqual(got.map((e) => e.data.data.seq), missed, 'exactly the 50 missed messages, in order');
  const live = await send(alice, conv, 'live after replay');
  await again.waitFor((e) => e.type === 'message.created' && e.data.data.seq === live.seq);
  const all = again.of('message.created').map((e) => e.data.data.seq);
  assert.deepEqual(all, [...missed, live.seq], 'no duplicates between replay and live');
  const ids = again.events.filter((e) => e.id).map((e) => Number(e.id));
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'ids only increase');
  again.close();
});

test('a ?cursor= works like Last-Event-ID; a malformed or future cursor is a 400', async () => {
  const alice = await signup();
  const bob = await signup();
  const conv = await friends(alice, bob);
  const a = await send(alice, conv, 'one');
  const b = await send(alice, conv, 'two');
  const poll = await api('GET', '/v1/events?cursor=0&limit=1000', { token: bob.token });
  const posOfA = poll.body.events.find((e) => e.type === 'message.created' && e.data.seq === a.seq).pos;
  const s = openStream({ ticket: await ticket(bob), cursor: posOfA });
  const ev = await s.waitFor((e) => e.type === 'message.created');
  assert.equal(ev.data.data.seq, b.seq, 'replay starts after the cursor');
  s.close();

  const bad = await rawStream(`/v1/stream?ticket=${await ticket(bob)}&cursor=abc`);
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.text).type, 'https://missive.dev/problems/bad-request');
  const future = await rawStream(`/v1/stream?ticket=${await ticket(bob)}`, { 'last-event-id': '999999999999' });
  assert.equal(future.status, 400);
});

test("a cursor taken from someone else's stream shows nothing of theirs", async () => {
  // Positions are one global sequence, so a cursor names a point in time, not a
  // user: whoever presents it gets only their own events after it.
  const alice = await signup();
  const bob = await signup();
  const carol = await signup();
  const conv = await friends(alice, bob);
  const start = await api('GET', '/v1/events?cursor=0&limit=1000', { token: bob.token });
  const bobsCursor = start.body.cursor;
  await send(alice, conv, 'for bob only');
  await send(bob, conv, 'and back');

  const s = openStream({ ticket: await ticket(carol), lastEventId: bobsCursor });
  await s.waitFor((e) => e.type === 'stream.ready');
  const carolConv = await friends(carol, alice);
  const mine = await send(alice, carolConv, 'for carol');
  const ev = await s.waitFor((e) => e.type === 'message.created');
  assert.equal(ev.data.data.conversation_id, carolConv, 'the first message Carol sees is her own conversation\'s');
  assert.equal(ev.data.data.seq, mine.seq);
  for (const e of s.events) {
    assert.notEqual(e.data?.conversation_id ?? e.data?.data?.conversation_id, conv, `Carol got ${e.type} of Alice and Bob`);
  }
  s.close();

  const poll = await api('GET', `/v1/events?cursor=${bobsCursor}&limit=1000`, { token: carol.token });
  assertStatus(poll, 200);
  assert.ok(poll.body.events.every((e) => e.conversation_id !== conv), 'plain polling with the cursor shows nothing of theirs');
  const longPoll = await api('GET', `/v1/events?cursor=${bobsCursor}&timeout=1`, { token: carol.token });
  assertStatus(longPoll, 200);
  assert.ok(longPoll.body.events.every((e) => e.conversation_id !== conv));
});

test('authentication: no ticket, a used ticket, an expired ticket, a bad token get 401 and no data', async () => {
  const bob = await signup();
  const none = await rawStream('/v1/stream');
  assert.equal(none.status, 401);
  assert.equal(JSON.parse(none.text).status, 401);

  const t = await ticket(bob);
  const first = await rawStream(`/v1/stream?ticket=${t}`, {}, 300);
  assert.equal(first.status, 200);
  const reused = await rawStream(`/v1/stream?ticket=${t}`);
  assert.equal(reused.status, 401, 'a ticket is good for one connection');
  assert.doesNotMatch(reused.text, /^id:/m);

  const bogus = await rawStream('/v1/stream?ticket=not-a-ticket');
  assert.equal(bogus.status, 401);
  const badToken = await rawStream('/v1/stream', { authorization: 'Bearer abc.def.ghi' });
  assert.equal(badToken.status, 401);
  const accessAsTicket = await rawStream(`/v1/stream?ticket=${bob.token}`);
  assert.equal(accessAsTicket.status, 401, 'an access token is not a ticket');

  const ttl = Number(process.env.MISSIVE_TICKET_TTL ?? 30);
  if (ttl <= 10) {
    const old = await ticket(bob);
    await sleep((ttl + 1) * 1000);
    const expired = await rawStream(`/v1/stream?ticket=${old}`);
    assert.equal(expired.status, 401, 'an expired ticket is refused');
  }
});

test('signing out ends the session\'s streams', async () => {
  const bob = await signup();
  const s = openStream({ token: bob.token });
  await s.waitOpen();
  const out = await api('DELETE', '/v1/sessions/current', { token: bob.token });
  assertStatus(out, 204);
  const ev = await s.waitFor((e) => e.type === 'stream.ended');
  assert.equal(ev.data.reason, 'session_ended');
  s.close();
});

test('long-poll: backlog at once, holds until a message, empty with the same cursor on timeout', async () => {
  const alice = await signup();
  const bob = await signup();
  const conv = await friends(alice, bob);
  const start = (await api('GET', '/v1/events?cursor=0&limit=1000', { token: bob.token })).body.cursor;
  await send(alice, conv, 'backlog');

  const t0 = Date.now();
  const now = await api('GET', `/v1/events?cursor=${start}&timeout=30`, { token: bob.token });
  assertStatus(now, 200);
  assert.ok(Date.now() - t0 < 5000, 'backlog is answered at once');
  assert.equal(now.body.events.at(-1).data.body, 'backlog');
  const cursor = now.body.cursor;

  const held = api('GET', `/v1/events?cursor=${cursor}&timeout=30`, { token: bob.token });
  await sleep(500);
  await send(alice, conv, 'while held');
  const got = await held;
  assertStatus(got, 200);
  assert.equal(got.body.events.length, 1);
  assert.equal(got.body.events[0].data.body, 'while held');
  assert.equal(got.body.cursor, got.body.events[0].pos);

  const t1 = Date.now();
  const empty = await api('GET', `/v1/events?cursor=${got.body.cursor}&timeout=1`, { token: bob.token });
  assertStatus(empty, 200);
  assert.ok(Date.now() - t1 >= 900, 'it held for the timeout');
  assert.deepEqual(empty.body.events, []);
  assert.equal(empty.body.cursor, got.body.cursor);

  const plain = await api('GET', `/v1/events?cursor=${start}&timeout=0`, { token: bob.token });
  assert.deepEqual(plain.body.events.map((e) => e.pos), [...now.body.events, ...got.body.events].map((e) => e.pos));
  assertProblem(await api('GET', '/v1/events?cursor=0&timeout=61', { token: bob.token }), 400, 'bad-request', 'timeout');
  assertProblem(await api('GET', '/v1/events?cursor=x', { token: bob.token }), 400, 'bad-request', 'cursor');
});

test('typing reaches the other members only, and is never replayed', async () => {
  const alice = await signup();
  const bob = await signup();
  const carol = await signup();
  const conv = await friends(alice, bob);
  const b = openStream({ ticket: await ticket(bob) });
  const a = openStream({ ticket: await ticket(alice) });
  const c = openStream({ ticket: await ticket(carol) });
  await Promise.all([a.waitOpen(), b.waitOpen(), c.waitOpen()]);
  assertStatus(await api('POST', `/v1/conversations/${conv}/typing`, { token: alice.token }), 204);
  const ev = await b.waitFor((e) => e.type === 'typing');
  assert.deepEqual([ev.data.conversation_id, ev.data.user_id], [conv, alice.id]);
  assert.equal(ev.id, '', 'typing carries no id');
  await sleep(300);
  assert.equal(c.of('typing').length, 0, 'non-members see no typing');
  assert.equal(a.of('typing').length, 0, 'the typist is not told');
  assertProblem(await api('POST', `/v1/conversations/${conv}/typing`, { token: alice.token }), 429, 'rate-limited');
  assertProblem(await api('POST', `/v1/conversations/${conv}/typing`, { token: carol.token }), 404, 'not-found');
  for (const s of [a, b, c]) s.close();
});

async function presenceOf(viewer, user) {
  const res = await api('GET', `/v1/presence?user_ids=${user.id}`, { token: viewer.token });
  assertStatus(res, 200);
  return res.body.presence[0];
}

async function waitPresence(viewer, user, online, ms) {
  const until = Date.now() + ms;
  for (;;) {
    const p = await presenceOf(viewer, user);
    if (p.online === online) return p;
    if (Date.now() > until) throw new Error(`presence of ${user.username} stayed ${p.online}`);
    await sleep(200);
  }
}

test('presence: online while connected, offline after the grace period, no flap on reconnect', async () => {
  const grace = Number(process.env.MISSIVE_PRESENCE_GRACE ?? 10);
  const alice = await signup();
  const bob = await signup();
  const carol = await signup();
  await friends(alice, bob);
  const watch = openStream({ ticket: await ticket(alice) });
  await watch.waitOpen();

  const s1 = openStream({ ticket: await ticket(bob) });
  await s1.waitOpen();
  await waitPresence(alice, bob, true, 5000);
  await watch.waitFor((e) => e.type === 'presence' && e.data.user_id === bob.id && e.data.online === true);

  // A quick reconnect does not flap.
  s1.close();
  await sleep(Math.max(200, grace * 300));
  const s2 = openStream({ ticket: await ticket(bob) });
  await s2.waitOpen();
  await sleep(grace * 1000 + 1500);
  assert.equal((await presenceOf(alice, bob)).online, true, 'still online after a quick reconnect');
  assert.equal(watch.events.filter((e) => e.type === 'presence' && e.data.user_id === bob.id && !e.data.online).length, 0);

  s2.close();
  const off = await waitPresence(alice, bob, false, grace * 1000 + 5000);
  assert.ok(off.last_active_at, 'last seen is known');
  await watch.waitFor((e) => e.type === 'presence' && e.data.user_id === bob.id && e.data.online === false);

  // Strangers and blocked users see nothing.
  const s3 = openStream({ ticket: await ticket(bob) });
  await s3.waitOpen();
  await waitPresence(alice, bob, true, 5000);
  const stranger = await presenceOf(carol, bob);
  assert.equal(stranger.online, false);
  assert.equal(stranger.last_active_at, null);
  assertStatus(await api('PUT', `/v1/blocks/${alice.id}`, { token: bob.token }), 204);
  const blocked = await presenceOf(alice, bob);
  assert.equal(blocked.online, false, 'a blocked user sees no presence');
  assert.equal(blocked.last_active_at, null);
  for (const s of [watch, s3]) s.close();
});

test('kill -9 of missive-sse under a steady send load: every client ends with every message once', async () => {
  const alice = await signup();
  const readers = [await signup(), await signup(), await signup()];
  const res = await api('POST', '/v1/conversations', { token: alice.token, body: { kind: 'group', title: 'load', member_ids: readers.map((r) => r.id) } });
  assertStatus(res, 201);
  const conv = res.body.id;
  // Bearer streams reconnect by themselves with Last-Event-ID, as a browser would.
  const streams = readers.map((r) => openStream({ token: r.token }));
  await Promise.all(streams.map((s) => s.waitOpen()));

  const sent = [];
  let sending = true;
  const sender = (async () => {
    let i = 0;
    while (sending) {
      const r = await api('POST', `/v1/conversations/${conv}/messages`, { token: alice.token, body: { client_msg_id: randomUUID(), body: `steady ${i++}` } });
      if (r.status === 201) sent.push(r.body.seq);
      await sleep(10);
    }
  })();
  try {
    await sleep(700);
    stack('kill-one', 'sse');
    await sleep(300);
    await startAgain('sse');
    await sleep(1500);
  } finally {
    sending = false; // a failed restart must not leave the sender running
    await sender;
  }

  for (const s of streams) {
    await s.waitCount('message.created', sent.length, 20000);
    const seqs = s.of('message.created').map((e) => e.data.data.seq);
    assert.deepEqual(seqs, sent, 'every message exactly once, in order, across the restart');
    assert.ok(s.opens >= 2, 'the client reconnected');
    s.close();
  }
});

test('SIGTERM tells streams to reconnect, and they resume', async () => {
  const alice = await signup();
  const bob = await signup();
  const conv = await friends(alice, bob);
  const s = openStream({ token: bob.token });
  await s.waitOpen();
  const m1 = await send(alice, conv, 'before restart');
  await s.waitFor((e) => e.data?.data?.seq === m1.seq);
  stack('restart-one', 'sse');
  const m2 = await send(alice, conv, 'after restart');
  await s.waitFor((e) => e.type === 'message.created' && e.data.data.seq === m2.seq, 20000);
  assert.deepEqual(s.of('message.created').map((e) => e.data.data.seq), [m1.seq, m2.seq]);
  assert.ok(s.opens >= 2);
  s.close();
});

// Web Push: subscriptions, and what the push worker sends to a strict push
// service (tests/peers/push-receiver.mjs, started by run.sh on https with a
// throwaway certificate). The receiver checks every push it gets: TTL, Urgency,
// Topic, Content-Encoding aes128gcm, the VAPID JWT (ES256 R||S signature valid
// for k, aud = the endpoint's origin, exp within 24 h, sub), and decrypts the
// body with the subscription's keys. The stack runs with push_allow_private=1 so
// its loopback endpoint is allowed; the refusal of private addresses is covered
// by tests/unit/test_ssrf.c.

import test from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { api, assertStatus, assertProblem, signup, uniqueName } from './lib/client.mjs';
import { activeDirect, group } from './lib/chat.mjs';
import { openStream, ticket } from './lib/stream.mjs';
import { sql } from './lib/db.mjs';

const RX = process.env.PUSH_RECEIVER_URL;
const skip = RX ? false : 'no push receiver (run with tests/e2e/run.sh)';
const CA = RX ? readFileSync(process.env.PUSH_RECEIVER_CA) : null;

// The push endpoints are checked against openapi.yaml once it documents them.
const OPENAPI = readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8');
const DOCUMENTED = OPENAPI.includes('/v1/push/subscriptions');
const papi = (method, path, opts = {}) => api(method, path, { ...opts, contract: DOCUMENTED });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A request to the receiver (https, trusting its certificate). */
function rx(method, path) {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, RX), { method, ca: CA, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null });
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`receiver ${method} ${path}: timeout`)));
    req.end();
  });
}

let subscription; // the receiver's {endpoint, keys}, as a browser's PushSubscription.toJSON()
async function receiverKeys() {
  if (!subscription) {
    const res = await rx('GET', '/subscription');
    assert.equal(res.status, 200);
    subscription = res.body;
  }
  return subscription.keys;
}

/** Pushes the receiver got on /push/<name>, oldest first. */
async function pushes(name) {
  const res = await rx('GET', '/messages');
  return res.body.filter((m) => m.path === `/push/${name}`);
}

async function waitPushes(name, n, ms = 8000) {
  const until = Date.now() + ms;
  for (;;) {
    const got = await pushes(name);
    if (got.length >= n) return got;
    if (Date.now() > until) throw new Error(`${got.length} of ${n} pushes to /push/${name} within ${ms} ms`);
    await sleep(100);
  }
}

/** Asserts nothing reaches /push/<name> for a while (longer than gathering + a poll). */
async function assertNoPush(name, ms = 3000) {
  await sleep(ms);
  assert.deepEqual(await pushes(name), [], `no push to /push/${name}`);
}

const decode = (m) => JSON.parse(Buffer.from(m.payload, 'base64url').toString('utf8'));

/** Subscribes user with the receiver's keys at a fresh endpoint path; -> {name, endpoint, id}. */
async function subscribe(user, name = uniqueName('s')) {
  const endpoint = `${RX}/push/${name}`;
  const res = await papi('POST', '/v1/push/subscriptions', {
    token: user.token,
    body: { endpoint, expirationTime: null, keys: await receiverKeys() },
  });
  assertStatus(res, 201);
  assert.equal(res.body.endpoint, endpoint);
  return { name, endpoint, id: res.body.id };
}

async function listSubs(user) {
  const res = await papi('GET', '/v1/push/subscriptions', { token: user.token });
  assertStatus(res, 200);
  return res.body.subscriptions;
}

async function send(user, conv, body) {
  const res = await api('POST', `/v1/conversations/${conv}/messages`, {
    token: user.token,
    body: { client_msg_id: randomUUID(), body },
  });
  assertStatus(res, 201);
  return res.body;
}

async function pair() {
  const alice = await signup(uniqueName('alice'), { display_name: 'Alice' });
  const bob = await signup(uniqueName('bob'), { display_name: 'Bob' });
  const conv = await activeDirect(alice, bob);
  return { alice, bob, conv };
}

async function presence(viewer, user) {
  const res = await api('GET', `/v1/presence?user_ids=${user.id}`, { token: viewer.token });
  assertStatus(res, 200);
  return res.body.presence[0].online;
}

async function waitOnline(viewer, user, online, ms = 10000) {
  const until = Date.now() + ms;
  while ((await presence(viewer, user)) !== online) {
    if (Date.now() > until) throw new Error(`presence of ${user.username} never became ${online}`);
    await sleep(100);
  }
}

test('GET /v1/push/vapid-key gives the application server key', { skip }, async () => {
  const bob = await signup();
  const res = await papi('GET', '/v1/push/vapid-key', { token: bob.token });
  assertStatus(res, 200);
  const key = Buffer.from(res.body.public_key, 'base64url');
  assert.equal(key.length, 65, 'an uncompressed P-256 point');
  assert.equal(key[0], 4);
  assert.match(res.body.public_key, /^[A-Za-z0-9_-]+$/, 'base64url without padding');
  const again = await papi('GET', '/v1/push/vapid-key', { token: (await signup()).token });
  assert.equal(again.body.public_key, res.body.public_key, 'one key for the whole service');
  assertProblem(await papi('GET', '/v1/push/vapid-key'), 401, 'unauthorized');
});

test('subscriptions: create, refresh, list, delete; only one\'s own', { skip }, async () => {
  const bob = await signup();
  const eve = await signup();
  const keys = await receiverKeys();
  const endpoint = `${RX}/push/${uniqueName('crud')}`;
  const created = await papi('POST', '/v1/push/subscriptions', { token: bob.token, body: { endpoint, keys } });
  assertStatus(created, 201);
  assert.ok(Number.isSafeInteger(created.body.id) && created.body.id > 0);
  assert.match(created.body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  // The browser re-sends its subscription (e.g. on every start): same row.
  const again = await papi('POST', '/v1/push/subscriptions', {
    token: bob.token,
    body: { endpoint, expirationTime: Date.now() + 86400000, keys },
  });
  assertStatus(again, 200);
  assert.equal(again.body.id, created.body.id);
  assert.equal(again.body.created_at, created.body.created_at);

  assert.deepEqual(await listSubs(bob), [created.body]);
  assert.deepEqual(await listSubs(eve), [], 'nobody else sees it');
  assertProblem(await papi('DELETE', `/v1/push/subscriptions/${created.body.id}`, { token: eve.token }), 404, 'not-found');
  assertStatus(await papi('DELETE', `/v1/push/subscriptions/${created.body.id}`, { token: bob.token }), 204);
  assert.deepEqual(await listSubs(bob), []);
  assertProblem(await papi('DELETE', `/v1/push/subscriptions/${created.body.id}`, { token: bob.token }), 404, 'not-found');
  assertProblem(await papi('DELETE', '/v1/push/subscriptions/abc', { token: bob.token }), 400, 'bad-request');

  // One browser, one owner: another account registering the same endpoint takes it over.
  const first = await subscribe(bob);
  const taken = await papi('POST', '/v1/push/subscriptions', { token: eve.token, body: { endpoint: first.endpoint, keys } });
  assertStatus(taken, 201);
  assert.deepEqual(await listSubs(bob), []);
  assert.equal((await listSubs(eve))[0].endpoint, first.endpoint);
});

test('subscriptions are validated', { skip }, async () => {
  const bob = await signup();
  const keys = await receiverKeys();
  const ok = `${RX}/push/${uniqueName('v')}`;
  const post = (body) => papi('POST', '/v1/push/subscriptions', { token: bob.token, body });
  const b64 = (n) => randomBytes(n).toString('base64url');

  assertProblem(await post({ endpoint: ok.replace('https:', 'http:'), keys }), 422, 'validation', 'endpoint');
  assertProblem(await post({ endpoint: 'ftp://example.com/x', keys }), 422, 'validation', 'endpoint');
  assertProblem(await post({ endpoint: `https://user@${ok.slice(8)}`, keys }), 422, 'validation', 'endpoint');
  assertProblem(await post({ endpoint: 'https://no-such-host.invalid/push/x', keys }), 422, 'validation', 'endpoint');
  // Other spellings of an IPv4 address: the origin we sign for would not be the host we reach.
  const port = new URL(RX).port;
  for (const host of ['2130706433', '0x7f.1', '127.1']) {
    assertProblem(await post({ endpoint: `https://${host}:${port}/push/x`, keys }), 422, 'validation', 'endpoint');
  }
  assertProblem(await post({ endpoint: `https://${'a'.repeat(2100)}.example/x`, keys }), 400, 'bad-request', 'endpoint');
  // p256dh: a point on P-256, uncompressed, 65 bytes; auth: 16 bytes.
  assertProblem(await post({ endpoint: ok, keys: { ...keys, p256dh: b64(65) } }), 422, 'validation', 'keys.p256dh');
  assertProblem(await post({ endpoint: ok, keys: { ...keys, p256dh: keys.p256dh.slice(0, 40) } }), 422, 'validation', 'keys.p256dh');
  assertProblem(await post({ endpoint: ok, keys: { ...keys, auth: b64(15) } }), 422, 'validation', 'keys.auth');
  assertProblem(await post({ endpoint: ok, keys: { ...keys, auth: '!!!' } }), 422, 'validation', 'keys.auth');
  assertProblem(await post({ endpoint: ok, expirationTime: Date.now() - 1000, keys }), 422, 'validation', 'expirationTime');
  assertProblem(await post({ endpoint: ok, expirationTime: 'soon', keys }), 422, 'validation', 'expirationTime');
  // Shape: missing, unknown or mistyped fields.
  assertProblem(await post({ keys }), 400, 'bad-request', 'endpoint');
  assertProblem(await post({ endpoint: ok }), 400, 'bad-request', 'keys');
  assertProblem(await post({ endpoint: ok, keys: { p256dh: keys.p256dh } }), 400, 'bad-request', 'keys.auth');
  assertProblem(await post({ endpoint: ok, keys: { ...keys, extra: 'x' } }), 400, 'bad-request', 'keys.extra');
  assertProblem(await post({ endpoint: ok, keys, extra: 1 }), 400, 'bad-request', 'extra');
  assertProblem(await post({ endpoint: 42, keys }), 400, 'bad-request', 'endpoint');
  assertProblem(await post({ endpoint: ok, keys: 'x' }), 400, 'bad-request', 'keys');
  assertProblem(await papi('POST', '/v1/push/subscriptions', { body: { endpoint: ok, keys } }), 401, 'unauthorized');
  assert.deepEqual(await listSubs(bob), [], 'nothing was stored');
});

test('offline Bob gets one push for a burst of 3 messages, and it passes every check', { skip }, async () => {
  const { alice, bob, conv } = await pair();
  const sub = await subscribe(bob);
  const t0 = Date.now();
  await send(alice, conv, 'first');
  await send(alice, conv, 'second');
  const last = await send(alice, conv, 'third');

  const [m] = await waitPushes(sub.name, 1);
  assert.ok(m.ok, `the receiver's checks: ${JSON.stringify(m.errors)}`);
  assert.ok(Date.now() - t0 >= 900, 'the push waited for the burst to gather');
  assert.equal(m.ttl, '86400');
  assert.equal(m.urgency, 'high', 'a direct message is urgent');
  assert.match(m.topic, /^[A-Za-z0-9_-]{1,32}$/);
  assert.equal(m.jwtHeader.alg, 'ES256');
  assert.equal(m.claims.aud, new URL(RX).origin);
  assert.equal(m.claims.sub, 'mailto:admin@localhost');
  assert.ok(m.claims.exp > Date.now() / 1000 && m.claims.exp <= Date.now() / 1000 + 86400);
  const p = decode(m);
  assert.equal(p.conversation_id, conv);
  assert.equal(p.seq, last.seq);
  assert.equal(p.count, 3, '3 new messages');
  assert.equal(p.title, 'Alice');
  assert.equal(p.sender_name, 'Alice');
  assert.equal(p.sender_id, alice.id);
  assert.equal(p.body, 'third', 'the preview is the newest message');
  assert.ok(Buffer.byteLength(JSON.stringify(p)) < 4096);

  await sleep(2000);
  assert.equal((await pushes(sub.name)).length, 1, 'exactly one push for the burst');

  // Later messages in the same conversation use the same Topic (a newer push replaces an older one).
  await send(alice, conv, 'fourth');
  const [, m2] = await waitPushes(sub.name, 2);
  assert.ok(m2.ok, JSON.stringify(m2.errors));
  assert.equal(m2.topic, m.topic);
  assert.equal(decode(m2).count, 4, 'still unread: the newest push tells the whole story');

  // Reading the conversation resets the count.
  assertStatus(await api('POST', `/v1/conversations/${conv}/read`, { token: bob.token, body: { seq: 4 } }), 204);
  await sleep(500); // the receipts worker applies the mark
  await send(alice, conv, 'fifth');
  const [, , m3] = await waitPushes(sub.name, 3);
  assert.equal(decode(m3).count, 1);
});

test('hidden previews: the push says how many, not what', { skip }, async () => {
  const { alice, bob, conv } = await pair();
  const sub = await subscribe(bob);
  sql(`UPDATE users SET push_previews = false WHERE id = ${bob.id}`); // PATCH /v1/me {push_previews}
  await send(alice, conv, 'secret one');
  await send(alice, conv, 'secret two');
  const [m] = await waitPushes(sub.name, 1);
  assert.ok(m.ok, JSON.stringify(m.errors));
  const p = decode(m);
  assert.equal(p.body, '2 new messages');
  assert.equal(p.count, 2);
  assert.ok(!JSON.stringify(p).includes('secret'), 'no message text in the payload');
});

test('online Bob gets no push; once offline he does', { skip }, async () => {
  const { alice, bob, conv } = await pair();
  const sub = await subscribe(bob);
  const stream = openStream({ ticket: await ticket(bob) });
  await stream.waitOpen();
  await waitOnline(alice, bob, true);
  await send(alice, conv, 'you are here');
  await stream.waitFor((e) => e.type === 'message.created');
  await assertNoPush(sub.name);

  stream.close();
  await waitOnline(alice, bob, false); // after presence_grace
  await send(alice, conv, 'now you are gone');
  const [m] = await waitPushes(sub.name, 1);
  assert.ok(m.ok, JSON.stringify(m.errors));
  assert.equal(decode(m).body, 'now you are gone');
});

test('a muted conversation sends no push until unmuted', { skip }, async () => {
  const { alice, bob, conv } = await pair();
  const sub = await subscribe(bob);
  const mute = (until) => api('PATCH', `/v1/conversations/${conv}`, { token: bob.token, body: { muted_until: until } });
  assertStatus(await mute(new Date(Date.now() + 3600e3).toISOString()), 200);
  await send(alice, conv, 'shh');
  await assertNoPush(sub.name);

  assertStatus(await mute(null), 200);
  await send(alice, conv, 'unmuted');
  const [m] = await waitPushes(sub.name, 1);
  assert.equal(decode(m).body, 'unmuted');
});

test('a blocked sender causes no push; message requests never push', { skip }, async () => {
  const alice = await signup(uniqueName('alice'), { display_name: 'Alice' });
  const bob = await signup(uniqueName('bob'), { display_name: 'Bob' });
  const carol = await signup(uniqueName('carol'), { display_name: 'Carol' });
  const g = await group(alice, [bob, carol], 'Trio');
  const sub = await subscribe(bob);
  assertStatus(await api('PUT', `/v1/blocks/${alice.id}`, { token: bob.token }), 204);
  await send(alice, g.id, 'from someone Bob blocked');
  await assertNoPush(sub.name);

  await send(carol, g.id, 'from Carol');
  const [m] = await waitPushes(sub.name, 1);
  assert.ok(m.ok, JSON.stringify(m.errors));
  const p = decode(m);
  assert.equal(p.title, 'Trio', 'a group push is titled by the group');
  assert.equal(p.body, 'Carol: from Carol');
  assert.equal(m.urgency, 'normal');

  // A stranger's direct message is a request: no push until accepted.
  const dave = await signup();
  const req = await api('POST', '/v1/conversations', { token: dave.token, body: { kind: 'direct', user_id: bob.id } });
  assertStatus(req, 201);
  assert.equal(req.body.members.find((x) => x.user_id === bob.id).state, 'request');
  await send(dave, req.body.id, 'hi, stranger here');
  await sleep(3000);
  assert.equal((await pushes(sub.name)).length, 1, 'no push for a message request');
});

test('the push service answers 410: the subscription is deleted', { skip }, async () => {
  const { alice, bob, conv } = await pair();
  const sub = await subscribe(bob);
  assert.equal((await rx('POST', '/next-status/410')).status, 200);
  await send(alice, conv, 'to a browser that unsubscribed');
  const until = Date.now() + 8000;
  while ((await listSubs(bob)).length) {
    if (Date.now() > until) throw new Error('the subscription was not deleted after 410');
    await sleep(100);
  }
  await send(alice, conv, 'nobody to tell');
  await assertNoPush(sub.name, 2500);
});

test('503, then 429 with Retry-After: retried with backoff and delivered exactly once', { skip }, async () => {
  const { alice, bob, conv } = await pair();
  const sub = await subscribe(bob);
  assert.equal((await rx('POST', '/next-status/503')).status, 200);
  const t0 = Date.now();
  await send(alice, conv, 'try, try again');
  const [m] = await waitPushes(sub.name, 1, 15000);
  assert.ok(m.ok, JSON.stringify(m.errors));
  assert.ok(Date.now() - t0 >= 1900, 'gathered, failed, backed off, retried');
  assert.equal(decode(m).body, 'try, try again');

  assert.equal((await rx('POST', '/next-status/429')).status, 200);
  await send(alice, conv, 'slow down');
  await waitPushes(sub.name, 2, 15000);
  await sleep(2500);
  const all = await pushes(sub.name);
  assert.equal(all.length, 2, 'each delivered exactly once');
  assert.deepEqual(all.map((x) => decode(x).body), ['try, try again', 'slow down']);
  assert.equal((await listSubs(bob)).length, 1, 'the subscription stays');
});

test('another 4xx is given up and recorded; the subscription stays', { skip }, async () => {
  const { alice, bob, conv } = await pair();
  const sub = await subscribe(bob);
  assert.equal((await rx('POST', '/next-status/403')).status, 200);
  await send(alice, conv, 'forbidden');
  const until = Date.now() + 8000;
  let dead;
  while (!(dead = sql(`SELECT status || ' ' || reason FROM push_dead WHERE subscription_id = ${sub.id}`))) {
    if (Date.now() > until) throw new Error('no dead letter after 403');
    await sleep(100);
  }
  assert.match(dead, /^403 HTTP 403/);
  assert.deepEqual(await pushes(sub.name), []);
  assert.equal((await listSubs(bob)).length, 1);
});

test('signing out removes the subscriptions of that session only', { skip }, async () => {
  const bob = await signup();
  const laptop = await api('POST', '/v1/sessions', { body: { username: bob.username, password: bob.password } });
  assertStatus(laptop, 201);
  const laptopUser = { ...bob, token: laptop.body.access_token };
  const onPhone = await subscribe(bob);
  const onLaptop = await subscribe(laptopUser);
  assert.equal((await listSubs(bob)).length, 2);
  assertStatus(await api('DELETE', '/v1/sessions/current', { token: laptopUser.token }), 204);
  assert.deepEqual((await listSubs(bob)).map((s) => s.id), [onPhone.id]);
  assert.notEqual(onLaptop.id, onPhone.id);
});

test('missive_push_metrics() counts what the worker did', { skip }, async () => {
  const rows = sql('SELECT name, labels, value FROM missive_push_metrics()')
    .split('\n')
    .map((l) => l.split('|'));
  const get = (name, labels = '') => Number(rows.find((r) => r[0] === name && r[1] === labels)?.[2] ?? NaN);
  assert.ok(get('missive_push_sent_total') >= 5);
  assert.ok(get('missive_push_failed_total', 'status="410"') >= 1);
  assert.ok(get('missive_push_failed_total', 'status="503"') >= 1);
  assert.ok(get('missive_push_failed_total', 'status="429"') >= 1);
  assert.ok(get('missive_push_retried_total') >= 2);
  assert.ok(get('missive_push_gave_up_total', 'reason="rejected"') >= 1);
  assert.ok(get('missive_push_subscriptions_removed_total') >= 1);
  assert.ok(get('missive_push_queue_depth') >= 0);
  assert.ok(get('missive_push_event_lag') >= 0);
});

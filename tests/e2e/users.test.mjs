// GET/PATCH /v1/me, GET /v1/users (search + pagination), GET /v1/users/{id}.

import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { api, assertProblem, assertStatus, signup } from './lib/client.mjs';

const qs = (params) => new URLSearchParams(params).toString();

test('GET /v1/me returns the user of the token', async () => {
  const u = await signup();
  const res = await api('GET', '/v1/me', { token: u.token });
  assertStatus(res, 200);
  assert.deepEqual(res.body, u.user);
});

test('PATCH /v1/me changes display_name, visible to me and to others', async () => {
  const u = await signup();
  const other = await signup();
  const display_name = 'New Name ✨';
  const res = await api('PATCH', '/v1/me', { token: u.token, body: { display_name } });
  assertStatus(res, 200);
  assert.deepEqual(res.body, { ...u.user, display_name });

  const mine = await api('GET', '/v1/me', { token: u.token });
  assert.equal(mine.body.display_name, display_name);
  const theirs = await api('GET', `/v1/users/${u.id}`, { token: other.token });
  assertStatus(theirs, 200);
  assert.equal(theirs.body.display_name, display_name);
  // Only my user changed.
  assert.equal((await api('GET', '/v1/me', { token: other.token })).body.display_name, other.username);
});

test('PATCH /v1/me with {} changes nothing', async () => {
  const u = await signup();
  const res = await api('PATCH', '/v1/me', { token: u.token, body: {} });
  assertStatus(res, 200);
  assert.deepEqual(res.body, u.user);
});

test('PATCH /v1/me: display_name must be 1..64 characters (422)', async () => {
  const u = await signup();
  assertProblem(await api('PATCH', '/v1/me', { token: u.token, body: { display_name: '' } }), 422, 'validation', 'display_name');
  assertProblem(await api('PATCH', '/v1/me', { token: u.token, body: { display_name: 'x'.repeat(65) } }), 422, 'validation', 'display_name');
  assertProblem(await api('PATCH', '/v1/me', { token: u.token, body: { display_name: '😀'.repeat(65) } }), 422, 'validation', 'display_name');
  // nothing was written
  assert.deepEqual((await api('GET', '/v1/me', { token: u.token })).body, u.user);
  const ok = await api('PATCH', '/v1/me', { token: u.token, body: { display_name: '😀'.repeat(64) } });
  assertStatus(ok, 200);
  assert.equal(ok.body.display_name, '😀'.repeat(64));
});

test('PATCH /v1/me: malformed bodies are 400/413/415 and change nothing', async () => {
  const u = await signup();
  const patch = (opts) => api('PATCH', '/v1/me', { token: u.token, ...opts });
  assertProblem(await patch({ body: { nickname: 'x' } }), 400, 'bad-request', 'nickname');
  assertProblem(await patch({ body: { display_name: 'ok', username: 'hijack' } }), 400, 'bad-request', 'username');
  assertProblem(await patch({ body: { display_name: 5 } }), 400, 'bad-request', 'display_name');
  assertProblem(await patch({ body: ['display_name'] }), 400, 'bad-request');
  assertProblem(await patch({ raw: '{"display_name":"a","display_name":"b"}' }), 400, 'bad-request');
  assertProblem(await patch({ raw: '{"display_name":' }), 400, 'bad-request');
  assertProblem(await patch({ raw: '{"display_name":"x"}', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported-media-type');
  assertProblem(await patch({ raw: JSON.stringify({ display_name: 'x'.repeat(70000) }) }), 413, 'payload-too-large');
  assert.deepEqual((await api('GET', '/v1/me', { token: u.token })).body, u.user);
});

test('GET /v1/users: prefix search pages through results in username order', async () => {
  const prefix = `s${randomBytes(5).toString('hex')}`;
  const names = ['a', 'b', 'c', 'd', 'e'].map((l) => `${prefix}_${l}`);
  // Created out of order, so the order of the answer comes from the sort.
  const users = {};
  for (const n of [names[3], names[0], names[4], names[2], names[1]]) users[n] = await signup(n);
  const viewer = users[names[0]];

  const pages = [];
  let cursor = null;
  for (let i = 0; i < 4; i++) {
    const params = { q: prefix, limit: '2' };
    if (cursor) params.cursor = cursor;
    const res = await api('GET', `/v1/users?${qs(params)}`, { token: viewer.token });
    assertStatus(res, 200);
    pages.push(res.body.users.map((x) => x.username));
    for (const x of res.body.users) assert.deepEqual(x, { id: users[x.username].id, username: x.username, display_name: x.username });
    cursor = res.body.next_cursor;
    if (cursor === null) break;
    assert.equal(typeof cursor, 'string');
  }
  assert.deepEqual(pages, [[names[0], names[1]], [names[2], names[3]], [names[4]]]);
  assert.equal(cursor, null, 'the last page has next_cursor null');
});

test('GET /v1/users: q is lower-cased; no match is an empty last page', async () => {
  const prefix = `c${randomBytes(5).toString('hex')}`;
  const u = await signup(`${prefix}_only`);
  const upper = await api('GET', `/v1/users?${qs({ q: prefix.toUpperCase() })}`, { token: u.token });
  assertStatus(upper, 200);
  assert.deepEqual(upper.body, { users: [{ id: u.id, username: u.username, display_name: u.username }], next_cursor: null });

  const none = await api('GET', `/v1/users?${qs({ q: `${prefix}_zzz` })}`, { token: u.token });
  assertStatus(none, 200);
  assert.deepEqual(none.body, { users: [], next_cursor: null });
});

test('GET /v1/users: without q lists everyone, sorted, 20 per page by default', async () => {
  const u = await signup();
  for (let i = 0; i < 3; i++) await signup();
  const res = await api('GET', '/v1/users', { token: u.token });
  assertStatus(res, 200);
  const names = res.body.users.map((x) => x.username);
  assert.ok(names.length >= 1 && names.length <= 20, `${names.length} users`);
  assert.deepEqual(names, [...names].sort(), 'ordered by username');
  if (names.length < 20) assert.equal(res.body.next_cursor, null);

  const big = await api('GET', '/v1/users?limit=100', { token: u.token });
  assertStatus(big, 200);
  assert.ok(big.body.users.length <= 100);
  assert.ok(big.body.users.length >= names.length);
  const one = await api('GET', '/v1/users?limit=1', { token: u.token });
  assertStatus(one, 200);
  assert.equal(one.body.users.length, 1);
  assert.equal(typeof one.body.next_cursor, 'string', 'more than one user exists, so a cursor follows');
});

test('GET /v1/users: a bad limit is 400 with field limit', async () => {
  const u = await signup();
  for (const limit of ['0', '101', 'abc', '-1', '1.5', '99999999999999999999', '2abc']) {
    const res = await api('GET', `/v1/users?${qs({ limit })}`, { token: u.token });
    assert.equal(res.status, 400, `limit=${JSON.stringify(limit)}: ${res.text}`);
    assertProblem(res, 400, 'bad-request', 'limit');
  }
});

test('GET /v1/users: a q no username can start with is an empty page', async () => {
  const u = await signup();
  for (const q of ['a'.repeat(33), 'a b', 'ü', '%', '_%', "'"]) {
    const res = await api('GET', `/v1/users?${qs({ q })}`, { token: u.token });
    assertStatus(res, 200);
    assert.deepEqual(res.body, { users: [], next_cursor: null }, `q=${JSON.stringify(q)}`);
  }
});

test('GET /v1/users: q is a literal prefix (LIKE wildcards do not apply)', async () => {
  const prefix = `w${randomBytes(4).toString('hex')}`;
  const u = await signup(`${prefix}_x`);
  await signup(`${prefix}ax`);
  // "_" must match only "_", not any character.
  const res = await api('GET', `/v1/users?${qs({ q: `${prefix}_` })}`, { token: u.token });
  assertStatus(res, 200);
  assert.deepEqual(res.body.users.map((x) => x.username), [`${prefix}_x`]);
});

test('GET /v1/users: a cursor the server did not issue is refused (400) or read as a position (200), never a crash', async () => {
  const u = await signup();
  for (const cursor of ['not a cursor!', 'AAAA', '%00', "'; drop table users; --", 'x'.repeat(2000)]) {
    const res = await api('GET', `/v1/users?${qs({ cursor })}`, { token: u.token });
    assert.ok(res.status === 200 || res.status === 400, `cursor ${JSON.stringify(cursor.slice(0, 30))}: ${res.status} ${res.text}`);
    if (res.status === 400) assertProblem(res, 400, 'bad-request');
  }
  // The users table is still there.
  assertStatus(await api('GET', '/v1/users?limit=1', { token: u.token }), 200);
});

test('GET /v1/users/{id}: the public view of a user', async () => {
  const u = await signup();
  const other = await signup();
  const res = await api('GET', `/v1/users/${other.id}`, { token: u.token });
  assertStatus(res, 200);
  assert.deepEqual(res.body, { id: other.id, username: other.username, display_name: other.username });
  // My own public view works too.
  assertStatus(await api('GET', `/v1/users/${u.id}`, { token: u.token }), 200);
});

test('GET /v1/users/{id}: an unknown id is 404', async () => {
  const u = await signup();
  for (const id of ['2147483000', '9223372036854775807']) {
    assertProblem(await api('GET', `/v1/users/${id}`, { token: u.token }), 404, 'not-found');
  }
});

test('GET /v1/users/{id}: a malformed id is 400', async () => {
  const u = await signup();
  for (const id of ['abc', '0', '-1', '99999999999999999999', '9223372036854775808', '1.5', '1e3', '%20']) {
    const res = await api('GET', `/v1/users/${id}`, { token: u.token });
    assert.equal(res.status, 400, `id ${id}: ${res.text}`);
    assertProblem(res, 400, 'bad-request');
  }
});

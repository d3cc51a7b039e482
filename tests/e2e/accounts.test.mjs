// POST /v1/accounts: creation, validation, and that a rejected request writes nothing.

import test from 'node:test';
import assert from 'node:assert/strict';
import { api, assertProblem, assertStatus, createAccount, randomPassword, signup, uniqueName } from './lib/client.mjs';

const post = (body, opts = {}) => api('POST', '/v1/accounts', { body, ...opts });

/** "Nothing written": the username can still be created (and then logged into). */
async function assertUsernameFree(username) {
  const password = randomPassword();
  const res = await post({ username, password });
  assertStatus(res, 201);
  assert.equal(res.body.username, username);
  const login = await api('POST', '/v1/sessions', { body: { username, password } });
  assertStatus(login, 201);
}

test('create account: 201, Location, User body, default display_name', async () => {
  const username = uniqueName('acc');
  const before = Date.now();
  const res = await post({ username, password: randomPassword() });
  assertStatus(res, 201);
  assert.equal(res.contentType, 'application/json');
  assert.deepEqual(Object.keys(res.body).sort(), ['created_at', 'display_name', 'dm_policy', 'id', 'push_previews', 'send_read_receipts', 'username']);
  assert.equal(res.body.username, username);
  assert.equal(res.body.display_name, username);
  assert.ok(Number.isInteger(res.body.id) && res.body.id > 0);
  assert.equal(res.headers.get('location'), `/v1/users/${res.body.id}`);
  const created = Date.parse(res.body.created_at);
  assert.ok(Math.abs(created - before) < 5 * 60 * 1000, `created_at ${res.body.created_at} is not about now`);

  // The Location resolves to the same user.
  const other = await signup();
  const got = await api('GET', res.headers.get('location'), { token: other.token });
  assertStatus(got, 200);
  assert.deepEqual(got.body, { id: res.body.id, username, display_name: username });
});

test('create account: display_name is stored as given, Unicode included', async () => {
  const username = uniqueName('dn');
  const display_name = 'Zoë 🚀 Ünïcode';
  const user = await createAccount(username, randomPassword(), display_name);
  assert.equal(user.display_name, display_name);
});

test('create account: display_name limits count characters, not bytes', async () => {
  const ok = await post({ username: uniqueName('dn'), password: randomPassword(), display_name: '😀'.repeat(64) });
  assertStatus(ok, 201);
  assert.equal(ok.body.display_name, '😀'.repeat(64));
  const okE = await post({ username: uniqueName('dn'), password: randomPassword(), display_name: 'é'.repeat(64) });
  assertStatus(okE, 201);

  const name = uniqueName('dn');
  assertProblem(await post({ username: name, password: randomPassword(), display_name: 'é'.repeat(65) }), 422, 'validation', 'display_name');
  assertProblem(await post({ username: name, password: randomPassword(), display_name: '' }), 422, 'validation', 'display_name');
  assertProblem(await post({ username: name, password: randomPassword(), display_name: 'two\nlines' }), 422, 'validation', 'display_name');
  await assertUsernameFree(name);
});

test('create account: username edge lengths and characters that are allowed', async () => {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const pick = (n) => Array.from({ length: n }, () => chars[Math.floor(Math.random() * chars.length)]).join('');
  for (const username of [`${pick(1)}.${pick(1)}`, `${pick(1)}_${pick(30)}`, `a.b_c9.${pick(8)}`]) {
    const res = await post({ username, password: randomPassword() });
    assertStatus(res, 201);
    assert.equal(res.body.username, username);
  }
});

test('create account: duplicate username is 409 and the first account is untouched', async () => {
  const username = uniqueName('dup');
  const password = randomPassword();
  await createAccount(username, password);
  const res = await post({ username, password: randomPassword(), display_name: 'Impostor' });
  assertProblem(res, 409, 'conflict');
  // The original password still works and the display name is unchanged.
  const login = await api('POST', '/v1/sessions', { body: { username, password } });
  assertStatus(login, 201);
  assert.equal(login.body.user.display_name, username);
});

test('create account: invalid usernames are 422 with field username', async () => {
  const suffix = uniqueName('x', 6).slice(2);
  const bad = {
    'too short': 'ab',
    empty: '',
    'too long': `a${suffix}`.padEnd(33, 'z'),
    uppercase: `Upper_${suffix}`,
    space: `has space${suffix}`,
    hyphen: `has-hyphen${suffix}`,
    unicode: `ünï${suffix}`,
    'emoji': `emoji😀${suffix}`,
    'slash': `a/b${suffix}`,
    'trailing newline': `nl${suffix}\n`,
  };
  for (const [why, username] of Object.entries(bad)) {
    const res = await post({ username, password: randomPassword() });
    assert.equal(res.status, 422, `${why} (${JSON.stringify(username)}): ${res.text}`);
    assertProblem(res, 422, 'validation', 'username');
  }
  // Upper case is rejected, not folded: the lower-case name was not taken.
  await assertUsernameFree(`upper_${suffix}`);
});

test('create account: password length is 8..1024 bytes (UTF-8)', async () => {
  for (const password of ['12345678', 'x'.repeat(1024), 'éééé' /* 4 characters, 8 bytes */, 'é'.repeat(512)]) {
    const res = await post({ username: uniqueName('pw'), password });
    assert.equal(res.status, 201, `password of ${Buffer.byteLength(password)} bytes: ${res.text}`);
  }
  const name = uniqueName('pw');
  for (const password of ['1234567', '', 'x'.repeat(1025), 'é'.repeat(513) /* 513 characters, 1026 bytes */]) {
    const res = await post({ username: name, password });
    assert.equal(res.status, 422, `password of ${Buffer.byteLength(password)} bytes: ${res.text}`);
    assertProblem(res, 422, 'validation', 'password');
  }
  await assertUsernameFree(name);
});

test('create account: malformed JSON is 400 and writes nothing', async () => {
  const username = uniqueName('mal');
  for (const raw of [`{"username":"${username}","password":"longenough1"`, `{"username":"${username}",}`, '', 'nul', `{'username':'${username}'}`]) {
    const res = await api('POST', '/v1/accounts', { raw });
    assert.equal(res.status, 400, `${JSON.stringify(raw)}: ${res.text}`);
    assertProblem(res, 400, 'bad-request');
  }
  await assertUsernameFree(username);
});

test('create account: a body that is not a JSON object is 400', async () => {
  const username = uniqueName('arr');
  const password = randomPassword();
  for (const raw of [JSON.stringify([{ username, password }]), '"text"', '42', 'null', 'true']) {
    const res = await api('POST', '/v1/accounts', { raw });
    assert.equal(res.status, 400, `${raw.slice(0, 40)}: ${res.text}`);
    assertProblem(res, 400, 'bad-request');
  }
  await assertUsernameFree(username);
});

test('create account: wrong JSON types are 400 naming the field', async () => {
  const username = uniqueName('typ');
  const cases = [
    [{ username: 5, password: randomPassword() }, 'username'],
    [{ username: [username], password: randomPassword() }, 'username'],
    [{ username, password: 12345678 }, 'password'],
    [{ username, password: { p: 1 } }, 'password'],
    [{ username, password: randomPassword(), display_name: 42 }, 'display_name'],
    [{ username, password: randomPassword(), display_name: true }, 'display_name'],
  ];
  for (const [body, field] of cases) assertProblem(await post(body), 400, 'bad-request', field);
  await assertUsernameFree(username);
});

test('create account: missing required fields are 400 naming the field', async () => {
  const username = uniqueName('mis');
  assertProblem(await post({ username }), 400, 'bad-request', 'password');
  assertProblem(await post({ password: randomPassword() }), 400, 'bad-request', 'username');
  assertProblem(await post({}), 400, 'bad-request');
  await assertUsernameFree(username);
});

test('create account: an unknown field is 400 naming it', async () => {
  const username = uniqueName('unk');
  const res = await post({ username, password: randomPassword(), nickname: 'nick' });
  assertProblem(res, 400, 'bad-request', 'nickname');
  assertProblem(await post({ username, password: randomPassword(), is_admin: true }), 400, 'bad-request', 'is_admin');
  await assertUsernameFree(username);
});

test('create account: a duplicate key is 400 and neither value is used', async () => {
  const a = uniqueName('dka');
  const b = uniqueName('dkb');
  const raw = `{"username":"${a}","username":"${b}","password":"${randomPassword()}"}`;
  assertProblem(await api('POST', '/v1/accounts', { raw }), 400, 'bad-request');
  const raw2 = `{"username":"${a}","password":"${randomPassword()}","password":"${randomPassword()}"}`;
  assertProblem(await api('POST', '/v1/accounts', { raw: raw2 }), 400, 'bad-request');
  await assertUsernameFree(a);
  await assertUsernameFree(b);
});

test('create account: a body over 64 KiB is 413; exactly 64 KiB is accepted', async () => {
  const username = uniqueName('big');
  const json = JSON.stringify({ username, password: randomPassword() });
  // JSON whitespace pads the body to an exact size without changing its meaning.
  const padded = (size) => json.slice(0, -1) + ' '.repeat(size - json.length) + '}';
  assert.equal(Buffer.byteLength(padded(65537)), 65537);

  assertProblem(await api('POST', '/v1/accounts', { raw: padded(65537) }), 413, 'payload-too-large');
  const huge = JSON.stringify({ username, password: 'x'.repeat(200 * 1024) });
  assertProblem(await api('POST', '/v1/accounts', { raw: huge }), 413, 'payload-too-large');

  const res = await api('POST', '/v1/accounts', { raw: padded(65536) });
  assertStatus(res, 201);
  assert.equal(res.body.username, username);
});

test('create account: a Content-Type other than application/json is 415', async () => {
  const username = uniqueName('ct');
  const raw = JSON.stringify({ username, password: randomPassword() });
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx', 'multipart/form-data; boundary=x']) {
    const res = await api('POST', '/v1/accounts', { raw, headers: { 'content-type': type } });
    assert.equal(res.status, 415, `${type}: ${res.text}`);
    assertProblem(res, 415, 'unsupported-media-type');
  }
  // No Content-Type at all.
  assertProblem(await api('POST', '/v1/accounts', { raw, headers: { 'content-type': null } }), 415, 'unsupported-media-type');
  await assertUsernameFree(username);
});

test('create account: application/json with a charset parameter is accepted', async () => {
  const username = uniqueName('cs');
  const raw = JSON.stringify({ username, password: randomPassword() });
  const res = await api('POST', '/v1/accounts', { raw, headers: { 'content-type': 'application/json; charset=utf-8' } });
  assertStatus(res, 201);
});

test('create account: the password is never echoed', async () => {
  const password = randomPassword();
  const res = await post({ username: uniqueName('echo'), password });
  assertStatus(res, 201);
  assert.ok(!res.text.includes(password));
});

// POST /v1/sessions, POST /v1/sessions/refresh, DELETE /v1/sessions/current,
// and how access tokens are checked.

import test from 'node:test';
import assert from 'node:assert/strict';
import { api, assertProblem, assertStatus, createAccount, randomPassword, signup, uniqueName } from './lib/client.mjs';
import { tokenSecret } from './lib/stack.mjs';
import {
  algNoneToken,
  decodeJwt,
  expiredToken,
  forgeJwt,
  accessClaims,
  hs512Token,
  nowSeconds,
  tamperedToken,
  validToken,
  wrongKeyToken,
  wrongTypToken,
} from './lib/jwt.mjs';

const me = (token, opts = {}) => api('GET', '/v1/me', { token, ...opts });
const refresh = (refresh_token) => api('POST', '/v1/sessions/refresh', { body: { refresh_token } });

test('login: 201 Session with a working HS256 access token', async () => {
  const username = uniqueName('login');
  const password = randomPassword();
  const user = await createAccount(username, password);

  const res = await api('POST', '/v1/sessions', { body: { username, password } });
  assertStatus(res, 201);
  const s = res.body;
  assert.equal(s.token_type, 'Bearer');
  assert.deepEqual(s.user, user);
  assert.ok(s.expires_in >= 60 && s.expires_in <= 3600, `expires_in ${s.expires_in}`);
  assert.notEqual(s.refresh_token, s.access_token);

  const { header, payload } = decodeJwt(s.access_token);
  assert.equal(header.alg, 'HS256');
  assert.equal(payload.typ, 'access');
  assert.equal(payload.sub, user.id);
  assert.equal(payload.sid, s.session_id);
  assert.ok(Number.isInteger(payload.iat) && Number.isInteger(payload.exp));
  assert.ok(Math.abs(payload.exp - payload.iat - s.expires_in) <= 5, 'exp - iat matches expires_in');
  assert.ok(Math.abs(payload.iat - nowSeconds()) < 120, 'iat is about now');

  const got = await me(s.access_token);
  assertStatus(got, 200);
  assert.deepEqual(got.body, user);
});

test('login: each login opens its own session', async () => {
  const u = await signup();
  const second = await api('POST', '/v1/sessions', { body: { username: u.username, password: u.password } });
  assertStatus(second, 201);
  assert.notEqual(second.body.session_id, u.session_id);
  assert.notEqual(second.body.refresh_token, u.refresh_token);
  assertStatus(await me(u.token), 200);
  assertStatus(await me(second.body.access_token), 200);
});

test('login: wrong password and unknown user give identical 401 problems', async () => {
  const u = await signup();
  const wrong = await api('POST', '/v1/sessions', { body: { username: u.username, password: `${u.password}x` } });
  const unknown = await api('POST', '/v1/sessions', { body: { username: uniqueName('ghost'), password: u.password } });
  assertProblem(wrong, 401, 'unauthorized');
  assertProblem(unknown, 401, 'unauthorized');
  assert.deepEqual(
    { type: unknown.body.type, title: unknown.body.title, detail: unknown.body.detail, status: unknown.body.status },
    { type: wrong.body.type, title: wrong.body.title, detail: wrong.body.detail, status: wrong.body.status },
  );
  assert.deepEqual(unknown.body, wrong.body);
  // The right password still works afterwards.
  assertStatus(await api('POST', '/v1/sessions', { body: { username: u.username, password: u.password } }), 201);
});

test('login: malformed requests are 400', async () => {
  assertProblem(await api('POST', '/v1/sessions', { body: { username: 'someone' } }), 400, 'bad-request', 'password');
  assertProblem(await api('POST', '/v1/sessions', { body: { username: 5, password: 'whatever1' } }), 400, 'bad-request', 'username');
  assertProblem(await api('POST', '/v1/sessions', { body: { username: 'a', password: 'b', remember: true } }), 400, 'bad-request', 'remember');
  assertProblem(await api('POST', '/v1/sessions', { raw: '{"username":' }), 400, 'bad-request');
  assertProblem(
    await api('POST', '/v1/sessions', { raw: '{"username":"a","password":"b"}', headers: { 'content-type': 'text/plain' } }),
    415,
    'unsupported-media-type',
  );
});

test('refresh: rotates both tokens; the new ones work, in a chain', async () => {
  const u = await signup();
  let current = { access: u.token, refresh: u.refresh_token };
  const seen = new Set([current.access, current.refresh]);
  for (let i = 0; i < 3; i++) {
    const res = await refresh(current.refresh);
    assertStatus(res, 200);
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(res.body.session_id, u.session_id, 'same session');
    assert.equal(res.body.user.id, u.id);
    assert.ok(!seen.has(res.body.access_token), 'new access token differs from all earlier ones');
    assert.ok(!seen.has(res.body.refresh_token), 'new refresh token differs from all earlier ones');
    seen.add(res.body.access_token).add(res.body.refresh_token);
    assertStatus(await me(res.body.access_token), 200);
    current = { access: res.body.access_token, refresh: res.body.refresh_token };
  }
});

test('refresh: the old refresh token fails after rotation', async () => {
  const u = await signup();
  assertStatus(await refresh(u.refresh_token), 200);
  assertProblem(await refresh(u.refresh_token), 401, 'unauthorized');
});

test('refresh: reusing a used refresh token revokes the whole session', async () => {
  const u = await signup();
  const other = await signup(); // a different user's session must not be affected
  const rotated = await refresh(u.refresh_token);
  assertStatus(rotated, 200);
  const { access_token: newAccess, refresh_token: newRefresh } = rotated.body;
  assertStatus(await me(newAccess), 200);

  // Replay of the used token (as a thief would): 401 ...
  assertProblem(await refresh(u.refresh_token), 401, 'unauthorized');
  // ... and the legitimate successor is dead too ...
  assertProblem(await refresh(newRefresh), 401, 'unauthorized');
  // ... and so are the session's access tokens, old and new.
  assertProblem(await me(newAccess), 401, 'unauthorized');
  assertProblem(await me(u.token), 401, 'unauthorized');

  assertStatus(await me(other.token), 200);
  assertStatus(await refresh(other.refresh_token), 200);
  // The user can log in again.
  assertStatus(await api('POST', '/v1/sessions', { body: { username: u.username, password: u.password } }), 201);
});

test('refresh: unknown, empty-looking and malformed refresh tokens', async () => {
  assertProblem(await refresh('definitely-not-a-refresh-token'), 401, 'unauthorized');
  assertProblem(await refresh('A'.repeat(64)), 401, 'unauthorized');
  const u = await signup();
  assertProblem(await refresh(u.token), 401, 'unauthorized'); // an access token is not a refresh token
  assertProblem(await api('POST', '/v1/sessions/refresh', { body: {} }), 400, 'bad-request', 'refresh_token');
  assertProblem(await api('POST', '/v1/sessions/refresh', { body: { refresh_token: 5 } }), 400, 'bad-request', 'refresh_token');
  assertProblem(
    await api('POST', '/v1/sessions/refresh', { body: { refresh_token: u.refresh_token, extra: 1 } }),
    400,
    'bad-request',
    'extra',
  );
  // None of those used up the real token.
  assertStatus(await refresh(u.refresh_token), 200);
});

test('logout: 204, then the access and refresh tokens are 401; other sessions live on', async () => {
  const u = await signup();
  const second = await api('POST', '/v1/sessions', { body: { username: u.username, password: u.password } });
  assertStatus(second, 201);

  const res = await api('DELETE', '/v1/sessions/current', { token: u.token });
  assertStatus(res, 204);
  assert.equal(res.text, '');

  assertProblem(await me(u.token), 401, 'unauthorized');
  assertProblem(await refresh(u.refresh_token), 401, 'unauthorized');
  assertProblem(await api('DELETE', '/v1/sessions/current', { token: u.token }), 401, 'unauthorized');

  assertStatus(await me(second.body.access_token), 200);
});

test('logout: without a token is 401', async () => {
  assertProblem(await api('DELETE', '/v1/sessions/current'), 401, 'unauthorized');
});

test('tokens: a token forged with the real secret and right claims is accepted (control)', async () => {
  const u = await signup();
  assertStatus(await me(validToken(tokenSecret(), u.id, u.session_id)), 200);
});

test('tokens: expired, alg none, wrong key, wrong typ, HS512, tampered are all 401', async () => {
  const u = await signup();
  const secret = tokenSecret();
  const bad = {
    expired: expiredToken(secret, u.id, u.session_id),
    'alg none': algNoneToken(u.id, u.session_id),
    'alg none with a signature': `${algNoneToken(u.id, u.session_id)}${validToken(secret, u.id, u.session_id).split('.')[2]}`,
    'wrong key': wrongKeyToken(u.id, u.session_id),
    'typ ticket': wrongTypToken(secret, u.id, u.session_id, 'ticket'),
    'typ refresh': wrongTypToken(secret, u.id, u.session_id, 'refresh'),
    'no typ': forgeJwt({ sub: u.id, sid: u.session_id, iat: nowSeconds(), exp: nowSeconds() + 600 }, { key: secret }),
    HS512: hs512Token(secret, u.id, u.session_id),
    'tampered sub': tamperedToken(u.token, { sub: u.id + 1 }),
    'unknown session': validToken(secret, u.id, 2147483000),
    'sub as string': forgeJwt(accessClaims({ sub: String(u.id), sid: u.session_id }), { key: secret }),
    'issued in the future': forgeJwt(accessClaims({ sub: u.id, sid: u.session_id, iat: nowSeconds() + 3600 }), { key: secret }),
    'truncated signature': u.token.slice(0, -4),
    'two parts': u.token.split('.').slice(0, 2).join('.'),
  };
  for (const [why, token] of Object.entries(bad)) {
    const res = await me(token);
    assert.equal(res.status, 401, `${why}: ${res.text}`);
    assertProblem(res, 401, 'unauthorized');
  }
  // The real token still works after all that.
  assertStatus(await me(u.token), 200);
});

test('tokens: malformed Authorization headers are 401 with WWW-Authenticate: Bearer', async () => {
  const u = await signup();
  const headers = [
    'Bearer abc',
    'Bearer ',
    'Bearer',
    `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`,
    u.token, // no scheme
    `Bearer ${u.token} extra`,
    `Token ${u.token}`,
  ];
  for (const authorization of headers) {
    const res = await me(undefined, { headers: { authorization } });
    assert.equal(res.status, 401, `${JSON.stringify(authorization.slice(0, 30))}: ${res.text}`);
    assertProblem(res, 401, 'unauthorized');
  }
});

test('tokens: no Authorization header is 401 with WWW-Authenticate: Bearer', async () => {
  for (const [method, path, body] of [
    ['GET', '/v1/me'],
    ['PATCH', '/v1/me', { display_name: 'x' }],
    ['GET', '/v1/users'],
    ['GET', '/v1/users/1'],
    ['DELETE', '/v1/sessions/current'],
  ]) {
    const res = await api(method, path, { body });
    assertProblem(res, 401, 'unauthorized');
    assert.match(res.headers.get('www-authenticate'), /^Bearer/);
  }
});

// Rate limits: the per-username sign-in limit (brute force) at its default.
// (The per-address and send limits are switched off for this suite by run.sh,
// which signs up hundreds of users from one address; typing's limit is tested
// in live.test.mjs and the limiter itself in tests/unit/test_ratelimit.c.)

import test from 'node:test';
import assert from 'node:assert/strict';
import { api, assertProblem, assertStatus, signup } from './lib/client.mjs';

test('ten wrong passwords a minute for one username, then 429 with Retry-After; nothing else is touched', async () => {
  const alice = await signup();
  const bob = await signup();
  // signup() already signed Alice in once: nine more attempts fill her bucket.
  for (let i = 0; i < 9; i++) {
    const res = await api('POST', '/v1/sessions', { body: { username: alice.username, password: 'wrong password' } });
    assertProblem(res, 401, 'unauthorized');
  }
  const limited = await api('POST', '/v1/sessions', { body: { username: alice.username, password: alice.password } });
  assertProblem(limited, 429, 'rate-limited');
  const wait = Number(limited.headers.get('retry-after'));
  assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
  assert.match(limited.headers.get('ratelimit-policy') ?? '', /^10;w=60$/);
  // The limit is per username: Bob signs in, and Alice's existing session still works.
  assertStatus(await api('POST', '/v1/sessions', { body: { username: bob.username, password: bob.password } }), 201);
  assertStatus(await api('GET', '/v1/me', { token: alice.token }), 200);
});

// Security headers and the default CORS policy (closed).

import test from 'node:test';
import assert from 'node:assert/strict';
import { api, signup } from './lib/client.mjs';
import { loadStack } from './lib/stack.mjs';

test('the web client is served with a strict CSP and the usual security headers', async () => {
  const res = await fetch(new URL('/', loadStack().MISSIVE_URL));
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'(;|$)/, 'no inline or remote scripts');
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(res.headers.get('x-frame-options'), 'DENY');
  await res.arrayBuffer();
});

test('CORS is closed by default: no Allow-Origin for a foreign origin, preflight refused', async () => {
  const alice = await signup();
  const res = await api('GET', '/v1/me', { token: alice.token, headers: { origin: 'https://evil.example' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), null);
  const pre = await fetch(new URL('/v1/me', loadStack().MISSIVE_URL), {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
  });
  assert.equal(pre.headers.get('access-control-allow-origin'), null);
  assert.notEqual(pre.status, 204);
  await pre.arrayBuffer();
});

test('API answers are never cached and carry nosniff', async () => {
  const res = await api('GET', '/healthz');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
});

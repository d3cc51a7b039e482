// /healthz, /metrics, unknown routes, wrong methods, X-Request-Id.

import test from 'node:test';
import assert from 'node:assert/strict';
import { api, assertProblem, assertStatus, signup } from './lib/client.mjs';
import { parsePrometheus, findSamples, sumSamples } from './lib/prom.mjs';

async function metrics() {
  const res = await api('GET', '/metrics');
  assertStatus(res, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain;\s*version=0\.0\.4/);
  return parsePrometheus(res.text);
}

test('GET /healthz: 200 ok with the database check, no auth needed', async () => {
  const res = await api('GET', '/healthz');
  assertStatus(res, 200);
  assert.deepEqual(res.body, { status: 'ok', checks: { database: 'ok' } });
});

test('GET /metrics: request counter per route template, method and status', async () => {
  const u = await signup();
  const other = await signup();
  const meLabels = { route: '/v1/me', method: 'GET', status: '200' };
  const userLabels = { route: '/v1/users/{id}', method: 'GET', status: '200' };
  const missLabels = { route: '/v1/users/{id}', method: 'GET', status: '404' };
  const before = await metrics();
  assert.equal(before.types.missive_http_requests_total, 'counter');

  for (let i = 0; i < 3; i++) assertStatus(await api('GET', '/v1/me', { token: u.token }), 200);
  assertStatus(await api('GET', `/v1/users/${other.id}`, { token: u.token }), 200);
  assertStatus(await api('GET', `/v1/users/${u.id}`, { token: u.token }), 200);
  assertProblem(await api('GET', '/v1/users/2147483001', { token: u.token }), 404, 'not-found');

  const after = await metrics();
  const delta = (labels) => sumSamples(after, 'missive_http_requests_total', labels) - sumSamples(before, 'missive_http_requests_total', labels);
  assert.ok(findSamples(after, 'missive_http_requests_total', meLabels).length >= 1, 'a series for GET /v1/me 200');
  assert.ok(delta(meLabels) >= 3, `GET /v1/me 200 went up by ${delta(meLabels)}, expected >= 3`);
  assert.ok(delta(userLabels) >= 2, `route label is the template /v1/users/{id}: went up by ${delta(userLabels)}`);
  assert.ok(delta(missLabels) >= 1, 'the 404 is counted under its own status');
  // No series per concrete id (unbounded cardinality).
  const routes = new Set(after.samples.filter((s) => s.name === 'missive_http_requests_total').map((s) => s.labels.route));
  assert.ok(![...routes].some((r) => /\/v1\/users\/\d+/.test(r)), `concrete ids in route labels: ${[...routes].join(' ')}`);
});

test('GET /metrics: request duration histogram with buckets, sum and count', async () => {
  const u = await signup();
  assertStatus(await api('GET', '/v1/me', { token: u.token }), 200);
  const m = await metrics();
  const name = 'missive_http_request_duration_seconds';
  assert.equal(m.types[name], 'histogram');
  const buckets = findSamples(m, `${name}_bucket`);
  assert.ok(buckets.length > 0, 'has _bucket samples');
  assert.ok(findSamples(m, `${name}_sum`).length > 0, 'has _sum');
  assert.ok(findSamples(m, `${name}_count`).length > 0, 'has _count');

  // Per series: buckets are cumulative and the +Inf bucket equals _count.
  const key = (labels) => JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());
  const series = new Map();
  for (const b of buckets) {
    assert.ok('le' in b.labels, 'every bucket has an le label');
    if (!series.has(key(b.labels))) series.set(key(b.labels), []);
    series.get(key(b.labels)).push(b);
  }
  for (const [k, list] of series) {
    const sorted = list.map((b) => ({ le: b.labels.le === '+Inf' ? Infinity : Number(b.labels.le), v: b.value })).sort((a, b) => a.le - b.le);
    assert.equal(sorted.at(-1).le, Infinity, `series ${k} has a +Inf bucket`);
    for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i].v >= sorted[i - 1].v, `series ${k}: buckets are cumulative`);
    const labels = Object.fromEntries(JSON.parse(k));
    const count = findSamples(m, `${name}_count`, labels).find((s) => Object.keys(s.labels).length === Object.keys(labels).length);
    assert.ok(count, `series ${k} has a _count`);
    assert.equal(sorted.at(-1).v, count.value, `series ${k}: +Inf bucket equals _count`);
  }
});

test('unknown route under /v1 is a 404 problem', async () => {
  const u = await signup();
  for (const [method, path] of [['GET', '/v1/nope'], ['POST', '/v1/nope'], ['GET', '/v1/users/1/extra'], ['GET', '/v1/']]) {
    const res = await api(method, path, { token: u.token, undocumented: true, body: method === 'POST' ? {} : undefined });
    assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
    assertProblem(res, 404, 'not-found');
  }
  // Without a token too: an unknown route is not an auth question.
  assertProblem(await api('GET', '/v1/nope', { undocumented: true }), 404, 'not-found');
});

test('a known path with the wrong method is 405 with Allow', async () => {
  const u = await signup();
  const cases = [
    ['PUT', '/v1/me', ['GET', 'PATCH']],
    ['DELETE', '/v1/me', ['GET', 'PATCH']],
    ['GET', '/v1/accounts', ['POST']],
    ['GET', '/v1/sessions/current', ['DELETE']],
    ['POST', '/v1/users', ['GET']],
    ['DELETE', `/v1/users/${u.id}`, ['GET']],
  ];
  for (const [method, path, allowed] of cases) {
    const res = await api(method, path, { token: u.token, body: method === 'GET' || method === 'DELETE' ? undefined : {} });
    assert.equal(res.status, 405, `${method} ${path}: ${res.text}`);
    assertProblem(res, 405, 'method-not-allowed');
    const allow = res.headers.get('allow').split(',').map((s) => s.trim());
    for (const a of allowed) assert.ok(allow.includes(a), `${method} ${path}: Allow ${allow} lacks ${a}`);
  }
  // The refused request did nothing.
  assertStatus(await api('GET', '/v1/me', { token: u.token }), 200);
});

test('every response carries a distinct X-Request-Id', async () => {
  const seen = new Set();
  const u = await signup();
  const responses = [
    await api('GET', '/healthz'),
    await api('GET', '/healthz'),
    await api('GET', '/v1/me', { token: u.token }),
    await api('GET', '/v1/me'),
    await api('GET', '/v1/nope', { undocumented: true }),
    await api('PUT', '/v1/me', { token: u.token, body: {} }),
    await api('POST', '/v1/accounts', { raw: '{' }),
    await api('GET', '/metrics'),
  ];
  for (const res of responses) {
    const id = res.headers.get('x-request-id');
    assert.ok(id && id.length > 0, `${res.method} ${res.path} has X-Request-Id`);
    assert.ok(!seen.has(id), `${res.method} ${res.path}: X-Request-Id ${id} repeated`);
    seen.add(id);
  }
});

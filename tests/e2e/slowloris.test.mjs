// Slow clients (issue #9): a few hundred connections that never finish their
// request must not starve anyone else, and must not stay for ever.
//
// Held at once, all on loopback:
//   - to missive-sse directly: 150 that trickle a request header one byte a second,
//     50 that connect and say nothing;
//   - to nginx: 150 that trickle a request header one byte a second, 100 that send a
//     whole header for a POST to the API and then trickle its body one byte a second
//     (more than missive-api has FastCGI threads: nginx buffers request bodies, so
//     none of them may hold a thread).
// While they are held, ordinary traffic must work as usual: REST through nginx
// (FastCGI), a send, a long-poll, a new stream through nginx and one straight to
// missive-sse. Then the bounds: missive-sse closes every connection that has not
// sent a whole request within sse_request_timeout (15 s by default), nginx closes
// header tricklers after client_header_timeout (15 s), and the streams opened
// meanwhile are untouched. The slow bodies nginx keeps (client_body_timeout counts
// between reads) are closed by the test at the end.

import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { api, assertStatus, signup } from './lib/client.mjs';
import { activeDirect, sendOk } from './lib/chat.mjs';
import { parsePrometheus, sumSamples } from './lib/prom.mjs';
import { loadStack } from './lib/stack.mjs';
import { openStream, sleep } from './lib/stream.mjs';

const SSE_TRICKLE = 150;
const SSE_SILENT = 50;
const NGINX_TRICKLE = 150;
const NGINX_BODY = 100;
// missive-sse's sse_request_timeout (the e2e stack keeps the default unless told)
const SSE_REQUEST_TIMEOUT = Number(process.env.MISSIVE_SSE_REQUEST_TIMEOUT ?? 15);
const NGINX_HEADER_TIMEOUT = 15; // client_header_timeout in deploy/nginx.conf.template
const SLACK_MS = 12_000; // beyond a timeout before a connection still open fails the test
const PROMPT_MS = 10_000; // "promptly": generous, this is not a benchmark

/** Opens one raw connection; resolves once connected. Tracks when it closes. */
function rawConn(host, port, first) {
  return new Promise((resolve, reject) => {
    const c = { closedAt: null, sock: null, bytes: 0 };
    const sock = net.connect({ host, port }, () => {
      if (first) sock.write(first);
      resolve(c);
    });
    c.sock = sock;
    sock.setNoDelay(true);
    sock.on('data', (d) => { c.bytes += d.length; });
    sock.on('error', (e) => { if (!c.sock.connecting) return; reject(e); });
    sock.on('close', () => { c.closedAt = Date.now(); });
  });
}

async function openMany(n, host, port, first) {
  const out = [];
  for (let i = 0; i < n; i += 50) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => rawConn(host, port, first)))));
  }
  return out;
}

const openCount = (conns) => conns.filter((c) => c.closedAt === null).length;

async function sseMetric(name) {
  const res = await fetch(new URL('/metrics', loadStack().MISSIVE_SSE_URL), { signal: AbortSignal.timeout(PROMPT_MS) });
  assert.equal(res.status, 200);
  return sumSamples(parsePrometheus(await res.text()), name);
}

/** A stream straight to missive-sse (bearer); resolves once "stream.ready" arrived. */
async function directStream(token) {
  const ctl = new AbortController();
  const res = await fetch(new URL('/v1/stream', loadStack().MISSIVE_SSE_URL), {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    signal: ctl.signal,
  });
  assert.equal(res.status, 200, 'a new stream straight to missive-sse opens');
  const s = { text: '', ended: false, close: () => ctl.abort() };
  const reader = res.body.getReader();
  (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        s.text += Buffer.from(value).toString('utf8');
      }
    } catch { /* aborted */ }
    s.ended = true;
  })();
  const until = Date.now() + PROMPT_MS;
  while (!s.text.includes('event: stream.ready')) {
    assert.ok(!s.ended && Date.now() < until, `stream.ready on the direct stream; got ${JSON.stringify(s.text.slice(0, 300))}`);
    await sleep(20);
  }
  return s;
}

/** Ordinary traffic; each step must answer within PROMPT_MS. Returns the timings (ms). */
async function ordinaryTraffic(a, b, conv, label) {
  const took = {};
  const time = async (name, fn) => {
    const t0 = Date.now();
    const v = await fn();
    took[name] = Date.now() - t0;
    assert.ok(took[name] < PROMPT_MS, `${label}: ${name} took ${took[name]} ms`);
    return v;
  };
  await time('healthz', async () => assertStatus(await api('GET', '/healthz', { timeoutMs: PROMPT_MS }), 200));
  await time('me', async () => assertStatus(await api('GET', '/v1/me', { token: a.token, timeoutMs: PROMPT_MS }), 200));
  const stream = await time('stream via nginx', async () => {
    const s = openStream({ token: b.token });
    await s.waitFor((e) => e.type === 'stream.ready', PROMPT_MS);
    return s;
  });
  const msg = await time('send', () => sendOk(a, conv, `slowloris ${label}`));
  await time('delivered', () => stream.waitFor((e) => e.type === 'message.created' && e.data.data.seq === msg.seq, PROMPT_MS));
  await time('long-poll', async () => {
    const res = await api('GET', `/v1/events?cursor=0&limit=1&timeout=1`, { token: a.token, timeoutMs: PROMPT_MS });
    assertStatus(res, 200);
  });
  const direct = await time('stream direct', () => directStream(a.token));
  return { took, stream, direct };
}

test('slow clients hold no thread and no stream slot, and are closed after the request timeouts', { timeout: 90_000 }, async (t) => {
  const stack = loadStack();
  const sse = new URL(stack.MISSIVE_SSE_URL);
  const web = new URL(stack.MISSIVE_URL);
  const a = await signup();
  const b = await signup();
  const conv = await activeDirect(a, b);
  const timeoutsBefore = await sseMetric('missive_sse_request_timeouts_total');

  const opened = Date.now();
  const trickleHead = 'GET /v1/stream HTTP/1.1\r\nHost: slow\r\nX-Slow: ';
  const conns = {
    sseTrickle: await openMany(SSE_TRICKLE, sse.hostname, Number(sse.port), trickleHead),
    sseSilent: await openMany(SSE_SILENT, sse.hostname, Number(sse.port), null),
    nginxTrickle: await openMany(NGINX_TRICKLE, web.hostname, Number(web.port), trickleHead),
    nginxBody: await openMany(NGINX_BODY, web.hostname, Number(web.port),
      `POST /v1/conversations/${conv}/messages HTTP/1.1\r\nHost: ${web.host}\r\n` +
      `Authorization: Bearer ${a.token}\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{`),
  };
  const all = Object.values(conns).flat();
  t.after(() => { for (const c of all) c.sock.destroy(); });
  // one more byte a second on every trickling connection
  const trickling = [...conns.sseTrickle, ...conns.nginxTrickle, ...conns.nginxBody];
  const timer = setInterval(() => {
    for (const c of trickling) if (c.closedAt === null && !c.sock.destroyed) c.sock.write('a');
  }, 1000);
  t.after(() => clearInterval(timer));
  const openedIn = Date.now() - opened;

  // while they are all held: ordinary traffic, right away and again 8 s later
  await sleep(1500);
  for (const [k, v] of Object.entries(conns)) assert.equal(openCount(v), v.length, `${k}: all still open before the checks`);
  const first = await ordinaryTraffic(a, b, conv, 'while held');
  await sleep(Math.max(0, opened + 9000 - Date.now()));
  const second = await ordinaryTraffic(a, b, conv, 'still held');
  const bodiesHeld = openCount(conns.nginxBody);

  // the bounds: every slow header (and silent connection) is closed after its timeout
  const deadline = (secs) => opened + secs * 1000 + SLACK_MS;
  const sseSlow = [...conns.sseTrickle, ...conns.sseSilent];
  while ((openCount(sseSlow) > 0 && Date.now() < deadline(SSE_REQUEST_TIMEOUT)) ||
         (openCount(conns.nginxTrickle) > 0 && Date.now() < deadline(NGINX_HEADER_TIMEOUT))) {
    await sleep(100);
  }
  const closedAfter = (list) => {
    const s = list.filter((c) => c.closedAt !== null).map((c) => (c.closedAt - opened) / 1000);
    return s.length ? `${Math.min(...s).toFixed(1)}..${Math.max(...s).toFixed(1)} s` : 'never';
  };
  const timeoutsAfter = await sseMetric('missive_sse_request_timeouts_total');

  t.diagnostic(`held ${all.length} slow connections (opened in ${openedIn} ms): missive-sse ${SSE_TRICKLE} trickling + ${SSE_SILENT} silent, ` +
    `nginx ${NGINX_TRICKLE} trickling headers + ${NGINX_BODY} trickling bodies`);
  t.diagnostic(`ordinary traffic meanwhile (ms): ${JSON.stringify(first.took)}; again: ${JSON.stringify(second.took)}`);
  t.diagnostic(`closed by missive-sse after ${closedAfter(sseSlow)} (sse_request_timeout ${SSE_REQUEST_TIMEOUT} s, ` +
    `request_timeouts_total +${timeoutsAfter - timeoutsBefore}); by nginx after ${closedAfter(conns.nginxTrickle)}; ` +
    `slow bodies still held by nginx: ${openCount(conns.nginxBody)}/${NGINX_BODY}`);

  assert.equal(openCount(sseSlow), 0, `missive-sse closed every slow or silent connection (closed after ${closedAfter(sseSlow)})`);
  assert.equal(openCount(conns.nginxTrickle), 0, `nginx closed every trickling header (closed after ${closedAfter(conns.nginxTrickle)})`);
  assert.ok(timeoutsAfter - timeoutsBefore >= sseSlow.length, `missive_sse_request_timeouts_total counted them: +${timeoutsAfter - timeoutsBefore}`);
  for (const c of sseSlow) assert.ok(c.closedAt - opened >= (SSE_REQUEST_TIMEOUT - 1) * 1000, 'not closed before the timeout');
  assert.equal(bodiesHeld, NGINX_BODY, 'slow bodies are held by nginx (no answer: they never reached missive-api)');
  for (const c of conns.nginxBody) assert.equal(c.bytes, 0, 'no answer to a request whose body never ended');

  // the streams opened meanwhile outlived the timeouts, never reconnecting
  for (const { stream, direct } of [first, second]) {
    assert.equal(stream.opens, 1, 'the stream through nginx did not have to reconnect');
    assert.equal(stream.of('stream.ended').length, 0, 'the stream through nginx was not ended');
    assert.equal(direct.ended, false, 'the direct stream is still open');
    stream.close();
    direct.close();
  }
  // and ordinary traffic still works now that the slow ones are gone
  await ordinaryTraffic(a, b, conv, 'after').then(({ stream, direct }) => { stream.close(); direct.close(); });
});

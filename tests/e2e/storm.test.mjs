// A client reconnect storm (issue #9): 5,000 streams, spread over 250 users in
// direct pairs, all live on missive-sse while messages flow; then every stream
// drops once, the drops spread over 5 s, and each reconnects with Last-Event-ID
// while the messages keep coming. Every stream must come back, and every message
// must reach every stream of both members exactly once: nothing sent while a
// stream was away may be lost, nothing seen before the drop may come twice.
//
// Each pair gets the same share of the messages (round robin, a random side
// sends), so every stream has some to lose. The load is bench/sse_load.c in its
// `storm` mode (built here with `make build/bench/sse_load`): streams go straight
// to missive-sse (as in bench/bench-sse.sh), sends go through nginx. The test prints how long the storm
// took (first drop -> every stream live again, and -> every missed message
// replayed) but asserts no timing: the deadlines below are only there so a hang
// fails instead of blocking the suite.
//
// The users are made in SQL (one statement) with sessions, and their access
// tokens are signed here with the stack's key: 250 sign-ups and sign-ins would
// cost 500 Argon2 runs, the better part of a minute on two shared cores. The
// conversations are made through the API by sse_load.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { signup } from './lib/client.mjs';
import { sql } from './lib/db.mjs';
import { validToken } from './lib/jwt.mjs';
import { loadStack, tokenSecret } from './lib/stack.mjs';

const REPO = new URL('../../', import.meta.url).pathname;
const TOOL = join(REPO, 'build/bench/sse_load');

const STREAMS = 5000;
const USERS = 250; // 20 streams each, in 125 direct pairs
const RATE = 50; // messages per second, from before the storm until after it
const STORM_AFTER = 2; // seconds of sending before the first drop
const STORM_WINDOW = 5; // every stream drops once within this many seconds
const DURATION = 15; // seconds of sending in all
const GAP_MS = 250; // a dropped stream reconnects this long after its drop

/** key=value fields of the first output line starting with `name ` (numbers where numeric). */
function fields(out, name) {
  const line = out.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `sse_load printed no "${name}" line:\n${out}`);
  const f = {};
  for (const kv of line.split(' ').slice(1)) {
    const i = kv.indexOf('=');
    if (i <= 0) continue;
    const v = kv.slice(i + 1);
    f[kv.slice(0, i)] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  }
  return f;
}

/** Runs the tool; resolves {code, signal, out} (stdout); stderr (progress) is kept for failures. */
function run(args, limitMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(TOOL, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
  });
}

test('reconnect storm: 5,000 streams drop and resume with Last-Event-ID, none lose or repeat an event', { timeout: 240_000 }, async (t) => {
  const stack = loadStack();
  execFileSync('make', ['-s', '-C', REPO, 'build/bench/sse_load'], { stdio: ['ignore', 'inherit', 'inherit'] });

  // missive-sse: host:port/pid (the pid lets the tool count its open files)
  const sse = new URL(stack.MISSIVE_SSE_URL);
  let target = `${sse.hostname}:${sse.port}`;
  try {
    const pid = readFileSync(join(stack.MISSIVE_DIR, 'run/sse.pid'), 'utf8').trim();
    if (/^\d+$/.test(pid)) target += `/${pid}`;
  } catch { /* no pid: no file count */ }

  // Users and sessions in one statement; the password hash is a real one (never used).
  const base = await signup();
  const tag = randomBytes(4).toString('hex');
  const rows = sql(`
    WITH u AS (
      INSERT INTO users (username, display_name, password_hash)
      SELECT 'storm_${tag}_' || g, 'Storm ' || g, (SELECT password_hash FROM users WHERE id = ${Number(base.id)})
      FROM generate_series(1, ${USERS}) g RETURNING id),
    s AS (
      INSERT INTO sessions (user_id, expires_at, user_agent)
      SELECT id, now() + interval '1 hour', 'storm.test.mjs' FROM u RETURNING id, user_id)
    SELECT user_id, id FROM s ORDER BY user_id`).split('\n');
  assert.equal(rows.length, USERS, 'one session per user');
  const secret = tokenSecret();
  const dir = mkdtempSync(join(tmpdir(), 'missive-storm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const usersFile = join(dir, 'users');
  writeFileSync(usersFile, rows.map((r) => {
    const [uid, sid] = r.split('|').map(Number);
    return `${uid} ${validToken(secret, uid, sid)}\n`;
  }).join(''));

  const args = [
    'storm', '--api', stack.MISSIVE_URL, '--sse', target, '--users-file', usersFile,
    '--streams', String(STREAMS), '--rate', String(RATE), '--duration', String(DURATION),
    '--storm-after', String(STORM_AFTER), '--storm-window', String(STORM_WINDOW), '--gap-ms', String(GAP_MS),
    // generous bounds, for the sanitizer build on a busy machine
    '--handshake-timeout', '60', '--open-timeout', '90', '--settle', '20', '--drain', '90', '--max-time', '220',
  ];
  const started = Date.now();
  const r = await run(args, 230_000);
  const wall = ((Date.now() - started) / 1000).toFixed(1);
  const detail = `sse_load ${args.join(' ')}\nexit ${r.code ?? r.signal}\n--- stdout\n${r.out}\n--- stderr (tail)\n${r.err.split('\n').slice(-30).join('\n')}`;
  assert.equal(r.code, 0, `sse_load failed:\n${detail}`);

  const open = fields(r.out, 'open');
  const send = fields(r.out, 'send');
  const storm = fields(r.out, 'storm');
  const deliver = fields(r.out, 'deliver');
  const gap = fields(r.out, 'gap');
  const per = fields(r.out, 'per_stream');
  const counters = fields(r.out, 'streams');

  const report = [
    `storm: ${STREAMS} streams (${USERS} users) dropped within ${storm.drop_window_s} s (gap ${GAP_MS} ms), ` +
      `all live again ${storm.all_live_s} s after the first drop, caught up after ${storm.caught_up_s} s`,
    `  resumed ${storm.resumed_streams}/${STREAMS}, reconnect -> 200 p50 ${storm.p50} p99 ${storm.p99} max ${storm.max}; ` +
      `drop -> 200 p50 ${storm.gap_p50} max ${storm.gap_max}; handshake timeouts ${storm.timeouts}`,
    `  messages: ${send.ok}/${send.planned} sent at ${send.rate}; deliveries ${deliver.delivered}/${deliver.expected} ` +
      `(lost ${deliver.lost}, dup ${deliver.dup}), sent while away ${gap.delivered}/${gap.expected} (lost ${gap.lost})`,
    `  per stream: ${per.with_loss} with a loss, ${per.with_dup} with a duplicate, delivered ${per.delivered_min}..${per.delivered_max}; ` +
      `first open ${open.open_s} s; tool wall ${wall} s`,
  ];
  for (const line of report) t.diagnostic(line);

  assert.equal(open.open, STREAMS, `every stream opened first:\n${detail}`);
  assert.ok(send.ok > 0, `messages were sent:\n${detail}`);
  assert.equal(storm.dropped + storm.skipped, STREAMS, `every stream was due to drop once:\n${detail}`);
  assert.equal(storm.resumed_streams, storm.dropped, `every dropped stream resumed:\n${detail}`);
  assert.equal(storm.still_down, 0, `no stream is left down:\n${detail}`);
  assert.equal(storm.given_up, 0, `no stream was given up on:\n${detail}`);
  assert.equal(counters.up_now, STREAMS, `all ${STREAMS} streams live at the end:\n${detail}`);
  assert.ok(storm.all_live_s >= 0, `the storm ended:\n${detail}`);
  assert.ok(gap.expected > 0, `some messages were sent while streams were away:\n${detail}`);
  assert.equal(deliver.lost, 0, `no delivery lost:\n${detail}`);
  assert.equal(gap.lost, 0, `nothing sent while a stream was away was lost:\n${detail}`);
  assert.equal(deliver.dup, 0, `no delivery doubled:\n${detail}`);
  assert.equal(deliver.misdelivered, 0, `no delivery to a non-member:\n${detail}`);
  assert.equal(deliver.out_of_order, 0, `event ids only go up on each stream:\n${detail}`);
  assert.equal(deliver.overflow, 0, `the tool logged every delivery:\n${detail}`);
  assert.equal(per.with_loss, 0, `no stream missed a message:\n${detail}`);
  assert.equal(per.with_dup, 0, `no stream saw a message twice:\n${detail}`);
  assert.equal(counters.protocol_errors, 0, `well-formed event streams:\n${detail}`);
  assert.equal(counters.unavailable, 0, `no stream ended "unavailable":\n${detail}`);
});

// Failures under load (issue #9): PostgreSQL crash-restarted, then missive-api,
// missive-sse and missive-worker each killed with SIGKILL and restarted, while
// five senders keep sending and every member follows its stream. Real stack.
//
// Each scenario, on fresh users and conversations:
//   - a group (three senders and a watcher who only reads) and a direct pair
//     (both send): ~30-40 sends/s in all, each send a fresh client_msg_id;
//   - every member holds one EventSource (bearer, so it reconnects by itself with
//     Last-Event-ID); when the stream fails for good (a non-200 answer while a
//     component is down) the client opens a new one from its last event id, as an
//     app would;
//   - every member posts read marks for what its stream showed (the receipts job);
//   - GET /healthz every 50 ms times the outage as clients see it;
//   - a send that fails (503, nginx's 502, a transport error or the client's
//     timeout) is retried with the same client_msg_id until it is acknowledged, so
//     the set of messages is exactly the acknowledged ones (a 200 on a retry means
//     an earlier attempt was stored and its answer lost).
// After the fault and some more load: every member's stream holds every message of
// its conversations exactly once and in order (lost = 0, duplicated = 0), the
// history holds exactly the acknowledged messages with their acknowledged seqs,
// gap-free, read marks are all applied (GET conversation, receipt events), and no
// request waited past its client timeout. Each scenario prints its numbers.

import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { api, signup } from './lib/client.mjs';
import { checkResponse } from './lib/contract.mjs';
import { activeDirect, eventCursor, group, history, sendOk } from './lib/chat.mjs';
import { stackCommand } from './lib/stack.mjs';
import { openStream, sleep } from './lib/stream.mjs';

const REQUEST_TIMEOUT_MS = 10000; // a request slower than this counts as a hang
const SEND_PAUSE_MS = 100; // per sender, between acknowledged sends
const MARK_EVERY_MS = 250;
const PROBE_EVERY_MS = 50;
const WARMUP_SENDS = 40; // acknowledged sends before the fault
const AFTER_SENDS = 40; // acknowledged sends after recovery, before the load stops

// ---------------------------------------------------------------- helpers

/** Polls fn until it returns a truthy value; throws `what` after ms. */
async function until(fn, ms, what, every = 25) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

// A process killed with SIGKILL can linger a moment (the sandbox's init reaps
// late); a start that races it is retried, as a supervisor would.
async function startAgain(name) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await stackCommand('start-one', name);
    } catch (e) {
      if (attempt >= 3) throw e;
      await sleep(1000);
    }
  }
}

/**
 * One request with a client timeout. Never throws for the failures a crash may
 * cause; answers other than nginx's own 502/504 pages are checked against
 * openapi.yaml (a violation is recorded, and the request counts as failed).
 * -> { ok, outcome: '201' | '503' | '502' | 'timeout' | 'transport' | 'contract', res, t0, t1 }
 */
async function call(sc, what, method, path, { token, body, okStatus }) {
  const t0 = Date.now();
  let res;
  try {
    res = await api(method, path, { token, body, timeoutMs: REQUEST_TIMEOUT_MS, contract: false });
  } catch (e) {
    const timeout = e.cause?.name === 'TimeoutError' || e.cause?.name === 'AbortError';
    const r = { ok: false, outcome: timeout ? 'timeout' : 'transport', detail: e.message, t0, t1: Date.now(), what };
    sc.timeline.push(r);
    return r;
  }
  const t1 = Date.now();
  let outcome = String(res.status);
  const gateway = (res.status === 502 || res.status === 504) && !/json/.test(res.contentType ?? '');
  if (!gateway) {
    try {
      checkResponse(method, path, res);
    } catch (e) {
      sc.violations.push(`${method} ${path} -> ${res.status}: ${e.message}`);
      outcome = 'contract';
    }
  }
  // 503 from the API is problem+json (the contract says so for every route but
  // /healthz, whose 503 is its own JSON status document).
  if (res.status === 503 && path !== '/healthz' && res.contentType !== 'application/problem+json') outcome = 'contract';
  const r = { ok: okStatus.includes(res.status) && outcome !== 'contract', outcome, res, t0, t1, what };
  sc.timeline.push(r);
  return r;
}

/**
 * A member's device: one stream at a time, each opened from the last event id the
 * device holds. The EventSource reconnects by itself after a dropped connection;
 * after a non-200 answer it gives up (the WHATWG rule), and then the device opens
 * a new one, as the web client (web/js/stream.js) does on any error.
 */
function device(label, user, convs, cursor) {
  const d = {
    label, user, convs, cursor, parts: [], closed: false, downSince: null,
    gaps: [], errorCodes: [], arrivals: [], receipts: [], reopened: 0, marksAcked: 0,
  };
  const resumeFrom = () => {
    for (let i = d.parts.length - 1; i >= 0; i--) if (d.parts[i].lastId != null) return d.parts[i].lastId;
    return d.cursor;
  };
  const open = () => {
    const s = openStream({ token: user.token, lastEventId: resumeFrom() });
    s.es.addEventListener('open', () => {
      if (d.downSince !== null) d.gaps.push(Date.now() - d.downSince);
      d.downSince = null;
    });
    s.es.addEventListener('error', (e) => {
      if (d.downSince === null) d.downSince = Date.now();
      if (e.code) d.errorCodes.push(e.code);
    });
    s.es.addEventListener('message.created', () => d.arrivals.push(Date.now()));
    s.es.addEventListener('receipt', (e) => d.receipts.push({ t: Date.now(), user: JSON.parse(e.data).data.user_id }));
    d.parts.push(s);
    d.cur = s;
  };
  open();
  d.timer = setInterval(() => {
    if (!d.closed && d.cur.es.readyState === 2 /* CLOSED */) {
      d.reopened++;
      open();
    }
  }, 250);
  d.timer.unref();
  /** Drops the current connection and opens a new one from the last event id. */
  d.bounce = () => {
    if (d.downSince === null) d.downSince = Date.now();
    d.cur.close();
    d.reopened++;
    open();
  };
  d.events = () => d.parts.flatMap((p) => p.events);
  d.opens = () => d.parts.reduce((n, p) => n + p.opens, 0);
  d.created = (conv) => d.events().filter((e) => e.type === 'message.created' && e.data.conversation_id === conv);
  d.maxSeq = (conv) => d.created(conv).reduce((m, e) => Math.max(m, e.data.data.seq), 0);
  d.close = () => {
    d.closed = true;
    clearInterval(d.timer);
    for (const p of d.parts) p.close();
  };
  return d;
}

function summarizeFailures(list) {
  const by = {};
  for (const f of list) by[f.outcome] = (by[f.outcome] ?? 0) + 1;
  return by;
}

/** Client-seen API outage: first failed request -> first success begun after the last failure. */
function apiOutage(timeline) {
  const fails = timeline.filter((e) => !e.ok);
  if (!fails.length) return 0;
  const first = Math.min(...fails.map((e) => e.t0));
  const last = Math.max(...fails.map((e) => e.t0));
  const back = timeline.filter((e) => e.ok && e.t0 >= last).map((e) => e.t1);
  return back.length ? Math.min(...back) - first : Infinity;
}

/**
 * Largest gap between consecutive timestamps from `from` on, up to the first one
 * after `to` (a stall that lasts past the end of the load counts in full), or, with
 * endAtTo, up to `to` itself (for what stops coming when the load stops).
 */
function maxGap(times, from, to, endAtTo = false) {
  const ts = times.filter((t) => t >= from).sort((a, b) => a - b);
  const cut = ts.findIndex((t) => t > to);
  const upto = cut < 0 ? ts : endAtTo ? [...ts.slice(0, cut), to] : ts.slice(0, cut + 1);
  let gap = 0;
  for (let i = 1; i < upto.length; i++) gap = Math.max(gap, upto[i] - upto[i - 1]);
  return gap;
}

const results = [];
const running = new Set(); // scenarios whose load runs: stopped when the file ends, whatever happened
after(() => {
  for (const sc of running) {
    sc.sending = sc.marking = sc.probing = false;
    for (const d of sc.devices ?? []) d.close();
  }
  if (!results.length) return;
  console.log('\nfailures.test.mjs: per scenario (issue #9)');
  console.table(results);
});

// ---------------------------------------------------------------- one scenario

/**
 * Runs the load, calls fault(sc) (which injects the failure and returns once the
 * component is back), keeps the load up a while longer, stops it and checks.
 * allowed: the failure outcomes a request may see during this fault; streamCodes:
 * the HTTP statuses a stream (re)connection may be refused with.
 */
async function scenario(t, name, opts) {
  const sc = {
    name, timeline: [], violations: [], failedSends: [], acked: [], marks: new Map(),
    sending: true, marking: true, probing: true, notes: [], devices: [],
  };
  running.add(sc);
  try {
    return await runScenario(t, sc, opts);
  } finally {
    sc.sending = sc.marking = sc.probing = false;
    for (const d of sc.devices) d.close();
    running.delete(sc);
  }
}

async function runScenario(t, sc, { allowed, streamCodes, fault }) {
  const name = sc.name;
  const [g1, g2, g3, watcher, d1, d2] = await Promise.all(Array.from({ length: 6 }, () => signup()));
  const grp = (await group(g1, [g2, g3, watcher], `failures ${name}`)).id;
  const dm = await activeDirect(d1, d2);
  const members = [
    { label: 'g1', user: g1, convs: [grp] }, { label: 'g2', user: g2, convs: [grp] }, { label: 'g3', user: g3, convs: [grp] },
    { label: 'watcher', user: watcher, convs: [grp] }, { label: 'd1', user: d1, convs: [dm] }, { label: 'd2', user: d2, convs: [dm] },
  ];
  const convMembers = { [grp]: [g1, g2, g3, watcher], [dm]: [d1, d2] };
  const devices = sc.devices;
  for (const m of members) devices.push(device(m.label, m.user, m.convs, await eventCursor(m.user)));
  const byUser = new Map(devices.map((d) => [d.user.id, d]));

  const sendOne = async (user, conv, msg) => {
    const deadline = Date.now() + 60000;
    const outcomes = [];
    for (let attempt = 1; ; attempt++) {
      const r = await call(sc, 'send', 'POST', `/v1/conversations/${conv}/messages`, {
        token: user.token, body: { client_msg_id: msg.cmid, body: msg.body }, okStatus: [200, 201],
      });
      outcomes.push(`${r.outcome}${r.res?.headers.get('x-request-id') ? ` (${r.res.headers.get('x-request-id')})` : ''}`);
      if (r.ok) {
        const m = r.res.body;
        assert.equal(m.client_msg_id, msg.cmid, 'the answer names the message sent');
        assert.equal(m.body, msg.body, 'the stored body is the one sent');
        // 200 on a first attempt would mean missive-api ran the send twice itself (lib/db.c
        // retries a statement once on a new connection when the old one broke under it):
        // the same message, so allowed, but counted.
        sc.acked.push({ conv, sender: user.id, cmid: msg.cmid, seq: m.seq, status: r.res.status, attempts: attempt, at: r.t1, outcomes });
        return m;
      }
      sc.failedSends.push(r);
      if (Date.now() > deadline) throw new Error(`${name}: a send was not acknowledged within 60 s; last: ${r.outcome} ${r.detail ?? r.res?.text ?? ''}`);
      await sleep(Math.min(100 * 2 ** (attempt - 1), 800));
    }
  };

  let seqNo = 0;
  const sender = async (user, conv, label) => {
    while (sc.sending) {
      await sendOne(user, conv, { cmid: randomUUID(), body: `${name} ${label} ${seqNo++}` });
      await sleep(SEND_PAUSE_MS);
    }
  };

  // Read marks: each member marks read what its stream showed, a few times a second.
  const markKey = (u, c) => `${u}:${c}`;
  const marker = async (dev) => {
    while (sc.marking) {
      for (const conv of dev.convs) {
        const k = markKey(dev.user.id, conv);
        const st = sc.marks.get(k) ?? { posted: 0, acked: 0, attempted: 0, failed: 0 };
        sc.marks.set(k, st);
        const seq = dev.maxSeq(conv);
        if (seq <= st.posted) continue;
        st.attempted = Math.max(st.attempted, seq);
        const r = await call(sc, 'mark', 'POST', `/v1/conversations/${conv}/read`, { token: dev.user.token, body: { seq }, okStatus: [204] });
        if (r.ok) {
          st.acked = Math.max(st.acked, seq);
          st.posted = seq;
          dev.marksAcked++;
        } else {
          st.failed++;
        }
      }
      await sleep(MARK_EVERY_MS);
    }
  };

  const prober = async () => {
    while (sc.probing) {
      await call(sc, 'probe', 'GET', '/healthz', { okStatus: [200] });
      await sleep(PROBE_EVERY_MS);
    }
  };

  let loops = [];
  let t0 = Date.now();
  let stats;
  try {
    await until(() => devices.every((d) => d.events().some((e) => e.type === 'stream.ready')), 15000, 'every stream to be ready');
    t0 = Date.now();
    loops = [
      prober(),
      sender(g1, grp, 'g1'), sender(g2, grp, 'g2'), sender(g3, grp, 'g3'),
      sender(d1, dm, 'd1'), sender(d2, dm, 'd2'),
      ...devices.map(marker),
    ];
    // Surface a failing loop at once rather than at the end.
    const failed = Promise.race(loops.map((p) => p.then(() => new Promise(() => {}))));
    failed.catch(() => {}); // reported through allSettled below
    const race = (p) => Promise.race([p, failed]);

    await race(until(() => sc.acked.length >= WARMUP_SENDS, 20000, `${WARMUP_SENDS} acknowledged sends before the fault`));
    sc.faultAt = Date.now();
    await race(fault(sc, { devices, byUser, watcher }));
    sc.recoveredAt = Date.now();
    await race(until(() => sc.timeline.some((e) => e.what === 'probe' && e.ok && e.t0 >= sc.recoveredAt), 30000, 'GET /healthz to answer 200'));
    const before = sc.acked.length;
    await race(until(() => sc.acked.length >= before + AFTER_SENDS, 30000, `${AFTER_SENDS} acknowledged sends after recovery`));
  } finally {
    sc.sending = false;
    sc.marking = false;
    sc.probing = false;
    // Senders finish the message in hand (retrying it until it is acknowledged).
    const settled = await Promise.allSettled(loops);
    const bad = settled.find((s) => s.status === 'rejected');
    if (bad) throw bad.reason;
  }
  const loadEnd = Date.now();

  // A last message in each conversation, after everything else.
  await sendOne(g1, grp, { cmid: randomUUID(), body: `${name} last (group)` });
  await sendOne(d2, dm, { cmid: randomUUID(), body: `${name} last (direct)` });

  // Read marks posted during the run (some while the component was down) are all
  // applied, by the receipts job (later: a final mark of everything).
  const ownMax = (u, c) => sc.acked.filter((a) => a.sender === u && a.conv === c).reduce((m, a) => Math.max(m, a.seq), 0);
  const readMarks = async (conv) => {
    const r = await api('GET', `/v1/conversations/${conv}`, { token: convMembers[conv][0].token });
    return new Map(r.body.members.map((m) => [m.user_id, m.last_read_seq]));
  };
  const markProblems = [];
  let marksApplied = true;
  try {
    await until(async () => {
      for (const conv of [grp, dm]) {
        const now = await readMarks(conv);
        for (const u of convMembers[conv]) {
          const st = sc.marks.get(markKey(u.id, conv)) ?? { acked: 0, attempted: 0 };
          if (now.get(u.id) < Math.max(st.acked, ownMax(u.id, conv))) return false;
        }
      }
      return true;
    }, 20000, 'the read marks posted during the run to be applied', 100);
  } catch (e) {
    marksApplied = false;
    markProblems.push(e.message);
  }
  const marksLag = Date.now() - loadEnd;
  for (const conv of [grp, dm]) {
    const now = await readMarks(conv);
    for (const u of convMembers[conv]) {
      const st = sc.marks.get(markKey(u.id, conv)) ?? { acked: 0, attempted: 0 };
      const lo = Math.max(st.acked, ownMax(u.id, conv));
      const hi = Math.max(st.attempted, ownMax(u.id, conv));
      if (now.get(u.id) < lo || now.get(u.id) > hi) markProblems.push(`user ${u.id} in ${conv}: last_read_seq ${now.get(u.id)}, expected ${lo}..${hi}`);
    }
  }

  // Every acknowledged message reaches every member's stream (or the deadline passes:
  // the counts below then say what is missing).
  const expected = {};
  for (const conv of [grp, dm]) expected[conv] = sc.acked.filter((a) => a.conv === conv).sort((a, b) => a.seq - b.seq);
  const complete = (d) => d.convs.every((c) => {
    const seen = new Set(d.created(c).map((e) => e.data.data.seq));
    return expected[c].every((a) => seen.has(a.seq));
  });
  let deliveredInTime = true;
  try {
    await until(() => devices.every(complete), 30000, 'every stream to receive every acknowledged message');
  } catch (e) {
    deliveredInTime = false;
    t.diagnostic(e.message);
  }

  // Count per stream.
  const perStream = [];
  for (const d of devices) {
    for (const conv of d.convs) {
      const want = new Map(expected[conv].map((a) => [a.seq, a.cmid]));
      const got = d.created(conv).map((e) => ({ seq: e.data.data.seq, cmid: e.data.data.client_msg_id }));
      const distinct = new Set(got.map((g) => g.seq));
      let outOfOrder = 0;
      for (let i = 1; i < got.length; i++) if (got[i].seq <= got[i - 1].seq) outOfOrder++;
      const stored = d.events().filter((e) => e.id);
      let posBackwards = 0;
      for (let i = 1; i < stored.length; i++) if (Number(stored[i].id) <= Number(stored[i - 1].id)) posBackwards++;
      perStream.push({
        who: d.label,
        expected: want.size,
        delivered: [...distinct].filter((s) => want.has(s)).length,
        lost: [...want.keys()].filter((s) => !distinct.has(s)).length,
        duplicated: got.length - distinct.size,
        unknown: [...distinct].filter((s) => !want.has(s)).length,
        wrongCmid: got.filter((g) => want.has(g.seq) && want.get(g.seq) !== g.cmid).length,
        outOfOrder, posBackwards,
        connections: d.opens(), reopened: d.reopened, errorCodes: [...new Set(d.errorCodes)].join(',') || '-',
      });
    }
  }

  // The history: exactly the acknowledged messages, with their seqs, gap-free.
  const historyProblems = [];
  for (const conv of [grp, dm]) {
    const msgs = await history(convMembers[conv][0], conv);
    const acked = expected[conv];
    if (msgs.length !== acked.length) historyProblems.push(`conversation ${conv}: ${msgs.length} stored, ${acked.length} acknowledged`);
    msgs.forEach((m, k) => { if (m.seq !== k + 1) historyProblems.push(`conversation ${conv}: seq ${m.seq} at position ${k + 1}`); });
    const byCmid = new Map(msgs.map((m) => [m.client_msg_id, m.seq]));
    for (const a of acked) if (byCmid.get(a.cmid) !== a.seq) historyProblems.push(`conversation ${conv}: ${a.cmid} acknowledged as seq ${a.seq}, stored as ${byCmid.get(a.cmid)}`);
  }

  // A final read mark of everything by every member.
  const lastSeq = { [grp]: expected[grp].at(-1).seq, [dm]: expected[dm].at(-1).seq };
  for (const conv of [grp, dm]) {
    for (const u of convMembers[conv]) {
      const r = await api('POST', `/v1/conversations/${conv}/read`, { token: u.token, body: { seq: lastSeq[conv] }, timeoutMs: REQUEST_TIMEOUT_MS });
      if (r.status !== 204) markProblems.push(`final read mark of user ${u.id}: ${r.status} ${r.text}`);
    }
  }
  try {
    await until(async () => {
      for (const conv of [grp, dm]) {
        const now = await readMarks(conv);
        if (convMembers[conv].some((u) => now.get(u.id) !== lastSeq[conv])) return false;
      }
      return true;
    }, 20000, 'the final read marks to be applied', 100);
    // The watcher only reads, so the receipts job alone moves its mark: every other
    // member's stream gets a receipt event with its final read_seq.
    for (const u of [g1, g2, g3]) {
      await until(() => byUser.get(u.id).events().some((e) => e.type === 'receipt' && e.data.conversation_id === grp &&
        e.data.data.user_id === watcher.id && e.data.data.read_seq === lastSeq[grp]), 20000, `the watcher's final receipt on a stream`);
    }
  } catch (e) {
    markProblems.push(e.message);
  }

  // Numbers.
  const failedSends = sc.failedSends;
  const allFailures = sc.timeline.filter((e) => !e.ok);
  const latencies = sc.timeline.map((e) => e.t1 - e.t0);
  const watcherReceipts = byUser.get(g1.id).receipts.filter((r) => r.user === watcher.id).map((r) => r.t);
  stats = {
    scenario: name,
    'sent ok': sc.acked.length,
    'retried ok': sc.acked.filter((a) => a.attempts > 1).length,
    'found stored (200)': sc.acked.filter((a) => a.status === 200).length,
    '200 at first try': sc.acked.filter((a) => a.status === 200 && a.attempts === 1).length,
    'failed attempts': failedSends.length,
    delivered: perStream.reduce((n, s) => n + s.delivered, 0),
    'of expected': perStream.reduce((n, s) => n + s.expected, 0),
    lost: perStream.reduce((n, s) => n + s.lost, 0),
    duplicated: perStream.reduce((n, s) => n + s.duplicated, 0),
    'api outage ms': apiOutage(sc.timeline),
    'stream gap ms': Math.max(0, ...devices.flatMap((d) => d.gaps)),
    'delivery stall ms': Math.max(0, ...devices.map((d) => maxGap(d.arrivals, t0, loadEnd))),
    'receipts stall ms': maxGap(watcherReceipts, t0, loadEnd, true),
    'marks applied after ms': marksLag,
  };
  results.push(stats);

  const seconds = ((loadEnd - t0) / 1000).toFixed(1);
  t.diagnostic(`${name}: ${stats['sent ok']} messages acknowledged in ${seconds} s (${stats['retried ok']} after a retry, ${stats['found stored (200)']} answered 200: already stored, ${stats['200 at first try']} of those at the first try), ` +
    `${failedSends.length} failed send attempts ${JSON.stringify(summarizeFailures(failedSends))}, all failed requests ${JSON.stringify(summarizeFailures(allFailures))}`);
  t.diagnostic(`${name}: delivered ${stats.delivered} of ${stats['of expected']} (lost ${stats.lost}, duplicated ${stats.duplicated}); ` +
    `API outage seen by clients ${stats['api outage ms']} ms, longest stream gap ${stats['stream gap ms']} ms, longest delivery stall ${stats['delivery stall ms']} ms; ` +
    `slowest request ${Math.max(...latencies)} ms; ${sc.notes.join('; ')}`);
  for (const s of perStream) t.diagnostic(`${name}: stream ${JSON.stringify(s)}`);
  for (const a of sc.acked.filter((x) => x.status === 200)) {
    t.diagnostic(`${name}: stored although an attempt failed: ${a.cmid} seq ${a.seq}, attempts ${a.outcomes.join(', ')}`);
  }
  t.diagnostic(`${name}: ${watcherReceipts.length} receipt events about the watcher on g1's stream during the load, longest gap ${stats['receipts stall ms']} ms; ` +
    `the marks posted during the run were all applied ${marksLag} ms after the load stopped`);

  // Verdict.
  assert.deepEqual(sc.violations, [], 'every answer matches openapi.yaml');
  const unexpected = allFailures.filter((f) => !allowed.includes(f.outcome));
  assert.deepEqual(unexpected.map((f) => `${f.what}: ${f.outcome} ${f.detail ?? f.res?.text?.slice(0, 200) ?? ''}`), [],
    `${name}: only ${allowed.join('/') || 'no'} failures may happen`);
  assert.ok(Math.max(...latencies) < REQUEST_TIMEOUT_MS, 'no request hung');
  for (const d of devices) {
    assert.deepEqual(d.errorCodes.filter((c) => !streamCodes.includes(c)), [], `${name}: stream of ${d.label} refused with other than ${streamCodes.join('/') || 'nothing'}`);
  }
  assert.deepEqual(historyProblems, [], 'the history holds exactly the acknowledged messages');
  for (const s of perStream) {
    assert.deepEqual({ who: s.who, lost: s.lost, duplicated: s.duplicated, unknown: s.unknown, wrongCmid: s.wrongCmid, outOfOrder: s.outOfOrder, posBackwards: s.posBackwards },
      { who: s.who, lost: 0, duplicated: 0, unknown: 0, wrongCmid: 0, outOfOrder: 0, posBackwards: 0 }, `${name}: stream ${JSON.stringify(s)}`);
  }
  assert.ok(deliveredInTime, 'every stream received every message in time');
  assert.ok(marksApplied, 'the read marks were applied');
  assert.deepEqual(markProblems, [], 'read marks');
  return { sc, devices, stats, perStream };
}

// ---------------------------------------------------------------- the scenarios

test('pg_ctl restart -m immediate under load: 503 while down, nothing acknowledged lost, streams resume', { timeout: 120000 }, async (t) => {
  const { sc } = await scenario(t, 'postgres', {
    allowed: ['503'],
    streamCodes: [503],
    fault: async (sc, { byUser, watcher }) => {
      const restart = stackCommand('restart-pg-immediate');
      // While it is down, a client whose stream drops reconnects with its cursor: the
      // watcher's device drops its stream as soon as the API reports the outage.
      const seen = await Promise.race([
        until(() => sc.timeline.some((e) => e.t0 >= sc.faultAt && e.outcome === '503'), 30000, 'a 503').then(() => true),
        restart.then(() => false),
      ]);
      if (seen) byUser.get(watcher.id).bounce();
      const ms = await restart;
      sc.notes.push(`pg_ctl restart -m immediate took ${ms} ms; watcher's stream ${seen ? 'dropped during the outage' : 'not dropped (outage over first)'}`);
    },
  });
  assert.ok(sc.timeline.some((e) => e.outcome === '503'), 'the outage was seen: some request answered 503');
  for (const e of sc.timeline.filter((x) => x.outcome === '503' && x.what !== 'probe')) {
    assert.equal(e.res.contentType, 'application/problem+json');
    assert.equal(e.res.body.type, 'https://missive.dev/problems/unavailable');
    assert.ok(e.res.headers.get('retry-after'), '503 carries Retry-After');
  }
});

/** SIGKILL, then (once clients noticed, or after a few seconds) start it again. */
async function killAndRestart(sc, name, waitDown) {
  const killedAt = Date.now();
  await stackCommand('kill-one', name);
  try {
    await waitDown();
  } catch (e) {
    sc.notes.push(`(${e.message})`);
  }
  const downFor = Date.now() - killedAt;
  const ms = await startAgain(name);
  sc.notes.push(`${name} killed ${downFor} ms before start-one, which took ${ms} ms`);
}

test('kill -9 of missive-api under load: nothing acknowledged lost or doubled', { timeout: 120000 }, async (t) => {
  const { sc } = await scenario(t, 'api', {
    allowed: ['502'],
    streamCodes: [],
    fault: (sc) => killAndRestart(sc, 'api', () =>
      until(() => sc.timeline.some((e) => e.what === 'probe' && e.t0 >= sc.faultAt && e.outcome === '502'), 3000, 'the probe to see the API gone')),
  });
  assert.ok(sc.timeline.some((e) => e.outcome === '502'), 'the outage was seen (nginx answered 502)');
});

test('kill -9 of missive-sse under load: every stream resumes from its cursor, each message once', { timeout: 120000 }, async (t) => {
  const { devices } = await scenario(t, 'sse', {
    allowed: [],
    streamCodes: [502], // nginx, for a stream reopened before missive-sse is back
    fault: (sc, { devices }) => killAndRestart(sc, 'sse', () =>
      until(() => devices.every((d) => d.downSince !== null), 3000, 'every stream to notice')),
  });
  for (const d of devices) assert.ok(d.opens() >= 2, 'every client reconnected');
});

test('kill -9 of missive-worker under load: read marks posted around the kill are all applied', { timeout: 120000 }, async (t) => {
  await scenario(t, 'worker', {
    allowed: [],
    streamCodes: [],
    // The receipts, push, sweep (and thumbs) jobs are one process: missive-worker
    // with no job named runs them all. It stays down until the watcher has had three
    // read marks accepted without it (about a second of marks from every member).
    fault: (sc, { byUser, watcher }) => killAndRestart(sc, 'worker', () => {
      const w = byUser.get(watcher.id);
      const at = w.marksAcked;
      return until(() => w.marksAcked >= at + 3, 5000, 'read marks posted while the worker is down');
    }),
  });
});

// ---------------------------------------------------------------- receipts wake-ups
// Found by the worker scenario ("marks applied after ms" near worker_poll_interval).
// missive-api sends at most one NOTIFY missive_receipts per 50 ms per process: the
// mark that takes the turn wakes the worker for the marks that follow it, and the
// worker runs a woken pass at once and one more 100 ms later. A mark that does not
// get its turn is applied only if one of those passes sees it; otherwise it waits for the
// worker's next poll (5 s). Two ways that went wrong:
//   - the turn taken by a mark that queued nothing (ignored: not above the current
//     mark, e.g. a sender marking its own message) sent no NOTIFY at all (fixed in
//     api/h_receipts.c);
//   - a worker that runs its pass at once on the first wake-up and not again at the
//     end of its gathering window: the marks of the next 50 ms (which skip their
//     NOTIFY) wait for the poll (workers/main.c runs that trailing pass).
test('read marks posted back to back are applied at once, not at the worker poll', {
  timeout: 60000,
}, async () => {
  const s = await signup();
  const a = await signup();
  const b = await signup();
  const conv = (await group(s, [a, b], 'wake-ups')).id;
  const mark = async (u, kind, seq) => {
    const r = await api('POST', `/v1/conversations/${conv}/${kind}`, { token: u.token, body: { seq } });
    assert.equal(r.status, 204, r.text);
  };
  const member = async (u) => (await api('GET', `/v1/conversations/${conv}`, { token: s.token })).body.members.find((m) => m.user_id === u.id);
  const applied = async (u, field, seq) => {
    const t0 = Date.now();
    await until(async () => (await member(u))[field] >= seq, 15000, `${field} ${seq}`, 20);
    return Date.now() - t0;
  };
  const delays = {};
  for (const pattern of ['after an ignored mark', "after another member's mark"]) {
    const seq = (await sendOk(s, conv, pattern)).seq;
    // A pass of the receipts job just ran: its poll timer starts again from 5 s.
    await mark(a, 'delivered', seq);
    await applied(a, 'last_delivered_seq', seq);
    await sleep(300); // past the API's 50 ms wake-up turn and the worker's 100 ms window
    if (pattern === 'after an ignored mark') await mark(s, 'read', seq); // s sent it: ignored
    else await mark(a, 'read', seq);
    await mark(b, 'read', seq); // within 50 ms: no NOTIFY of its own
    delays[pattern] = await applied(b, 'last_read_seq', seq);
  }
  for (const [pattern, ms] of Object.entries(delays)) {
    assert.ok(ms < 2500, `a read mark posted ${pattern} was applied after ${ms} ms (the worker polls every 5 s)`);
  }
});

// stream.js: live updates, one connection per browser.
//
// The tabs of a browser elect a leader with the Web Lock 'missive-stream'. The
// leader owns the connection: a server-sent event stream (EventSource on
// /v1/stream with a one-time ticket), or, when that fails three times in a row
// without ever opening, long-polling GET /v1/events. It hands every event to
// the other tabs over BroadcastChannel ('live.event'); they keep the position of
// the last event, so whichever tab takes the lock when the leader closes goes on
// from there (?cursor=).
//
// A ticket opens one connection only, so the browser's own EventSource
// reconnect (same URL) can never work: on any error the stream is closed and
// opened again with a new ticket and the last position.

import { api, SessionEnded } from './api.js';
import { post, onTab } from './tabs.js';
import { sleep } from './dom.js';

export const STORED_TYPES = [
  'message.created', 'message.edited', 'message.deleted', 'reaction.added', 'reaction.removed',
  'member.added', 'member.removed', 'member.role_changed', 'conversation.created',
  'conversation.renamed', 'conversation.accepted', 'conversation.declined', 'receipt',
];
const EPHEMERAL_TYPES = ['typing', 'presence'];

const SSE_FAILURES_BEFORE_POLLING = 3;
const SSE_HEALTHY_AFTER_MS = 20_000; // a stream that stayed open this long counts as working
const POLL_TIMEOUT_S = 25;
const SSE_RETRY_WHILE_POLLING_MS = 5 * 60_000;

/**
 * createLive({onEvent(event), onStatus({status, leader}), onResync(), onSessionEnded(reason)})
 * status: 'offline' | 'connecting' | 'live' | 'reconnecting' | 'polling'.
 * Events are {type, pos?, conversation_id?, actor_id?, created_at?, data}.
 */
export function createLive({ onEvent, onStatus, onResync, onSessionEnded }) {
  let running = false;
  let leader = false;
  let abort = null;
  let release = null;
  let lastPos = null; // pos of the last stored event seen (null: not known yet)
  let status = 'offline';

  function setStatus(s) {
    status = s;
    onStatus({ status, leader });
    if (leader) post('live.status', { status, lastPos });
  }

  const debug = (() => {
    try {
      return localStorage.getItem('missive.debug') === '1';
    } catch {
      return false;
    }
  })();

  /** Applies an event once (stored events by pos); the leader relays it. */
  function accept(ev, { relay }) {
    if (debug) console.debug('missive event', relay ? 'live' : 'relayed', JSON.stringify(ev));
    if (typeof ev.pos === 'number') {
      if (lastPos !== null && ev.pos <= lastPos) return;
      lastPos = ev.pos;
    }
    if (relay) post('live.event', { event: ev });
    try {
      onEvent(ev);
    } catch (e) {
      console.error('event', ev, e);
    }
  }

  onTab('live.event', ({ event }) => {
    if (running && !leader && event) accept(event, { relay: false });
  });
  onTab('live.status', (s) => {
    if (!running || leader) return;
    if (typeof s.lastPos === 'number' && (lastPos === null || s.lastPos > lastPos)) lastPos = s.lastPos;
    status = s.status;
    onStatus({ status, leader });
  });
  onTab('live.resync', () => {
    if (running && !leader) onResync();
  });
  onTab('live.hello', () => {
    if (running && leader) post('live.status', { status, lastPos });
  });

  function start() {
    if (running) return;
    running = true;
    abort = new AbortController();
    status = 'connecting';
    onStatus({ status, leader });
    post('live.hello');
    if (!navigator.locks) {
      lead(); // no Web Locks (not a secure context): every tab connects by itself
      return;
    }
    const signal = abort.signal;
    navigator.locks
      .request('missive-stream', { signal }, () => {
        if (!running || signal.aborted) return undefined;
        return new Promise((resolve) => {
          release = resolve;
          lead().finally(resolve);
        });
      })
      .catch(() => { /* stopped while waiting for the lock */ });
  }

  function stop() {
    if (!running) return;
    running = false;
    leader = false;
    abort.abort();
    release?.();
    release = null;
    lastPos = null;
    status = 'offline';
    onStatus({ status, leader });
  }

  async function lead() {
    leader = true;
    const signal = abort.signal;
    setStatus('connecting');
    let failures = 0;
    let mode = 'sse';
    let pollingSince = 0;
    while (running && !signal.aborted) {
      if (mode === 'sse') {
        const r = await openSse(signal);
        if (!running || signal.aborted) break;
        if (r.sessionEnded) {
          await onSessionEnded(r.ended ?? 'session_ended');
          if (!running) break;
        }
        // Working means delivering: an open that never brings anything (a buffering proxy) is a failure too.
        failures = r.healthy ? 0 : failures + 1;
        if (failures >= SSE_FAILURES_BEFORE_POLLING) {
          mode = 'poll';
          pollingSince = Date.now();
          continue;
        }
        setStatus('reconnecting');
        await sleep(backoff(failures), signal);
      } else {
        if (status !== 'polling') setStatus('polling');
        const ok = await pollOnce(signal);
        if (!running || signal.aborted) break;
        if (!ok) await sleep(backoff(2), signal);
        if (Date.now() - pollingSince > SSE_RETRY_WHILE_POLLING_MS) {
          // Try the stream again now and then; one more failure and we are back here.
          mode = 'sse';
          failures = SSE_FAILURES_BEFORE_POLLING - 1;
        }
      }
    }
    if (abort?.signal === signal) leader = false;
  }

  const backoff = (n) => Math.min(500 * 2 ** n, 15000) * (0.75 + Math.random() * 0.5);

  function resync() {
    post('live.resync');
    onResync();
  }

  /** One stream: resolves {opened, healthy, ended?, sessionEnded?} when it is over. */
  async function openSse(signal) {
    let ticket;
    try {
      ticket = (await api('POST', '/v1/stream/tickets', { signal })).body.ticket;
    } catch (e) {
      if (e instanceof SessionEnded) return { opened: false, sessionEnded: true };
      return { opened: false };
    }
    const hadCursor = lastPos !== null;
    const q = new URLSearchParams({ ticket });
    if (hadCursor) q.set('cursor', String(lastPos));
    return new Promise((resolve) => {
      const es = new EventSource(`/v1/stream?${q}`);
      let opened = false;
      let healthy = false;
      let done = false;
      let timer = null;
      const finish = (extra = {}) => {
        if (done) return;
        done = true;
        es.close();
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve({ opened, healthy, ...extra });
      };
      const onAbort = () => finish();
      signal.addEventListener('abort', onAbort);
      es.addEventListener('open', () => {
        opened = true;
        timer = setTimeout(() => { healthy = true; }, SSE_HEALTHY_AFTER_MS);
        setStatus('live');
        // Without a position the stream starts at "now": reload what may have changed before.
        if (!hadCursor) resync();
      });
      es.addEventListener('error', () => finish());
      for (const type of STORED_TYPES) {
        es.addEventListener(type, (e) => {
          const ev = parse(e.data);
          if (!ev) return;
          if (typeof ev.pos !== 'number' && e.lastEventId) ev.pos = Number(e.lastEventId);
          healthy = true;
          accept({ type, ...ev }, { relay: true });
        });
      }
      for (const type of EPHEMERAL_TYPES) {
        es.addEventListener(type, (e) => {
          const data = parse(e.data);
          healthy = true;
          if (data) accept({ type, data }, { relay: true });
        });
      }
      es.addEventListener('stream.ended', (e) => {
        const reason = parse(e.data)?.reason ?? 'ended';
        finish({ ended: reason, sessionEnded: reason === 'session_ended' });
      });
    });
  }

  /** One long-poll; false when it failed. */
  async function pollOnce(signal) {
    try {
      if (lastPos === null) {
        // We do not know where "now" is: skip to the end, then reload everything once.
        let cursor = 0;
        for (;;) {
          const r = await api('GET', `/v1/events?cursor=${cursor}&limit=1000`, { signal });
          cursor = r.body.cursor;
          if (r.body.events.length < 1000) break;
        }
        lastPos = cursor;
        post('live.status', { status, lastPos });
        resync();
      }
      const r = await api('GET', `/v1/events?cursor=${lastPos}&timeout=${POLL_TIMEOUT_S}&limit=500`, {
        signal,
        timeoutMs: (POLL_TIMEOUT_S + 20) * 1000,
      });
      for (const ev of r.body.events) accept(ev, { relay: true });
      if (typeof r.body.cursor === 'number' && r.body.cursor > lastPos) lastPos = r.body.cursor;
      return true;
    } catch (e) {
      if (signal.aborted) return true;
      if (e instanceof SessionEnded) await onSessionEnded('session_ended');
      return false;
    }
  }

  return {
    start,
    stop,
    isLeader: () => leader || !navigator.locks,
    status: () => status,
  };
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

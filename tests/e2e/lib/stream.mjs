// An SSE client for the tests: the `eventsource` package (WHATWG EventSource),
// collecting every event it gets so a test can wait for what it expects.

import { after } from 'node:test';
import { EventSource } from 'eventsource';
import { api, assertStatus } from './client.mjs';
import { loadStack } from './stack.mjs';

export const STORED_TYPES = [
  'message.created', 'message.edited', 'message.deleted', 'reaction.added', 'reaction.removed',
  'member.added', 'member.removed', 'member.role_changed', 'conversation.created',
  'conversation.renamed', 'conversation.accepted', 'conversation.declined', 'receipt',
];
export const EPHEMERAL_TYPES = ['typing', 'presence'];

// Every stream a test file opened is closed when the file ends, even after a
// failed assertion, so a reconnecting EventSource cannot keep the file alive.
const open = new Set();
after(() => { for (const s of open) s.es.close(); open.clear(); });

export async function ticket(user) {
  const res = await api('POST', '/v1/stream/tickets', { token: user.token });
  assertStatus(res, 201);
  return res.body.ticket;
}

/**
 * Opens /v1/stream through nginx. opts: ticket (browser style) or token (bearer header,
 * which also lets the client reconnect by itself with Last-Event-ID), lastEventId, base.
 * -> { es, events, errors, opened, waitFor(pred, ms), waitCount(type, n, ms), close() }
 */
export function openStream(opts) {
  const base = opts.base ?? loadStack().MISSIVE_URL;
  const url = new URL('/v1/stream', base);
  if (opts.ticket) url.searchParams.set('ticket', opts.ticket);
  if (opts.cursor !== undefined) url.searchParams.set('cursor', String(opts.cursor));
  const headers = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.lastEventId !== undefined) headers['last-event-id'] = String(opts.lastEventId);
  const s = { events: [], errors: [], opens: 0, lastId: null };
  const es = new EventSource(url, {
    fetch: (input, init) => {
      const h = { ...(init?.headers ?? {}), ...headers };
      // After a reconnect the client's own Last-Event-ID is the one to send.
      if (init?.headers?.['Last-Event-ID'] || init?.headers?.['last-event-id']) delete h['last-event-id'];
      return fetch(input, { ...init, headers: h });
    },
  });
  const record = (type) => (e) => {
    const data = JSON.parse(e.data);
    s.events.push({ type, id: e.lastEventId, data });
    if (STORED_TYPES.includes(type)) s.lastId = e.lastEventId;
  };
  for (const t of [...STORED_TYPES, ...EPHEMERAL_TYPES, 'stream.ended', 'stream.ready']) es.addEventListener(t, record(t));
  es.addEventListener('open', () => { s.opens++; });
  es.onerror = (e) => { s.errors.push(e); };
  s.es = es;
  s.of = (type) => s.events.filter((e) => e.type === type);
  s.waitFor = async (pred, ms = 10000) => {
    const until = Date.now() + ms;
    for (;;) {
      const hit = s.events.find(pred);
      if (hit) return hit;
      if (Date.now() > until) throw new Error(`no matching event within ${ms} ms; got ${JSON.stringify(s.events.map((e) => e.type))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  s.waitCount = async (type, n, ms = 10000) => {
    const until = Date.now() + ms;
    while (s.of(type).length < n) {
      if (Date.now() > until) throw new Error(`${s.of(type).length} of ${n} ${type} events within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return s.of(type);
  };
  s.waitOpen = async (ms = 5000) => {
    const until = Date.now() + ms;
    while (es.readyState !== EventSource.OPEN) {
      if (Date.now() > until) throw new Error('the stream did not open');
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  s.close = () => { es.close(); open.delete(s); };
  open.add(s);
  return s;
}

/** One raw request to /v1/stream, for status checks: resolves {status, headers, text} after ms. */
export async function rawStream(path, headers = {}, ms = 1500) {
  const ctl = new AbortController();
  const res = await fetch(new URL(path, loadStack().MISSIVE_URL), { headers, signal: ctl.signal });
  let text = '';
  const reader = res.body.getReader();
  const timer = setTimeout(() => ctl.abort(), ms);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
  } catch { /* aborted: we read what came */ }
  clearTimeout(timer);
  return { status: res.status, headers: res.headers, text, contentType: res.headers.get('content-type') };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A client that stops reading its stream: the server's buffer for it is
// bounded (sse_max_buffer), so once the socket and that buffer are full the
// stream ends with `stream.ended` {"reason":"slow_reader"}; every event written
// before that is complete and in order, and reconnecting with Last-Event-ID
// brings exactly the rest. This is also the path where missive-sse hands a
// socket it was writing directly back to libmicrohttpd (sse/hub.c).

import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { signup } from './lib/client.mjs';
import { group, sendOk } from './lib/chat.mjs';
import { loadStack } from './lib/stack.mjs';
import { openStream } from './lib/stream.mjs';

const BIG = '\u{1F600}'.repeat(4000); // 4,000 characters, 16,000 bytes of UTF-8

async function slowReaders() {
  const res = await fetch(new URL('/metrics', loadStack().MISSIVE_SSE_URL));
  const m = /^missive_sse_slow_readers_total (\d+)$/m.exec(await res.text());
  assert.ok(m, 'missive-sse reports missive_sse_slow_readers_total');
  return Number(m[1]);
}

function parse(text) {
  const events = [];
  for (const block of text.split('\n\n')) {
    const e = {};
    for (const line of block.split('\n')) {
      const i = line.indexOf(': ');
      if (i > 0) e[line.slice(0, i)] = line.slice(i + 2);
    }
    if (e.event) events.push(e);
  }
  return events;
}

test('a client that stops reading is cut off with slow_reader, loses nothing, and resumes by Last-Event-ID', async (t) => {
  const alice = await signup();
  const bob = await signup();
  const conv = (await group(alice, [bob], 'firehose')).id;
  const before = await slowReaders();

  // Bob's stream, straight to missive-sse; read until caught up, then stop reading.
  const chunks = [];
  let ended = false;
  const res = await new Promise((resolve, reject) => {
    const req = http.get(new URL('/v1/stream', loadStack().MISSIVE_SSE_URL),
      { headers: { authorization: `Bearer ${bob.token}` } }, resolve);
    req.on('error', reject);
  });
  assert.equal(res.statusCode, 200);
  res.setEncoding('utf8');
  await new Promise((resolve) => {
    res.on('data', (c) => {
      chunks.push(c);
      if (chunks.join('').includes('event: stream.ready')) resolve();
    });
  });
  res.pause();
  res.on('end', () => { ended = true; });

  // 16 KB events until the server gives up on Bob (kernel buffers take a few MB first).
  let sent = 0;
  while ((await slowReaders()) === before) {
    assert.ok(sent < 3000, 'the stream was never cut off: its buffer is not bounded');
    await Promise.all(Array.from({ length: 50 }, () => sendOk(alice, conv, BIG)));
    sent += 50;
  }
  await Promise.all(Array.from({ length: 10 }, () => sendOk(alice, conv, 'after the cut')));
  sent += 10;

  // Reading again: what was written arrives whole and in order, then the reason, then the end.
  res.resume();
  for (let i = 0; !ended && i < 300; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(ended, 'the server closed the stream after stream.ended');
  const got = parse(chunks.join(''));
  const last = got[got.length - 1];
  assert.equal(last.event, 'stream.ended');
  assert.equal(JSON.parse(last.data).reason, 'slow_reader');
  const msgs = got.filter((e) => e.event === 'message.created').map((e) => ({ id: Number(e.id), data: JSON.parse(e.data) }));
  assert.ok(msgs.length > 0 && msgs.length < sent, `some but not all messages before the cut (${msgs.length} of ${sent})`);
  assert.deepEqual(msgs.map((m) => m.data.data.seq), msgs.map((_, i) => i + 1), 'seqs 1..k with no gap');
  assert.ok(msgs.every((m) => m.data.data.body === BIG), 'every event arrived whole');
  t.diagnostic(`cut off after ${msgs.length} of ${sent} messages (${chunks.join('').length} characters read)`);

  // Resuming from the last id delivers exactly the rest.
  const again = openStream({ token: bob.token, lastEventId: msgs[msgs.length - 1].id });
  const rest = await again.waitCount('message.created', sent - msgs.length, 60000);
  assert.deepEqual(rest.map((e) => e.data.data.seq), Array.from({ length: sent - msgs.length }, (_, i) => msgs.length + i + 1),
    'the rest, once each, in order');
  again.close();
  res.destroy();
});

// Media: presigned uploads and downloads (POST /v1/media, GET /v1/media/{id}),
// thumbnails of images (?variant=thumb, made by missive-worker thumbs),
// checked at the store itself, for whichever storage backend the stack runs:
//   local  nginx stores the files; every request is checked by missive-api
//          (auth_request) — this is what `bash tests/e2e/run.sh` starts;
//   s3     OpenStack Swift's s3api, which checks AWS Signature V4 — run.sh starts
//          Swift and a second stack with storage_backend = s3 (E2E_S3, see run.sh).
// The backend is told apart by the upload URL (X-Amz-Signature: s3).
//
// The media endpoints go through api() (the openapi.yaml contract check) once
// openapi.yaml documents /v1/media; before that they are called with fetch, with
// the same result shape. Store URLs are always plain fetch (not our API).

import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { api, assertProblem, assertStatus, baseUrl, signup } from './lib/client.mjs';
import { activeDirect, group, history } from './lib/chat.mjs';
import { sql } from './lib/db.mjs';
import { loadStack } from './lib/stack.mjs';
import { parseMediaType } from './lib/contract.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const documented = /^ {2}\/v1\/media:/m.test(readFileSync(`${ROOT}openapi.yaml`, 'utf8'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** api() when openapi.yaml documents the media routes, else the same via fetch. */
async function mediaApi(method, path, opts = {}) {
  if (documented) return api(method, path, opts);
  const headers = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body;
  if (opts.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(opts.body);
  }
  const r = await fetch(baseUrl() + path, { method, headers, body, redirect: 'manual' });
  const text = await r.text();
  const ct = parseMediaType(r.headers.get('content-type'));
  let parsed = text;
  if (ct && (ct.type === 'application/json' || ct.type.endsWith('+json')) && text) parsed = JSON.parse(text);
  return { status: r.status, headers: r.headers, body: parsed, text, contentType: ct?.type ?? null, method, path };
}

const presign = (user, body) => mediaApi('POST', '/v1/media', { token: user.token, body });

/** Presigns an upload of bytes; asserts 201 and the answer's shape. -> { id, upload } */
async function presignOk(user, bytes, content_type = 'image/jpeg', filename = 'photo.jpg') {
  const res = await presign(user, { content_type, size: bytes.length, filename });
  assertStatus(res, 201);
  const { media_id, upload } = res.body;
  assert.ok(Number.isSafeInteger(media_id) && media_id > 0, `media_id: ${res.text}`);
  assert.equal(res.headers.get('location'), `/v1/media/${media_id}`);
  assert.deepEqual(Object.keys(res.body).sort(), ['media_id', 'upload']);
  assert.deepEqual(Object.keys(upload).sort(), ['expires_at', 'headers', 'method', 'url']);
  assert.equal(upload.method, 'PUT');
  assert.deepEqual(upload.headers, { 'Content-Type': content_type, 'Content-Length': String(bytes.length) });
  assert.match(upload.url, /^https?:\/\//);
  assert.ok(Date.parse(upload.expires_at) > Date.now() - 2000, `expires_at ${upload.expires_at}`);
  return { id: media_id, upload };
}

const isS3 = (url) => /[?&]X-Amz-Signature=/.test(url);

/** PUTs body to a presigned upload; headers default to the ones the API gave. */
async function put(upload, body, headers = upload.headers) {
  const h = { ...headers };
  delete h['Content-Length']; // fetch sets it from the body
  const r = await fetch(upload.url, { method: 'PUT', headers: h, body, redirect: 'manual' });
  const text = await r.text();
  return { status: r.status, text, headers: r.headers };
}

async function uploadOk(user, bytes, type = 'image/jpeg', filename = 'photo.jpg') {
  const m = await presignOk(user, bytes, type, filename);
  const r = await put(m.upload, bytes);
  assert.ok(r.status >= 200 && r.status < 300, `upload: ${r.status} ${r.text.slice(0, 300)}`);
  return m;
}

/** GET /v1/media/{id}: asserts 302 and returns the Location. */
async function downloadUrl(user, id, query = '') {
  const res = await mediaApi('GET', `/v1/media/${id}${query}`, { token: user.token });
  assertStatus(res, 302);
  const loc = res.headers.get('location');
  assert.match(loc ?? '', /^https?:\/\//, 'Location is an absolute URL');
  assert.equal(res.text, '');
  return loc;
}

async function fetchBytes(url, headers = {}) {
  const r = await fetch(url, { headers, redirect: 'manual' });
  return { status: r.status, headers: r.headers, bytes: Buffer.from(await r.arrayBuffer()) };
}

/** Does a send with media_ids work on this server yet? (The send path may not accept them.) */
function mediaSendUnsupported(res) {
  return res.status === 400 && res.body?.field === 'media_ids' && /unknown|not allowed|unexpected/i.test(res.body?.detail ?? '');
}

const sendWithMedia = (user, conv, media_ids, body = 'look at this') =>
  api('POST', `/v1/conversations/${conv}/messages`, { token: user.token, body: { client_msg_id: randomUUID(), body, media_ids } });

// ---------------------------------------------------------------- presign

test('POST /v1/media validates type, size and body; needs a token', async () => {
  const alice = await signup();
  let res = await presign(alice, { content_type: 'text/html', size: 10, filename: 'x.html' });
  assertProblem(res, 422, 'validation', 'content_type');
  assert.match(res.body.detail, /image\/jpeg/);
  res = await presign(alice, { content_type: 'image/svg+xml', size: 10 });
  assertProblem(res, 422, 'validation', 'content_type');
  res = await presign(alice, { content_type: 'image/jpeg; charset=x', size: 10 });
  assertProblem(res, 422, 'validation', 'content_type');
  res = await presign(alice, { content_type: 'image/png', size: 16 * 1024 * 1024 + 1 });
  assertProblem(res, 422, 'validation', 'size');
  res = await presign(alice, { content_type: 'video/mp4', size: 256 * 1024 * 1024 + 1 });
  assertProblem(res, 422, 'validation', 'size');
  res = await presign(alice, { content_type: 'image/png', size: 0 });
  assertProblem(res, 422, 'validation', 'size');
  res = await presign(alice, { content_type: 'image/png', size: -5 });
  assertProblem(res, 422, 'validation', 'size');
  res = await presign(alice, { content_type: 'image/png' });
  assertProblem(res, 400, 'bad-request', 'size');
  res = await presign(alice, { content_type: 'image/png', size: 5, path: '/etc/passwd' });
  assertProblem(res, 400, 'bad-request', 'path');
  res = await presign(alice, { content_type: 'image/png', size: '5' });
  assertProblem(res, 400, 'bad-request', 'size');
  res = await mediaApi('POST', '/v1/media', { body: { content_type: 'image/png', size: 5 } });
  assertProblem(res, 401, 'unauthorized');
  // A video up to 256 MiB is fine (nothing is uploaded here).
  await presignOk(alice, { length: 256 * 1024 * 1024 }, 'video/mp4', 'clip.mp4');
});

test('the key is random and carries no user input; filename is only a display name', async () => {
  const alice = await signup();
  const bytes = randomBytes(64);
  const a = await presignOk(alice, bytes, 'image/png', '../../etc/passwd\u202egnp.exe');
  const b = await presignOk(alice, bytes, 'image/png', '../../etc/passwd\u202egnp.exe');
  const keyOf = (u) => new URL(u.url).pathname.split('/').pop();
  assert.match(keyOf(a.upload), /^[0-9a-z]{32}\.png$/);
  assert.notEqual(keyOf(a.upload), keyOf(b.upload));
  assert.ok(!a.upload.url.includes('passwd'));
  // The display name keeps no path and no bidi override.
  assertStatus(await put(a.upload, bytes), isS3(a.upload.url) ? 200 : 201);
  const got = await fetchBytes(await downloadUrl(alice, a.id));
  assert.equal(got.status, 200);
  const cd = got.headers.get('content-disposition');
  assert.match(cd, /^inline; filename="passwdgnp\.exe"; filename\*=UTF-8''passwdgnp\.exe$/);
});

// ---------------------------------------------------------------- upload checks at the store

test('an upload with exactly the presigned headers succeeds; the uploader downloads the exact bytes', async () => {
  const alice = await signup();
  const bytes = randomBytes(5000);
  const m = await presignOk(alice, bytes, 'image/jpeg', 'résumé "1".jpg');
  const r = await put(m.upload, bytes);
  assert.ok(r.status === 200 || r.status === 201, `PUT: ${r.status} ${r.text.slice(0, 300)}`);

  const loc = await downloadUrl(alice, m.id);
  const got = await fetchBytes(loc);
  assert.equal(got.status, 200);
  assert.ok(got.bytes.equals(bytes), 'the downloaded bytes are the uploaded ones');
  assert.equal(got.headers.get('content-type'), 'image/jpeg');
  assert.equal(got.headers.get('content-disposition'),
    `inline; filename="r_sum_ _1_.jpg"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.jpg`);
  // ?variant=original is the same thing
  const again = await fetchBytes(await downloadUrl(alice, m.id, '?variant=original'));
  assert.ok(again.bytes.equals(bytes));
});

test('a Range request gets 206 with just those bytes (video seeking)', async () => {
  const alice = await signup();
  const bytes = randomBytes(100000);
  const m = await uploadOk(alice, bytes, 'video/mp4', 'clip.mp4');
  const loc = await downloadUrl(alice, m.id);
  const part = await fetchBytes(loc, { range: 'bytes=1000-1999' });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 1000-1999/${bytes.length}`);
  assert.ok(part.bytes.equals(bytes.subarray(1000, 2000)));
  assert.equal(part.headers.get('content-type'), 'video/mp4');
  const tail = await fetchBytes(loc, { range: 'bytes=-10' });
  assert.equal(tail.status, 206);
  assert.ok(tail.bytes.equals(bytes.subarray(bytes.length - 10)));
});

test('the store refuses another Content-Type, another length, a tampered signature', async () => {
  const alice = await signup();
  const bytes = randomBytes(3000);
  const m = await presignOk(alice, bytes, 'image/png', 'a.png');

  let r = await put(m.upload, bytes, { 'Content-Type': 'image/jpeg' });
  assert.equal(r.status, 403, `other type: ${r.status} ${r.text.slice(0, 200)}`);
  r = await put(m.upload, bytes, { 'Content-Type': 'text/html' });
  assert.equal(r.status, 403, `html: ${r.status}`);
  r = await put(m.upload, bytes.subarray(0, 2999));
  assert.equal(r.status, 403, `shorter: ${r.status} ${r.text.slice(0, 200)}`);
  r = await put(m.upload, Buffer.concat([bytes, Buffer.from('x')]));
  assert.equal(r.status, 403, `longer: ${r.status}`);

  const u = new URL(m.upload.url);
  const sigName = isS3(m.upload.url) ? 'X-Amz-Signature' : 'sig';
  const sig = u.searchParams.get(sigName);
  u.searchParams.set(sigName, (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
  r = await put({ ...m.upload, url: u.toString() }, bytes);
  assert.equal(r.status, 403, `tampered: ${r.status} ${r.text.slice(0, 200)}`);

  // A longer validity than was signed is a different signature too.
  const v = new URL(m.upload.url);
  if (isS3(m.upload.url)) v.searchParams.set('X-Amz-Expires', '3600');
  else v.searchParams.set('exp', String(Number(v.searchParams.get('exp')) + 3600));
  r = await put({ ...m.upload, url: v.toString() }, bytes);
  assert.equal(r.status, 403, `extended: ${r.status}`);

  // None of that stored anything: the object is still missing...
  const loc = await downloadUrl(alice, m.id);
  assert.equal((await fetchBytes(loc)).status, 404);
  // ...and the right upload still works (if its URL has not expired meanwhile: run.sh
  // makes upload URLs short-lived for the expiry test).
  if (Date.parse(m.upload.expires_at) - Date.now() < 1000) return;
  r = await put(m.upload, bytes);
  assert.ok(r.status === 200 || r.status === 201, `right one: ${r.status} ${r.text.slice(0, 200)}`);
  const got = await fetchBytes(loc);
  assert.equal(got.status, 200);
  assert.ok(got.bytes.equals(bytes));
});

test('an upload URL stops working when it expires', async (t) => {
  const alice = await signup();
  const bytes = randomBytes(100);
  const m = await presignOk(alice, bytes, 'image/gif', 'a.gif');
  const wait = Date.parse(m.upload.expires_at) - Date.now();
  if (wait > 30000) return t.skip(`upload URLs live ${Math.round(wait / 1000)} s here (set MISSIVE_MEDIA_UPLOAD_TTL low)`);
  await sleep(wait + 1500);
  const r = await put(m.upload, bytes);
  assert.equal(r.status, 403, `expired: ${r.status} ${r.text.slice(0, 200)}`);
  const loc = await downloadUrl(alice, m.id);
  assert.equal((await fetchBytes(loc)).status, 404, 'nothing stored');
});

test('local storage: no overwrite, no unsigned access, no way around the check', async (t) => {
  const alice = await signup();
  const bytes = randomBytes(1000);
  const m = await presignOk(alice, bytes, 'image/webp', 'a.webp');
  if (isS3(m.upload.url)) return t.skip('S3 stores allow a presigned PUT to overwrite until it expires');
  let r = await put(m.upload, bytes);
  assert.equal(r.status, 201, `first: ${r.status} ${r.text.slice(0, 200)}`);
  r = await put(m.upload, randomBytes(1000));
  assert.equal(r.status, 403, `second PUT to the same key: ${r.status}`);
  assert.equal(r.headers.get('content-type'), 'application/problem+json');
  assert.match(JSON.parse(r.text).detail, /already/);
  const loc = await downloadUrl(alice, m.id);
  const first = await fetchBytes(loc);
  assert.ok(first.bytes.equals(bytes), 'the first upload stays');
  assert.equal(first.headers.get('content-type'), 'image/webp');
  assert.equal(first.headers.get('x-content-type-options'), 'nosniff');
  assert.match(first.headers.get('content-security-policy') ?? '', /sandbox/);

  const u = new URL(loc);
  const base = `${u.origin}${u.pathname}`;
  const key = u.pathname.split('/').pop();
  for (const [what, url] of [
    ['no signature', base],
    ['signature of the PUT used for a GET', `${base}?${new URL(m.upload.url).searchParams}`],
    ['another disposition', `${base}?${new URLSearchParams({ ...Object.fromEntries(u.searchParams), cd: 'attachment' })}`],
  ]) {
    const g = await fetchBytes(url);
    assert.equal(g.status, 403, `${what}: ${g.status}`);
  }
  // Paths that are not exactly a key, and the internal check itself, are not reachable.
  for (const path of [`/media/${key}/`, `/media/${key}.webp`, `/media/x${key}`, '/media/', `/internal/media-auth`]) {
    const g = await fetch(`${u.origin}${path}${u.search}`, { redirect: 'manual' });
    await g.arrayBuffer();
    assert.equal(g.status, 404, `${path}: ${g.status}`);
  }
  // Methods other than GET/HEAD/PUT are refused.
  for (const method of ['DELETE', 'POST', 'MKCOL']) {
    const g = await fetch(loc, { method, redirect: 'manual' });
    await g.arrayBuffer();
    assert.equal(g.status, 403, `${method}: ${g.status}`);
  }
  const head = await fetch(loc, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), '1000');
});

// ---------------------------------------------------------------- who may download

test('GET /v1/media/{id}: others get 404; variants; bad ids', async () => {
  const alice = await signup();
  const carol = await signup();
  const m = await uploadOk(alice, randomBytes(10), 'image/png', 'a.png');
  let res = await mediaApi('GET', `/v1/media/${m.id}`, { token: carol.token });
  assertProblem(res, 404, 'not-found');
  res = await mediaApi('GET', '/v1/media/999999999', { token: alice.token });
  assertProblem(res, 404, 'not-found');
  res = await mediaApi('GET', `/v1/media/${m.id}?variant=thumb`, { token: alice.token });
  assertProblem(res, 404, 'not-found');
  assert.match(res.body.detail, /no thumbnail/);
  res = await mediaApi('GET', `/v1/media/${m.id}?variant=thumb`, { token: carol.token });
  assertProblem(res, 404, 'not-found');
  assert.doesNotMatch(res.body.detail, /thumbnail/, 'a stranger learns nothing about the media');
  res = await mediaApi('GET', `/v1/media/${m.id}?variant=huge`, { token: alice.token });
  assertProblem(res, 400, 'bad-request', 'variant');
  res = await mediaApi('GET', '/v1/media/abc', { token: alice.token });
  assertProblem(res, 400, 'bad-request');
  res = await mediaApi('GET', `/v1/media/${m.id}`);
  assertProblem(res, 401, 'unauthorized');
});

// ---------------------------------------------------------------- attached to messages

test('media in a message: the recipient downloads it, a non-member gets 404, missing uploads are refused', async (t) => {
  const alice = await signup();
  const bob = await signup();
  const carol = await signup();
  const conv = await activeDirect(alice, bob);
  const bytes = randomBytes(20000);
  const photo = await uploadOk(alice, bytes, 'image/jpeg', 'beach.jpg');

  const sent = await sendWithMedia(alice, conv, [photo.id]);
  if (mediaSendUnsupported(sent)) return t.skip('the send path does not take media_ids yet');
  assertStatus(sent, 201);
  assert.deepEqual(sent.body.media_ids, [photo.id]);
  const seen = (await history(bob, conv)).find((x) => x.seq === sent.body.seq);
  assert.deepEqual(seen.media_ids, [photo.id]);

  const got = await fetchBytes(await downloadUrl(bob, photo.id));
  assert.equal(got.status, 200);
  assert.ok(got.bytes.equals(bytes), 'the recipient gets the exact bytes');
  assert.equal(got.headers.get('content-type'), 'image/jpeg');
  assertProblem(await mediaApi('GET', `/v1/media/${photo.id}`, { token: carol.token }), 404, 'not-found');

  // Presigned but never uploaded: refused at send, nothing stored.
  const ghost = await presignOk(alice, randomBytes(10), 'image/png', 'ghost.png');
  let res = await sendWithMedia(alice, conv, [ghost.id]);
  assertProblem(res, 422, 'validation', 'media_ids');
  assert.match(res.body.detail, /missing or incomplete/);
  // Someone else's media, and ids that do not exist: 404.
  const bobs = await uploadOk(bob, randomBytes(10), 'image/png', 'b.png');
  res = await sendWithMedia(alice, conv, [bobs.id]);
  assertProblem(res, 404, 'not-found', 'media_ids');
  res = await sendWithMedia(alice, conv, [987654321]);
  assertProblem(res, 404, 'not-found', 'media_ids');
  // Malformed lists.
  res = await sendWithMedia(alice, conv, [photo.id, photo.id]);
  assert.ok([400, 422].includes(res.status), `duplicate ids: ${res.status}`);
  res = await sendWithMedia(alice, conv, Array.from({ length: 11 }, (_, i) => i + 1));
  assert.ok([400, 422].includes(res.status), `11 ids: ${res.status}`);
  const after = await history(bob, conv);
  assert.equal(after.length, 1, 'no refused send left a message');

  // Bob forwards nothing of Alice's, but a group member who joins later cannot see it either.
  const g = await group(alice, [bob], 'with media');
  const inGroup = await sendWithMedia(alice, g.id, [photo.id], 'again');
  assertStatus(inGroup, 201);
  assertStatus(await api('POST', `/v1/conversations/${g.id}/members`, { token: alice.token, body: { user_ids: [carol.id] } }), 200);
  assertProblem(await mediaApi('GET', `/v1/media/${photo.id}`, { token: carol.token }), 404, 'not-found');

  // Once every message holding it is deleted, only the uploader still sees it.
  assertStatus(await api('DELETE', `/v1/conversations/${conv}/messages/${sent.body.seq}`, { token: alice.token }), 204);
  assertStatus(await api('DELETE', `/v1/conversations/${g.id}/messages/${inGroup.body.seq}`, { token: alice.token }), 204);
  assertProblem(await mediaApi('GET', `/v1/media/${photo.id}`, { token: bob.token }), 404, 'not-found');
  await downloadUrl(alice, photo.id);
});

// ---------------------------------------------------------------- thumbnails

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** A real RGB PNG of width x height (colour stripes), written here with node:zlib. */
function makePng(width, height) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB, deflate, no filter, no interlace
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1); // filter byte 0 (none)
    for (let x = 0; x < width; x++) {
      const o = row + 1 + x * 3;
      raw[o] = (x >> 5) * 40;
      raw[o + 1] = (y >> 4) * 60;
      raw[o + 2] = 128;
    }
  }
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))]);
}

/** Width and height from a WebP file's first chunk (VP8X, VP8 or VP8L), or null. */
function webpSize(b) {
  if (b.length < 30 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WEBP') return null;
  const kind = b.toString('latin1', 12, 16);
  if (kind === 'VP8X') return { width: b.readUIntLE(24, 3) + 1, height: b.readUIntLE(27, 3) + 1 };
  if (kind === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
    return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
  }
  if (kind === 'VP8L' && b[20] === 0x2f) {
    const bits = b.readUInt32LE(21);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  return null;
}

/**
 * Asks for the thumbnail until the answer is final: the 302's Location once it is
 * made, or the 404 problem once the media will get none ("yet" means wait).
 */
async function awaitThumb(user, id, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await mediaApi('GET', `/v1/media/${id}?variant=thumb`, { token: user.token });
    if (res.status === 302) return res;
    assertProblem(res, 404, 'not-found', 'variant');
    assert.match(res.body.detail, /no thumbnail/);
    if (!/\byet\b/.test(res.body.detail)) return res;
    assert.ok(Date.now() < deadline, `no thumbnail for media ${id} after ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** The worker of the stack is still the process it was (it did not crash). */
function workerPid() {
  const s = loadStack();
  const pid = Number(readFileSync(`${s.MISSIVE_DIR}/run/worker.pid`, 'utf8').trim());
  process.kill(pid, 0); // throws if it is gone
  return pid;
}

test('thumbnails: a sent image gets a 320 px WebP preview that exactly its viewers can fetch', async (t) => {
  const alice = await signup();
  const bob = await signup();
  const carol = await signup();
  const conv = await activeDirect(alice, bob);
  const png = makePng(960, 240);
  const m = await uploadOk(alice, png, 'image/png', 'stripes.png');

  // Not sent yet: no thumbnail is made, and the answer says so for good.
  let res = await mediaApi('GET', `/v1/media/${m.id}?variant=thumb`, { token: alice.token });
  assertProblem(res, 404, 'not-found', 'variant');
  assert.doesNotMatch(res.body.detail, /\byet\b/);

  const sent = await sendWithMedia(alice, conv, [m.id], 'stripes');
  if (mediaSendUnsupported(sent)) return t.skip('the send path does not take media_ids yet');
  assertStatus(sent, 201);

  res = await awaitThumb(bob, m.id);
  assert.equal(res.status, 302, `bob: ${res.text}`);
  const got = await fetchBytes(res.headers.get('location'));
  assert.equal(got.status, 200);
  assert.equal(got.headers.get('content-type'), 'image/webp');
  assert.match(got.headers.get('content-disposition') ?? '', /filename="stripes\.webp"/);
  assert.deepEqual(webpSize(got.bytes), { width: 320, height: 80 }, 'longest side 320, aspect kept');
  assert.ok(got.bytes.length < png.length, 'smaller than the original');
  // A key of its own: not the original's.
  const origLoc = await downloadUrl(bob, m.id);
  assert.notEqual(new URL(origLoc).pathname, new URL(res.headers.get('location')).pathname);
  assert.ok((await fetchBytes(origLoc)).bytes.equals(png), 'the original is untouched');

  // The uploader too; a stranger learns nothing, as for the original.
  assertStatus(await mediaApi('GET', `/v1/media/${m.id}?variant=thumb`, { token: alice.token }), 302);
  res = await mediaApi('GET', `/v1/media/${m.id}?variant=thumb`, { token: carol.token });
  assertProblem(res, 404, 'not-found');
  assert.doesNotMatch(res.body.detail, /thumbnail/);

  // Small images keep their size; JPEG-declared PNG bytes are not decoded as PNG.
  const small = await uploadOk(alice, makePng(200, 100), 'image/png', 'small.png');
  const liar = await uploadOk(alice, makePng(400, 400), 'image/jpeg', 'liar.jpg');
  assertStatus(await sendWithMedia(alice, conv, [small.id, liar.id], 'two more'), 201);
  res = await awaitThumb(bob, small.id);
  assert.equal(res.status, 302);
  assert.deepEqual(webpSize((await fetchBytes(res.headers.get('location'))).bytes), { width: 200, height: 100 });
  res = await awaitThumb(bob, liar.id);
  assertProblem(res, 404, 'not-found', 'variant');

  // Not images: no thumbnail, said at once.
  const clip = await uploadOk(alice, randomBytes(500), 'video/mp4', 'clip.mp4');
  assertStatus(await sendWithMedia(alice, conv, [clip.id], 'a clip'), 201);
  res = await mediaApi('GET', `/v1/media/${clip.id}?variant=thumb`, { token: bob.token });
  assertProblem(res, 404, 'not-found', 'variant');
  assert.doesNotMatch(res.body.detail, /\byet\b/);
});

test('thumbnails: a corrupt image never gets one, and the worker goes on with the next', async (t) => {
  const alice = await signup();
  const bob = await signup();
  const conv = await activeDirect(alice, bob);
  const pid = workerPid();
  const good = makePng(640, 480);
  // A PNG header with garbage after it, a truncated PNG, and noise.
  const corrupt = Buffer.concat([good.subarray(0, 33), randomBytes(4000)]);
  const truncated = good.subarray(0, Math.floor(good.length / 2));
  const noise = randomBytes(3000);
  const ids = [];
  for (const [bytes, name] of [[corrupt, 'corrupt.png'], [truncated, 'truncated.png'], [noise, 'noise.png']]) {
    ids.push((await uploadOk(alice, bytes, 'image/png', name)).id);
  }
  const sent = await sendWithMedia(alice, conv, ids, 'broken');
  if (mediaSendUnsupported(sent)) return t.skip('the send path does not take media_ids yet');
  assertStatus(sent, 201);
  for (const id of ids) {
    const res = await awaitThumb(bob, id);
    assertProblem(res, 404, 'not-found', 'variant');
  }
  // The worker is the same process, and still makes thumbnails.
  const after = await uploadOk(alice, good, 'image/png', 'good.png');
  assertStatus(await sendWithMedia(alice, conv, [after.id], 'good'), 201);
  const res = await awaitThumb(bob, after.id);
  assert.equal(res.status, 302);
  assert.deepEqual(webpSize((await fetchBytes(res.headers.get('location'))).bytes), { width: 320, height: 240 });
  assert.equal(workerPid(), pid);
  // Given up for good: still none later.
  for (const id of ids) {
    assertProblem(await mediaApi('GET', `/v1/media/${id}?variant=thumb`, { token: bob.token }), 404, 'not-found', 'variant');
  }
});

// ---------------------------------------------------------------- sweep

function runSweep() {
  const s = loadStack();
  const bin = `${process.env.MISSIVE_BIN_DIR ?? `${ROOT}bin`}/missive-worker`;
  execFileSync(bin, ['-c', s.MISSIVE_CONF, '--once', 'sweep'], { stdio: ['ignore', 'ignore', 'pipe'] });
}

test('the sweep removes abandoned uploads (object and row) and keeps attached ones', async (t) => {
  const alice = await signup();
  const bob = await signup();
  const conv = await activeDirect(alice, bob);
  const old = await uploadOk(alice, randomBytes(50), 'image/png', 'old.png');
  const fresh = await uploadOk(alice, randomBytes(50), 'image/png', 'fresh.png');
  const oldUrl = await downloadUrl(alice, old.id);
  sql(`UPDATE media SET created_at = created_at - interval '25 hours' WHERE id = ${old.id}`);

  let kept = null;
  const attached = await uploadOk(alice, randomBytes(50), 'image/png', 'kept.png');
  const sent = await sendWithMedia(alice, conv, [attached.id]);
  if (!mediaSendUnsupported(sent)) {
    assertStatus(sent, 201);
    kept = attached;
    sql(`UPDATE media SET created_at = created_at - interval '25 hours', checked_at = checked_at - interval '25 hours' WHERE id = ${kept.id}`);
  }

  runSweep();
  assertProblem(await mediaApi('GET', `/v1/media/${old.id}`, { token: alice.token }), 404, 'not-found');
  assert.equal(sql(`SELECT count(*) FROM media WHERE id = ${old.id}`), '0');
  assert.equal((await fetchBytes(oldUrl)).status, 404, 'the object is gone from the store');
  assert.equal((await fetchBytes(await downloadUrl(alice, fresh.id))).status, 200, 'a fresh upload stays');
  if (!kept) return t.skip('the send path does not take media_ids yet: attached media not checked');
  assert.equal((await fetchBytes(await downloadUrl(bob, kept.id))).status, 200, 'attached media stays');

  // Its message deleted (and the grace after the send over): it goes too.
  assertStatus(await api('DELETE', `/v1/conversations/${conv}/messages/${sent.body.seq}`, { token: alice.token }), 204);
  const keptUrl = await downloadUrl(alice, kept.id);
  runSweep();
  assert.equal(sql(`SELECT count(*) FROM media WHERE id = ${kept.id}`), '1', 'not within the grace');
  sql(`UPDATE media_sweep SET due_at = now() - interval '1 second' WHERE media_id = ${kept.id}`);
  runSweep();
  assert.equal(sql(`SELECT count(*) FROM media WHERE id = ${kept.id}`), '0');
  assert.equal((await fetchBytes(keptUrl)).status, 404);

  // Checked by a send that then failed (not a member there): never held, it goes
  // once an unsent upload would have.
  const carol = await signup();
  const elsewhere = await activeDirect(bob, carol);
  const stray = await uploadOk(alice, randomBytes(50), 'image/png', 'stray.png');
  assertProblem(await sendWithMedia(alice, elsewhere, [stray.id]), 404, 'not-found');
  const strayUrl = await downloadUrl(alice, stray.id);
  runSweep();
  assert.equal((await fetchBytes(strayUrl)).status, 200, 'kept for a day');
  sql(`UPDATE media SET checked_at = checked_at - interval '25 hours' WHERE id = ${stray.id}`);
  sql(`UPDATE media_sweep SET due_at = now() - interval '1 second' WHERE media_id = ${stray.id}`);
  runSweep();
  assert.equal(sql(`SELECT count(*) FROM media WHERE id = ${stray.id}`), '0');
  assert.equal((await fetchBytes(strayUrl)).status, 404);
});

test('the sweep removes the thumbnail together with its image', async (t) => {
  const alice = await signup();
  const bob = await signup();
  const conv = await activeDirect(alice, bob);
  const m = await uploadOk(alice, makePng(500, 500), 'image/png', 'gone.png');
  const sent = await sendWithMedia(alice, conv, [m.id]);
  if (mediaSendUnsupported(sent)) return t.skip('the send path does not take media_ids yet');
  assertStatus(sent, 201);
  const thumb = await awaitThumb(bob, m.id);
  assert.equal(thumb.status, 302);
  const thumbUrl = thumb.headers.get('location');
  const origUrl = await downloadUrl(alice, m.id);
  assert.equal((await fetchBytes(thumbUrl)).status, 200);

  assertStatus(await api('DELETE', `/v1/conversations/${conv}/messages/${sent.body.seq}`, { token: alice.token }), 204);
  sql(`UPDATE media SET checked_at = checked_at - interval '25 hours' WHERE id = ${m.id}`);
  sql(`UPDATE media_sweep SET due_at = now() - interval '1 second' WHERE media_id = ${m.id}`);
  runSweep();
  assert.equal(sql(`SELECT count(*) FROM media WHERE id = ${m.id}`), '0');
  assert.equal((await fetchBytes(origUrl)).status, 404, 'the original is gone from the store');
  assert.equal((await fetchBytes(thumbUrl)).status, 404, 'the thumbnail is gone from the store');
});

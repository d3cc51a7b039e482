// Cross-checks lib/webpush.c against the npm web-push package (and its http_ece).
// Developer-only: the C unit test reads the committed fixture, so node is not needed at
// test time. In tests/tools, after `npm ci`:
//
//   node webpush-xcheck.mjs gen > ../unit/webpush_vectors/webpush_npm.txt
//       (npm run webpush-fixture) Known answers made by web-push: aes128gcm bodies from
//       fixed keys and salts, which webpush_encrypt_with must reproduce byte for byte, and
//       VAPID headers, whose signed part webpush_vapid_header must reproduce.
//   node webpush-xcheck.mjs verify FILE
//       The other direction: FILE is written by the C unit test when run with
//       WEBPUSH_XCHECK_OUT=FILE (bodies from webpush_encrypt with fresh random keys, and
//       VAPID headers). Every body must decrypt with http_ece to the plaintext the C side
//       meant, and every JWT must verify with node's crypto and carry the expected claims.
//
// The fixture format, shared with tests/unit/test_webpush.c: records separated by blank
// lines; each line "key value"; binary values base64url; '#' starts a comment line.
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';

const require = createRequire(import.meta.url);
const webpush = require('web-push');
const ece = require('http_ece');
const b64 = (buf) => Buffer.from(buf).toString('base64url');
const unb64 = (s) => Buffer.from(s, 'base64url');

function ecdhFromPrivate(priv) {
  const e = crypto.createECDH('prime256v1');
  e.setPrivateKey(priv);
  return e;
}

// Fixed but unremarkable keys: a P-256 scalar from a label (SHA-256 is below the group
// order with overwhelming probability, and setPrivateKey would throw otherwise).
const scalar = (label) => crypto.createHash('sha256').update('missive webpush xcheck ' + label).digest();
// Plaintext that is neither text nor all one byte, so truncation or reordering shows.
function pattern(n) {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + (i >> 8) * 13 + 1) & 0xff;
  return out;
}

// extra: http_ece options that lib/webpush.c never uses when encrypting (padding, another
// record size); such bodies are only for webpush_decrypt ("decrypt_only" in the record).
// expect: what webpush_decrypt must do with the body, 'ok' or 'reject'.
function encryptCase(name, uaPriv, auth, asPriv, salt, plaintext, extra = {}, expect = 'ok') {
  const ua = ecdhFromPrivate(uaPriv);
  const body = ece.encrypt(plaintext, {
    version: 'aes128gcm',
    dh: ua.getPublicKey(),
    privateKey: ecdhFromPrivate(asPriv),
    salt,
    authSecret: auth,
    ...extra,
  });
  // Guard the fixture itself: http_ece must read back what it wrote.
  const back = ece.decrypt(body, { version: 'aes128gcm', privateKey: ua, authSecret: auth });
  if (!back.equals(plaintext)) throw new Error(name + ': http_ece round trip failed');
  return [
    ['case', name],
    ['ua_private', b64(uaPriv)],
    ['ua_public', b64(ua.getPublicKey())],
    ['auth', b64(auth)],
    ['as_private', b64(asPriv)],
    ['salt', b64(salt)],
    ['plaintext', b64(plaintext)],
    ['body', b64(body)],
    ...(Object.keys(extra).length ? [['decrypt_only', JSON.stringify(extra)]] : []),
    ['decrypt', expect],
  ];
}

function vapidCase(name, endpoint, subject) {
  const priv = scalar('vapid');
  const ecdh = ecdhFromPrivate(priv);
  const publicKey = b64(ecdh.getPublicKey());
  // web-push computes the audience from the endpoint itself, the way sendNotification does.
  const details = webpush.generateRequestDetails(
    { endpoint, keys: { p256dh: b64(ecdhFromPrivate(scalar('ua1')).getPublicKey()), auth: b64(Buffer.alloc(16, 1)) } },
    'x',
    { vapidDetails: { subject, publicKey, privateKey: b64(priv) }, TTL: 60 },
  );
  const authz = details.headers.Authorization;
  const jwt = authz.match(/^vapid t=([^,]+), k=/)[1];
  const claims = JSON.parse(unb64(jwt.split('.')[1]));
  // web-push's default lifetime is 12 h from its own clock; the C test signs at the same instant.
  const ttl = 12 * 60 * 60;
  // A PEM as an operator would hold it: SEC1 "EC PRIVATE KEY", as web-push itself builds.
  const pem = crypto.createPrivateKey({
    key: { kty: 'EC', crv: 'P-256', d: b64(priv), x: b64(ecdh.getPublicKey().subarray(1, 33)), y: b64(ecdh.getPublicKey().subarray(33)) },
    format: 'jwk',
  }).export({ type: 'sec1', format: 'der' }).toString('base64');
  return [
    ['case', name],
    // The PEM body on one line: the test adds the BEGIN/END EC PRIVATE KEY lines.
    ['vapid_private_pem_body', pem],
    ['vapid_public', publicKey],
    ['endpoint', endpoint],
    ['subject', subject],
    ['aud', claims.aud],
    ['now', String(claims.exp - ttl)],
    ['ttl', String(ttl)],
    ['authorization', authz],
  ];
}

function gen() {
  const rfcUa = unb64('q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94');
  const records = [
    // RFC 8291 appendix A: http_ece must give the RFC's body, or nothing else here counts.
    encryptCase('rfc8291', rfcUa, unb64('BTBZMqHH6r4Tts7J_aSIgg'),
      unb64('yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw'), unb64('DGv6ra1nlYgDCS1FRnbzlw'),
      Buffer.from('When I grow up, I want to be a watermelon')),
    encryptCase('json', scalar('ua1'), scalar('auth1').subarray(0, 16), scalar('as1'),
      scalar('salt1').subarray(0, 16),
      Buffer.from(JSON.stringify({ type: 'message', conversation: 42, preview: 'Grüße, 世界 👋' }))),
    encryptCase('empty', scalar('ua2'), scalar('auth2').subarray(0, 16), scalar('as2'),
      scalar('salt2').subarray(0, 16), Buffer.alloc(0)),
    encryptCase('one-byte', scalar('ua3'), scalar('auth3').subarray(0, 16), scalar('as3'),
      scalar('salt3').subarray(0, 16), Buffer.from([0x02])),
    // The largest single-record body: exactly 4096 bytes.
    encryptCase('max', scalar('ua4'), scalar('auth4').subarray(0, 16), scalar('as4'),
      scalar('salt4').subarray(0, 16), pattern(3993)),
    encryptCase('padded', scalar('ua5'), scalar('auth5').subarray(0, 16), scalar('as5'),
      scalar('salt5').subarray(0, 16), Buffer.from('padding after the delimiter'), { pad: 37 }),
    encryptCase('small-rs', scalar('ua6'), scalar('auth6').subarray(0, 16), scalar('as6'),
      scalar('salt6').subarray(0, 16), pattern(150), { rs: 200 }),
    // Several records: webpush_decrypt must refuse (it handles the one record we send).
    encryptCase('multi-record', scalar('ua7'), scalar('auth7').subarray(0, 16), scalar('as7'),
      scalar('salt7').subarray(0, 16), pattern(100), { rs: 50 }, 'reject'),
    vapidCase('vapid-default-port', 'https://fcm.googleapis.com/fcm/send/dQw4w9WgXcQ:APA91b', 'mailto:ops@missive.example'),
    vapidCase('vapid-port', 'https://push.example.net:8443/wpush/v2/gAAAAABk?x=1', 'https://missive.example/contact'),
  ];
  const body = records[0].find(([k]) => k === 'body')[1];
  if (body !== 'DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN')
    throw new Error('http_ece disagrees with RFC 8291 appendix A');

  const pkg = (n) => require(n + '/package.json').version;
  let out = `# Generated by tests/tools/webpush-xcheck.mjs gen with web-push ${pkg('web-push')}, ` +
    `http_ece ${pkg('http_ece')}, node ${process.version}. Do not edit.\n`;
  for (const r of records) out += '\n' + r.map(([k, v]) => `${k} ${v}\n`).join('');
  process.stdout.write(out);
}

function parse(text) {
  const records = [];
  let cur = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    if (line === '') { cur = null; continue; }
    if (!cur) records.push((cur = {}));
    const sp = line.indexOf(' ');
    cur[line.slice(0, sp)] = line.slice(sp + 1);
  }
  return records;
}

function verify(file) {
  let ok = 0;
  for (const r of parse(fs.readFileSync(file, 'utf8'))) {
    if (r.body) {
      const pt = ece.decrypt(unb64(r.body), {
        version: 'aes128gcm',
        privateKey: ecdhFromPrivate(unb64(r.ua_private)),
        authSecret: unb64(r.auth),
      });
      if (!pt.equals(unb64(r.plaintext))) throw new Error(r.case + ': plaintext differs');
      console.log(`ok  ${r.case}: ${unb64(r.body).length}-byte body decrypts with http_ece to ${pt.length} bytes`);
    } else if (r.authorization) {
      const m = r.authorization.match(/^vapid t=([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+), k=([A-Za-z0-9_-]+)$/);
      if (!m) throw new Error(r.case + ': malformed header');
      const [, h, c, s, k] = m;
      const header = JSON.parse(unb64(h));
      const claims = JSON.parse(unb64(c));
      if (header.typ !== 'JWT' || header.alg !== 'ES256') throw new Error(r.case + ': header ' + JSON.stringify(header));
      if (claims.aud !== r.aud || claims.sub !== r.subject || claims.exp !== Number(r.now) + Number(r.ttl))
        throw new Error(r.case + ': claims ' + JSON.stringify(claims));
      if (unb64(s).length !== 64) throw new Error(r.case + ': signature is not 64 bytes');
      const pub = unb64(k);
      const key = crypto.createPublicKey({
        key: { kty: 'EC', crv: 'P-256', x: b64(pub.subarray(1, 33)), y: b64(pub.subarray(33)) },
        format: 'jwk',
      });
      // ieee-p1363 is the JWS R||S form; node would reject DER here.
      if (!crypto.verify('sha256', Buffer.from(h + '.' + c), { key, dsaEncoding: 'ieee-p1363' }, unb64(s)))
        throw new Error(r.case + ': signature does not verify');
      // And the way web-push's own dependency verifies a JWT.
      const jws = require('jws');
      if (!jws.verify(`${h}.${c}.${s}`, 'ES256', key.export({ type: 'spki', format: 'pem' })))
        throw new Error(r.case + ': jws.verify failed');
      console.log(`ok  ${r.case}: JWT verifies (node crypto, jws), aud ${claims.aud}`);
    } else {
      continue;
    }
    ok++;
  }
  if (ok === 0) throw new Error('nothing to verify in ' + file);
  console.log(`${ok} checks passed`);
}

const [mode, file] = process.argv.slice(2);
if (mode === 'gen') gen();
else if (mode === 'verify' && file) verify(file);
else {
  console.error('usage: node webpush-xcheck.mjs gen | verify FILE');
  process.exit(2);
}

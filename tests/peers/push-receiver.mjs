// Strict Web Push receiver (RFC 8030 + RFC 8291 aes128gcm + RFC 8292 VAPID), node:crypto only.
// env: PUSH_PORT (19090), PUSH_PRIV + PUSH_AUTH (base64url; generated if unset), PUSH_APP_KEY (expected k=, optional),
//      PUSH_TLS_CERT + PUSH_TLS_KEY (PEM files: serve https), PUSH_ORIGIN (expected aud; default the listen origin)
// GET /subscription -> {endpoint, keys}; POST /push/<id> -> 201 | 400 {errors}; GET /messages; DELETE /messages;
// POST /next-status/<code> makes the next push answer <code> (404, 410, 429 + Retry-After: 1, 500...) unchecked.
import http from "node:http"; import https from "node:https"; import fs from "node:fs"; import crypto from "node:crypto";
const b64u = (b) => Buffer.from(b).toString("base64url"), unb64u = (s) => Buffer.from(s, "base64url");
const tls = process.env.PUSH_TLS_CERT && { cert: fs.readFileSync(process.env.PUSH_TLS_CERT), key: fs.readFileSync(process.env.PUSH_TLS_KEY) };
const port = +(process.env.PUSH_PORT || 19090), origin = process.env.PUSH_ORIGIN || `${tls ? "https" : "http"}://127.0.0.1:${port}`;
const ua = crypto.createECDH("prime256v1");
if (process.env.PUSH_PRIV) ua.setPrivateKey(unb64u(process.env.PUSH_PRIV)); else ua.generateKeys();
const auth = process.env.PUSH_AUTH ? unb64u(process.env.PUSH_AUTH) : crypto.randomBytes(16);
const hkdf = (salt, ikm, info, n) => Buffer.from(crypto.hkdfSync("sha256", ikm, salt, Buffer.from(info), n));
let messages = [], nextStatus = 0;
function check(req, body) {
  const errs = [], h = req.headers, out = { path: req.url, ttl: h.ttl, urgency: h.urgency, topic: h.topic };
  if (!/^\d+$/.test(h.ttl || "")) errs.push(`TTL must be a non-negative integer, got ${h.ttl}`);
  if (h.urgency && !["very-low", "low", "normal", "high"].includes(h.urgency)) errs.push("bad Urgency");
  if (h.topic && !/^[A-Za-z0-9_-]{1,32}$/.test(h.topic)) errs.push("bad Topic");
  if (h["content-encoding"] !== "aes128gcm") errs.push(`Content-Encoding must be aes128gcm, got ${h["content-encoding"]}`);
  if (body.length > 4096) errs.push(`body ${body.length} > 4096 bytes`);
  const m = /^vapid (.+)$/i.exec(h.authorization || "");
  const p = Object.fromEntries((m ? m[1] : "").split(",").map((x) => x.trim().split(/=(.*)/s).slice(0, 2)));
  if (!p.t || !p.k) errs.push("Authorization must be 'vapid t=<jwt>, k=<key>'");
  else try {
    const k = unb64u(p.k), [hd, pl, sg] = p.t.split("."), sig = unb64u(sg || "");
    if (k.length !== 65 || k[0] !== 4) errs.push("k is not an uncompressed P-256 point");
    if (process.env.PUSH_APP_KEY && p.k !== process.env.PUSH_APP_KEY) errs.push("k is not the subscription's application server key");
    const header = JSON.parse(unb64u(hd)), claims = JSON.parse(unb64u(pl)), now = Date.now() / 1000;
    out.jwtHeader = header; out.claims = claims;
    if (header.alg !== "ES256") errs.push(`JWT alg must be ES256, got ${header.alg}`);
    if (sig.length !== 64) errs.push(`JWT signature must be 64-byte R||S, got ${sig.length} bytes`);
    const jwk = { kty: "EC", crv: "P-256", x: b64u(k.subarray(1, 33)), y: b64u(k.subarray(33)) };
    if (!crypto.verify("sha256", Buffer.from(`${hd}.${pl}`), { key: jwk, format: "jwk", dsaEncoding: "ieee-p1363" }, sig))
      errs.push("JWT signature does not verify with k");
    if (claims.aud !== origin) errs.push(`aud must be ${origin}, got ${claims.aud}`);
    if (!(typeof claims.exp === "number" && claims.exp > now && claims.exp <= now + 86400 + 60)) errs.push(`exp must be in (now, now+24h], got ${claims.exp}`);
    if (!/^(mailto:|https:)/.test(claims.sub || "")) errs.push(`sub must be a mailto: or https: URI, got ${claims.sub}`);
  } catch (e) { errs.push(`VAPID: ${e.message}`); }
  try {   // RFC 8291: salt(16) rs(4) idlen(1) keyid(65) ciphertext; one record, padding delimiter 0x02
    const salt = body.subarray(0, 16), rs = body.readUInt32BE(16), idlen = body[20];
    const as = body.subarray(21, 21 + idlen), ct = body.subarray(21 + idlen);
    if (idlen !== 65 || rs < 18 || ct.length > rs || ct.length < 17) throw new Error(`bad header idlen=${idlen} rs=${rs} ct=${ct.length}`);
    const ikm = hkdf(auth, ua.computeSecret(as), Buffer.concat([Buffer.from("WebPush: info\0"), ua.getPublicKey(), as]), 32);
    const d = crypto.createDecipheriv("aes-128-gcm", hkdf(salt, ikm, "Content-Encoding: aes128gcm\0", 16), hkdf(salt, ikm, "Content-Encoding: nonce\0", 12));
    d.setAuthTag(ct.subarray(-16)); const pt = Buffer.concat([d.update(ct.subarray(0, -16)), d.final()]);
    let i = pt.length - 1; while (i >= 0 && pt[i] === 0) i--;
    if (pt[i] !== 2) throw new Error("missing 0x02 last-record delimiter");
    out.payload = b64u(pt.subarray(0, i));
  } catch (e) { errs.push(`decrypt: ${e.message}`); }
  return { ...out, ok: errs.length === 0, errors: errs };
}
const json = (res, code, obj, h = {}) => { res.writeHead(code, { "content-type": "application/json", ...h }); res.end(JSON.stringify(obj)); };
const handler = (req, res) => {
  const chunks = []; req.on("data", (c) => chunks.push(c)); req.on("end", () => {
    const body = Buffer.concat(chunks);
    if (req.method === "GET" && req.url === "/subscription")
      return json(res, 200, { endpoint: `${origin}/push/sub1`, keys: { p256dh: b64u(ua.getPublicKey()), auth: b64u(auth) } });
    if (req.url === "/messages") { if (req.method === "DELETE") messages = []; return json(res, 200, messages); }
    const ns = /^\/next-status\/(\d{3})$/.exec(req.url);
    if (req.method === "POST" && ns) { nextStatus = +ns[1]; return json(res, 200, {}); }
    if (req.method !== "POST" || !req.url.startsWith("/push/")) return json(res, 404, {});
    if (nextStatus) { const s = nextStatus; nextStatus = 0; return json(res, s, { forced: s }, s === 429 ? { "retry-after": "1" } : {}); }
    const r = check(req, body); messages.push(r);
    if (!r.ok) return json(res, 400, r);
    res.writeHead(201, { location: `${origin}/msg/${messages.length}` }); res.end();
  });
};
(tls ? https.createServer(tls, handler) : http.createServer(handler)).listen(port, "127.0.0.1", () => console.log(`push receiver on ${origin}`));

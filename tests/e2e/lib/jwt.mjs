// Forging JWTs for the token tests, with node:crypto only.

import { createHmac } from 'node:crypto';

const HASH = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

export function b64url(data) {
  return Buffer.from(typeof data === 'string' ? data : JSON.stringify(data)).toString('base64url');
}

/**
 * Signs payload with key (Buffer or string). alg: HS256 | HS384 | HS512 | none.
 * header adds or overrides header fields (default {alg, typ: "JWT"}).
 */
export function forgeJwt(payload, { key, alg = 'HS256', header = {} } = {}) {
  const head = { alg, typ: 'JWT', ...header };
  const input = `${b64url(JSON.stringify(head))}.${b64url(JSON.stringify(payload))}`;
  if (alg === 'none') return `${input}.`;
  const hash = HASH[alg];
  if (!hash) throw new Error(`forgeJwt: unsupported alg ${alg}`);
  if (key === undefined || key === null) throw new Error('forgeJwt: key required');
  return `${input}.${createHmac(hash, key).update(input).digest('base64url')}`;
}

/** { header, payload, signature } of a JWT, without checking anything. */
export function decodeJwt(token) {
  const [h, p, s] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
    signature: s,
  };
}

export function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

/** Access-token claims like the server's: typ "access", sub, sid, iat, exp. */
export function accessClaims({ sub, sid, iat = nowSeconds(), ttl = 900, ...rest }) {
  return { typ: 'access', sub, sid, iat, exp: iat + ttl, ...rest };
}

// Ready-made bad tokens for user sub / session sid. secret is the real key.

export function validToken(secret, sub, sid) {
  return forgeJwt(accessClaims({ sub, sid }), { key: secret });
}

export function expiredToken(secret, sub, sid) {
  // Well past the server's 60 s clock-skew allowance.
  const iat = nowSeconds() - 3600;
  return forgeJwt(accessClaims({ sub, sid, iat, ttl: 900 }), { key: secret });
}

export function algNoneToken(sub, sid) {
  return forgeJwt(accessClaims({ sub, sid }), { alg: 'none' });
}

export function wrongKeyToken(sub, sid) {
  return forgeJwt(accessClaims({ sub, sid }), { key: 'not-the-server-secret-0123456789abcdef' });
}

export function wrongTypToken(secret, sub, sid, typ = 'ticket') {
  return forgeJwt(accessClaims({ sub, sid, typ }), { key: secret });
}

export function hs512Token(secret, sub, sid) {
  return forgeJwt(accessClaims({ sub, sid }), { key: secret, alg: 'HS512' });
}

/** Same signature, payload swapped: the signature no longer matches. */
export function tamperedToken(realToken, changes) {
  const [h, , s] = realToken.split('.');
  const payload = { ...decodeJwt(realToken).payload, ...changes };
  return `${h}.${b64url(JSON.stringify(payload))}.${s}`;
}

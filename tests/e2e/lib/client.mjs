// Small fetch wrapper for the e2e tests. Every response goes through the
// openapi.yaml contract check (lib/contract.mjs) before the test sees it.

import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { loadStack } from './stack.mjs';
import { checkResponse, parseMediaType } from './contract.mjs';

export function baseUrl() {
  return loadStack().MISSIVE_URL;
}

/**
 * api(method, path, opts) -> { status, headers, body, text, contentType }
 *
 * opts:
 *   body     value sent as JSON (Content-Type: application/json unless headers say otherwise)
 *   raw      string/Buffer sent verbatim (Content-Type: application/json unless headers say otherwise;
 *            pass headers {'content-type': null} to send none)
 *   token    access token for `Authorization: Bearer <token>`
 *   headers  extra request headers (a null value removes a default)
 *   undocumented  the route is deliberately not in openapi.yaml; the answer must still be problem+json
 *   contract false skips the contract check (only for a test that checks the checker)
 *
 * body of the result is parsed JSON for application/json and application/*+json,
 * the text otherwise.
 */
export async function api(method, path, opts = {}) {
  const { body, raw, token, headers = {}, undocumented = false, contract = true, timeoutMs = 30000 } = opts;
  const h = new Headers();
  let payload;
  if (raw !== undefined) {
    payload = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
    h.set('content-type', 'application/json');
  } else if (body !== undefined) {
    payload = Buffer.from(JSON.stringify(body), 'utf8');
    h.set('content-type', 'application/json');
  }
  if (token !== undefined && token !== null) h.set('authorization', `Bearer ${token}`);
  for (const [k, v] of Object.entries(headers)) {
    if (v === null || v === undefined) h.delete(k);
    else h.set(k, v);
  }

  const url = baseUrl() + path;
  let r;
  try {
    r = await fetch(url, {
      method,
      headers: h,
      body: payload,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw new Error(`${method} ${path}: request failed: ${e.cause?.message ?? e.message}`, { cause: e });
  }
  const text = await r.text();
  const ct = parseMediaType(r.headers.get('content-type'));
  let parsed = text;
  if (ct && (ct.type === 'application/json' || ct.type.endsWith('+json')) && text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text; // the contract check reports it
    }
  }
  const res = { status: r.status, headers: r.headers, body: parsed, text, contentType: ct?.type ?? null, method, path };
  if (contract) checkResponse(method, path, res, { undocumented });
  return res;
}

/** Asserts res is a problem+json of the given status/slug (and field, if given). */
export function assertProblem(res, status, slug, field) {
  const ctx = `${res.method} ${res.path} -> ${res.status} ${res.text.slice(0, 300)}`;
  assert.equal(res.status, status, `status: ${ctx}`);
  assert.equal(res.contentType, 'application/problem+json', `content type: ${ctx}`);
  assert.equal(res.body.type, `https://missive.dev/problems/${slug}`, `problem type: ${ctx}`);
  assert.equal(res.body.status, status, `problem status: ${ctx}`);
  assert.equal(typeof res.body.title, 'string', `problem title: ${ctx}`);
  if (field !== undefined) assert.equal(res.body.field, field, `problem field: ${ctx}`);
  if (status === 401) assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer\b/, `WWW-Authenticate: ${ctx}`);
}

/** Asserts the status, with the body in the message. */
export function assertStatus(res, status) {
  assert.equal(res.status, status, `${res.method} ${res.path} -> ${res.status}, expected ${status}: ${res.text.slice(0, 500)}`);
}

/**
 * A fresh valid username: prefix + '_' + random hex, at most 32 characters.
 * The prefix must itself be valid ([a-z0-9_.]).
 */
export function uniqueName(prefix = 'u', randomChars = 10) {
  const suffix = randomBytes(Math.ceil(randomChars / 2)).toString('hex').slice(0, randomChars);
  const name = `${prefix}_${suffix}`;
  if (name.length > 32) throw new Error(`uniqueName: ${name} is over 32 characters`);
  return name;
}

export function randomPassword() {
  return `pw-${randomBytes(12).toString('base64url')}`;
}

export async function createAccount(username, password, display_name) {
  const body = { username, password };
  if (display_name !== undefined) body.display_name = display_name;
  const res = await api('POST', '/v1/accounts', { body });
  assertStatus(res, 201);
  return res.body;
}

export async function login(username, password) {
  const res = await api('POST', '/v1/sessions', { body: { username, password } });
  assertStatus(res, 201);
  return res.body;
}

/**
 * Creates a user (unique name unless given) and logs in.
 * -> { id, username, password, display_name, user, token, refresh_token, session_id, session }
 */
export async function signup(username = uniqueName(), opts = {}) {
  const password = opts.password ?? randomPassword();
  const user = await createAccount(username, password, opts.display_name);
  const session = await login(username, password);
  return {
    id: user.id,
    username,
    password,
    display_name: user.display_name,
    user,
    token: session.access_token,
    refresh_token: session.refresh_token,
    session_id: session.session_id,
    session,
  };
}

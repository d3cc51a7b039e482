// api.js: the one way to call the Missive API (same origin, /v1/...).
//
// Answers: {status, body}. Failures: an ApiError whose message is plain words
// for the user (the problem's `detail`, else its `title`), with the problem's
// fields kept for code that branches on them (`type`, `status`, `field`).
// A 401 on an authenticated call refreshes the session once and retries.

export class ApiError extends Error {
  constructor({ status = 0, type = null, title = '', detail = '', field = null, retryAfter = null,
                network = false, requestId = null }) {
    super(detail || title || (network ? 'Cannot reach the server.' : `The request failed (${status}).`));
    this.name = 'ApiError';
    Object.assign(this, { status, type, title, detail, field, retryAfter, network, requestId });
  }

  /** The problem slug: 'validation', 'conflict', ... (null for network errors). */
  get slug() {
    return this.type ? this.type.split('/').pop() : null;
  }

  /** Whether sending the same request again later may succeed (and is safe to try). */
  get retryable() {
    return this.network || this.status === 429 || this.status >= 500;
  }
}

/** Thrown when the session is over and the user must sign in again. */
export class SessionEnded extends Error {
  constructor(message = 'Your session has ended. Please sign in again.') {
    super(message);
    this.name = 'SessionEnded';
  }
}

let hooks = {
  token: () => null,
  refresh: async () => { throw new SessionEnded(); },
};

/** auth.js plugs itself in here (no import cycle). */
export function setAuthHooks(h) {
  hooks = h;
}

const PLAIN = {
  401: 'You are not signed in.',
  404: 'That was not found. It may have been removed.',
  413: 'That is too large to send.',
  429: 'Too many requests. Please wait a moment and try again.',
  500: 'The server ran into a problem. Please try again.',
  502: 'The server is not reachable right now. Please try again in a moment.',
  503: 'The service is temporarily unavailable. Please try again in a moment.',
  504: 'The server took too long to answer. Please try again.',
};

/**
 * api(method, path, {body, auth = true, signal, timeoutMs = 20000})
 * body: sent as JSON. auth: send the access token (refreshing it when needed).
 */
export async function api(method, path, opts = {}) {
  const { body, auth = true, signal, timeoutMs = 20000, retried = false } = opts;
  const headers = { Accept: 'application/json' };
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let token = null;
  if (auth) {
    token = hooks.token();
    if (!token) {
      await hooks.refresh(null);
      token = hooks.token();
      if (!token) throw new SessionEnded();
    }
    headers.Authorization = `Bearer ${token}`;
  }

  const timeout = AbortSignal.timeout(timeoutMs);
  const sig = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, signal: sig, credentials: 'omit', cache: 'no-store' });
  } catch (e) {
    if (signal?.aborted) throw signal.reason ?? e;
    throw new ApiError({
      network: true,
      detail: timeout.aborted
        ? 'The server took too long to answer. Check your connection and try again.'
        : 'Cannot reach the server. Check your connection and try again.',
    });
  }

  if (res.status === 401 && auth && !retried) {
    await hooks.refresh(token);
    return api(method, path, { ...opts, retried: true });
  }

  const text = await res.text();
  const ct = (res.headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
  let parsed = text;
  if (text && (ct === 'application/json' || ct.endsWith('+json'))) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (res.ok) return { status: res.status, body: parsed, headers: res.headers };

  const p = parsed && typeof parsed === 'object' ? parsed : {};
  const retryAfter = Number(res.headers.get('retry-after')) || null;
  const requestId = res.headers.get('x-request-id');
  let detail = typeof p.detail === 'string' ? p.detail : '';
  if (!detail) detail = PLAIN[res.status] ?? (typeof p.title === 'string' ? p.title : '');
  if (res.status >= 500 && requestId) detail += ` (request id ${requestId})`;
  throw new ApiError({ status: res.status, type: p.type ?? null, title: p.title ?? '', detail,
                       field: p.field ?? null, retryAfter, requestId });
}

/**
 * apiBlob(path): an authenticated GET whose answer is bytes (media downloads,
 * redirects followed). Failures: ApiError as for api(); one refresh on 401.
 */
export async function apiBlob(path, { timeoutMs = 60000, retried = false } = {}) {
  let token = hooks.token();
  if (!token) {
    await hooks.refresh(null);
    token = hooks.token();
    if (!token) throw new SessionEnded();
  }
  let res;
  try {
    res = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, redirect: 'follow',
                              credentials: 'omit', signal: AbortSignal.timeout(timeoutMs) });
  } catch {
    throw new ApiError({ network: true, detail: 'Cannot reach the server. Check your connection and try again.' });
  }
  if (res.status === 401 && !retried) {
    await hooks.refresh(token);
    return apiBlob(path, { timeoutMs, retried: true });
  }
  if (res.ok) return res.blob();
  throw await problemOf(res);
}

/** An ApiError from a failed fetch Response (problem+json when there is one). */
export async function problemOf(res) {
  let p = {};
  try {
    const text = await res.text();
    if (/json/i.test(res.headers.get('content-type') || '')) p = JSON.parse(text) ?? {};
  } catch { /* not JSON: plain words below */ }
  const detail = typeof p.detail === 'string' && p.detail ? p.detail : PLAIN[res.status] ?? (typeof p.title === 'string' ? p.title : '');
  return new ApiError({ status: res.status, type: p.type ?? null, title: p.title ?? '', detail, field: p.field ?? null,
                        retryAfter: Number(res.headers.get('retry-after')) || null, requestId: res.headers.get('x-request-id') });
}

/** Path segment escaping for ids and emoji. */
export const seg = (v) => encodeURIComponent(String(v));

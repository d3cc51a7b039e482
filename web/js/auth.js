// auth.js: the session of this browser, shared by all its tabs.
//
// The access token (15 minutes) lives only in memory. The refresh token is kept
// in localStorage so that a reload or a new tab stays signed in; see docs/web.md
// for the trade-off. Refresh tokens rotate and a spent one presented again
// revokes the session, so tabs never refresh on their own at the same time:
// a refresh runs under the Web Lock 'missive-auth', and its result is handed to
// the other tabs over BroadcastChannel ('auth.tokens'). A new tab first asks the
// open tabs for the current tokens and refreshes only when nobody answers.

import { api, setAuthHooks, SessionEnded } from './api.js';
import { post, onTab } from './tabs.js';

const KEY = 'missive.refresh_token';
const EARLY_MS = 60_000; // refresh this long before the access token expires
const listeners = new Set();

/** {access, expiresAt, refresh, user} or null. */
let session = null;
let timer = null;
let refreshing = null;

const stored = () => {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
};
const store = (v) => {
  try {
    if (v) localStorage.setItem(KEY, v);
    else localStorage.removeItem(KEY);
  } catch { /* private mode: this tab only */ }
};

export const currentUser = () => session?.user ?? null;

/** fn(user | null, reason) whenever this tab signs in or out (also because another tab did). */
export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
function notify(reason) {
  for (const fn of listeners) fn(session?.user ?? null, reason);
}

function fromAnswer(b) {
  return { access: b.access_token, expiresAt: Date.now() + b.expires_in * 1000, refresh: b.refresh_token, user: b.user };
}

function schedule() {
  clearTimeout(timer);
  if (!session) return;
  // A little jitter so that tabs do not all wake at once (the lock sorts them out anyway).
  const wait = Math.max(5000, session.expiresAt - Date.now() - EARLY_MS - Math.random() * 15000);
  timer = setTimeout(() => {
    refresh(session?.access ?? null).catch((e) => {
      if (!(e instanceof SessionEnded)) schedule(); // offline: try again later
    });
  }, wait);
}

function adopt(next, { announce }) {
  const before = session;
  session = next;
  schedule();
  if (announce) post('auth.tokens', next);
  if (!before || before.user.id !== next.user.id) notify('signin');
}

function end(reason) {
  const had = session !== null;
  session = null;
  clearTimeout(timer);
  store(null);
  post('auth.signout', { reason });
  if (had) notify(reason);
}

/**
 * Makes sure this tab holds a fresh access token. failedAccess: the token a
 * request was refused with (null: none). Throws SessionEnded when the session
 * is over; any other error (offline) leaves the session as it is.
 */
export function refresh(failedAccess = null) {
  if (!refreshing) refreshing = runRefresh(failedAccess).finally(() => { refreshing = null; });
  return refreshing;
}

async function runRefresh(failedAccess) {
  const work = async () => {
    let token = stored();
    if (!token) {
      end('signed-out');
      throw new SessionEnded('You are signed out.');
    }
    if (session && session.refresh !== token) {
      // Another tab rotated the tokens: its broadcast is on its way.
      await waitFor(() => session?.refresh === stored(), 1500);
      token = stored();
    }
    if (session && session.refresh === token && session.access !== failedAccess
        && session.expiresAt - Date.now() > EARLY_MS) return; // already fresh
    let res;
    try {
      res = await api('POST', '/v1/sessions/refresh', { body: { refresh_token: token }, auth: false });
    } catch (e) {
      if (e.status === 401 || e.status === 400) {
        end('Your session has ended. Please sign in again.');
        throw new SessionEnded();
      }
      throw e;
    }
    const next = fromAnswer(res.body);
    store(next.refresh);
    adopt(next, { announce: true });
  };
  return navigator.locks ? navigator.locks.request('missive-auth', work) : work();
}

function waitFor(pred, ms) {
  return new Promise((resolve) => {
    const until = Date.now() + ms;
    const tick = () => (pred() || Date.now() > until ? resolve() : setTimeout(tick, 30));
    tick();
  });
}

/** On page load: the user of the stored session, or null (not signed in). */
export async function restore() {
  if (!stored()) return null;
  post('auth.request');
  await waitFor(() => session !== null, 400);
  if (session) return session.user;
  await refresh(null);
  return session?.user ?? null;
}

export async function signIn(username, password) {
  const res = await api('POST', '/v1/sessions', { body: { username, password }, auth: false });
  const next = fromAnswer(res.body);
  store(next.refresh);
  adopt(next, { announce: true });
  return next.user;
}

export async function signUp({ username, password, display_name }) {
  const body = { username, password };
  if (display_name) body.display_name = display_name;
  await api('POST', '/v1/accounts', { body, auth: false });
  return signIn(username, password);
}

const beforeSignOut = new Set();
/** fn() runs (awaited, failures ignored) before signOut() ends the session: it may still call the API. */
export function onBeforeSignOut(fn) {
  beforeSignOut.add(fn);
  return () => beforeSignOut.delete(fn);
}

/** Ends the session on the server (best effort) and everywhere in this browser. */
export async function signOut() {
  if (session) {
    for (const fn of beforeSignOut) {
      try {
        await fn();
      } catch { /* signing out goes on */ }
    }
    try {
      await api('DELETE', '/v1/sessions/current', { timeoutMs: 5000 });
    } catch { /* the tokens are forgotten below anyway */ }
  }
  end('signed-out');
}

/** The signed-in user's own record changed (PATCH /v1/me). */
export function updateUser(user) {
  if (!session) return;
  session = { ...session, user };
  post('auth.user', { user });
  notify('user');
}

onTab('auth.request', () => {
  if (session) post('auth.tokens', session);
});
onTab('auth.tokens', (next) => {
  // Only the newest tokens: an answer to an older request may arrive late.
  if (next?.refresh && next.refresh === stored() && next.access !== session?.access) adopt(next, { announce: false });
});
onTab('auth.signout', ({ reason }) => {
  if (!session) return;
  session = null;
  clearTimeout(timer);
  notify(reason);
});
onTab('auth.user', ({ user }) => {
  if (session && user?.id === session.user.id) {
    session = { ...session, user };
    notify('user');
  }
});

setAuthHooks({
  token: () => (session && session.expiresAt - Date.now() > 5000 ? session.access : null),
  refresh,
});

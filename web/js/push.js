// push.js: Web Push notifications for this browser (docs/web.md, "Notifications";
// the server side: docs/push.md).
//
// The service worker (/sw.js, scope "/") is registered at sign-in; it shows the
// pushes. Nothing asks for permission by itself: only the user's click on the
// Notifications control (enable) asks the browser, then subscribes with the
// server's VAPID key (GET /v1/push/vapid-key) and registers the subscription
// (POST /v1/push/subscriptions). Turning it off, and signing out, delete it at
// the API and unsubscribe the browser.
//
// What this browser registered is kept in localStorage ('missive.push':
// {user_id, id, endpoint, synced_at}). At every start the subscription is sent
// again (keys, session and expiry refreshed; at most once a minute for all tabs),
// a subscription made with an older server key is replaced, and one the browser
// no longer has is deleted at the API. Changes run under the Web Lock
// 'missive-push', so tabs never register the same subscription at once.

import { api, seg, ApiError, SessionEnded } from './api.js';
import * as store from './store.js';
import { post, onTab } from './tabs.js';

const RECORD = 'missive.push';
const LOCK = 'missive-push';
const SW_URL = '/sw.js';
// The key for the service worker's pushsubscriptionchange (web/sw.js reads it).
const KEY_CACHE = 'missive-push';
const KEY_URL = '/sw/application-server-key';
const RESYNC_MS = 60_000;
const SUBSCRIBE_TIMEOUT_MS = 30_000;

export const MSG_OPEN = 'missive.open-conversation';
export const MSG_CHANGED = 'missive.push-subscription-changed';
export const MSG_ASK = 'missive.shown-conversation';

const BLOCKED = 'Notifications are blocked for this site. Allow them in your browser’s site settings, then try again.';
const UNREACHABLE = 'Your browser could not reach its push service, so notifications cannot be turned on right now. '
  + 'Check your connection and try again later. (Private windows cannot receive notifications.)';

/** An error whose message is plain words for the user. */
export class PushError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PushError';
  }
}

/** 'unsupported' | 'blocked' | 'off' | 'on'; busy while turning on or off. Changes: store topic 'push'. */
let status = 'off';
let busy = false;
let me = null; // the signed-in user's id

export const pushState = () => ({ status, busy });

function set(next) {
  const changed = next.status !== undefined && next.status !== status || next.busy !== undefined && next.busy !== busy;
  if (next.status !== undefined) status = next.status;
  if (next.busy !== undefined) busy = next.busy;
  if (changed) store.emit('push');
}

/** Whether this browser can do Web Push here (secure context, service workers, Push API, notifications). */
export function supported() {
  return self.isSecureContext && 'serviceWorker' in navigator && 'PushManager' in self && 'Notification' in self;
}

// ---- the record of what this browser registered ----

function record() {
  try {
    const r = JSON.parse(localStorage.getItem(RECORD) ?? 'null');
    return r && typeof r === 'object' ? r : null;
  } catch {
    return null;
  }
}

function saveRecord(r) {
  try {
    if (r) localStorage.setItem(RECORD, JSON.stringify(r));
    else localStorage.removeItem(RECORD);
  } catch { /* private mode: this tab only */ }
}

const locked = (fn) => (navigator.locks ? navigator.locks.request(LOCK, fn) : fn());

function withTimeout(promise, ms, error) {
  let t;
  return Promise.race([promise, new Promise((_, reject) => { t = setTimeout(() => reject(error), ms); })])
    .finally(() => clearTimeout(t));
}

const b64u = (buf) => (buf ? btoa(String.fromCharCode(...new Uint8Array(buf)))
  .replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '') : '');

// ---- the service worker ----

let registering = null;

/** Registers /sw.js (scope "/"); resolves to the registration, or null where unsupported. */
export function registerWorker() {
  if (!('serviceWorker' in navigator) || !self.isSecureContext) return Promise.resolve(null);
  if (!registering) {
    registering = navigator.serviceWorker.register(SW_URL, { scope: '/' }).catch((e) => {
      registering = null;
      throw e;
    });
  }
  return registering;
}

/** The registration once its worker is active. */
async function activeRegistration() {
  let reg;
  try {
    reg = await registerWorker();
  } catch (e) {
    console.warn('service worker registration', e);
    throw new PushError('The notification helper (service worker) could not be installed. Reload the page and try again.');
  }
  if (!reg) throw new PushError('This browser cannot show notifications from Missive.');
  if (reg.active) return reg;
  return withTimeout(navigator.serviceWorker.ready, 15_000,
    new PushError('The notification helper (service worker) did not start. Reload the page and try again.'));
}

async function browserSubscription() {
  if (!('serviceWorker' in navigator)) return null;
  const reg = await navigator.serviceWorker.getRegistration('/');
  return reg ? reg.pushManager.getSubscription() : null;
}

// ---- the API side ----

async function vapidKey() {
  const r = await api('GET', '/v1/push/vapid-key');
  const key = r.body?.public_key;
  try {
    const cache = await caches.open(KEY_CACHE);
    await cache.put(KEY_URL, new Response(key, { headers: { 'Content-Type': 'text/plain' } }));
  } catch { /* only pushsubscriptionchange without the old subscription needs it */ }
  return key;
}

/** POSTs a subscription (PushSubscription.toJSON()) and records it. Call under the lock. */
async function register(json) {
  const body = { endpoint: json.endpoint, keys: { p256dh: json.keys?.p256dh, auth: json.keys?.auth },
                 expirationTime: json.expirationTime ?? null };
  const r = await api('POST', '/v1/push/subscriptions', { body });
  const before = record();
  saveRecord({ user_id: me, id: r.body.id, endpoint: r.body.endpoint, synced_at: Date.now() });
  // The subscription this one replaces (new endpoint after pushsubscriptionchange, new key).
  if (before && before.user_id === me && before.id && before.id !== r.body.id) await dropAtApi(before.id);
  return r.body;
}

async function dropAtApi(id) {
  try {
    await api('DELETE', `/v1/push/subscriptions/${seg(id)}`, { timeoutMs: 8000 });
  } catch (e) {
    // 404: already gone (signed out elsewhere, or the push service said 410).
    if (!(e instanceof ApiError && e.status === 404)) throw e;
  }
}

/**
 * Registers a subscription with the API for the signed-in user, as enable()
 * does after pushManager.subscribe(): subscription is PushSubscription.toJSON()
 * ({endpoint, expirationTime, keys: {p256dh, auth}}). Resolves to the API's
 * {id, endpoint, created_at}.
 */
export function registerSubscription(subscription) {
  return locked(() => register(subscription));
}

// ---- status ----

/** Recomputes the status from the browser's permission and subscription and the record. */
export async function refreshStatus() {
  if (!supported()) return set({ status: 'unsupported' });
  if (Notification.permission === 'denied') return set({ status: 'blocked' });
  let sub = null;
  try {
    sub = await browserSubscription();
  } catch { /* none */ }
  const rec = record();
  const on = Notification.permission === 'granted' && sub && rec && rec.user_id === me && rec.endpoint === sub.endpoint;
  return set({ status: on ? 'on' : 'off' });
}

/**
 * Brings the API in line with this browser (under the lock): sends the
 * subscription again, replaces one made with another server key, forgets what
 * is not this user's or no longer exists.
 */
async function resync() {
  const rec = record();
  const sub = await browserSubscription();
  if (!sub) {
    if (rec) {
      // The browser dropped it (permission revoked, expired, site data cleared): the API forgets it too.
      if (rec.user_id === me && rec.id) await dropAtApi(rec.id);
      saveRecord(null);
    }
    return;
  }
  if (!rec || rec.user_id !== me || Notification.permission !== 'granted') {
    // Not turned on by this user in this browser (another account, an unfinished sign-out): not ours to use.
    await sub.unsubscribe().catch(() => {});
    saveRecord(null);
    return;
  }
  const key = await vapidKey();
  if (b64u(sub.options?.applicationServerKey) !== key) {
    // The server has a new key: the old subscription is orphaned (docs/push.md).
    await sub.unsubscribe().catch(() => {});
    const reg = await activeRegistration();
    await register((await subscribeBrowser(reg, key)).toJSON());
    return;
  }
  // Sent a moment ago (by another tab starting, or answering the same message): enough.
  if (rec.endpoint === sub.endpoint && Date.now() - (rec.synced_at ?? 0) < RESYNC_MS) return;
  await register(sub.toJSON());
}

function quietly(what, promise) {
  return promise.catch((e) => {
    if (!(e instanceof SessionEnded)) console.warn(`push: ${what}`, e);
  }).finally(() => refreshStatus());
}

// ---- turning on and off ----

async function subscribeBrowser(reg, key) {
  try {
    return await withTimeout(reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }),
      SUBSCRIBE_TIMEOUT_MS, new PushError(UNREACHABLE));
  } catch (e) {
    if (e instanceof PushError) throw e;
    console.warn('pushManager.subscribe', e);
    if (e?.name === 'NotAllowedError' || Notification.permission === 'denied') throw new PushError(BLOCKED);
    throw new PushError(UNREACHABLE);
  }
}

/**
 * Turns notifications on for this browser. Call it from the user's click: it
 * may ask the browser's permission. Errors: PushError (the browser) or
 * ApiError (the server), both with plain words as the message.
 */
export async function enable() {
  if (!supported()) {
    throw new PushError(self.isSecureContext ? 'This browser cannot show notifications from Missive.'
      : 'Notifications need a secure (https) connection to Missive.');
  }
  if (busy) return;
  set({ busy: true });
  try {
    // The prompt first, straight from the click (browsers want a user gesture).
    let perm = Notification.permission;
    if (perm === 'default') perm = await Notification.requestPermission();
    if (perm === 'denied') throw new PushError(BLOCKED);
    if (perm !== 'granted') throw new PushError('Notifications were not allowed. Try again and choose Allow when your browser asks.');
    await locked(async () => {
      const reg = await activeRegistration();
      const key = await vapidKey();
      let sub = await reg.pushManager.getSubscription();
      if (sub && b64u(sub.options?.applicationServerKey) !== key) {
        await sub.unsubscribe().catch(() => {});
        sub = null;
      }
      if (!sub) sub = await subscribeBrowser(reg, key);
      try {
        await register(sub.toJSON());
      } catch (e) {
        // The server did not take it: leave the browser as it was (off).
        await sub.unsubscribe().catch(() => {});
        throw e;
      }
    });
    post('push.changed');
  } finally {
    set({ busy: false });
    await refreshStatus();
  }
}

/** Deletes this browser's subscription at the API and unsubscribes (under the lock). */
async function drop() {
  const rec = record();
  const sub = await browserSubscription().catch(() => null);
  if (rec?.id && rec.user_id === me) await dropAtApi(rec.id);
  saveRecord(null);
  if (sub) await sub.unsubscribe();
}

/** Turns notifications off for this browser. Errors: ApiError / PushError with plain words. */
export async function disable() {
  if (busy) return;
  set({ busy: true });
  try {
    await locked(async () => {
      try {
        await drop();
      } catch (e) {
        // The server could not be told: still stop this browser's notifications
        // (the push service then answers 410 and the server forgets it).
        const sub = await browserSubscription().catch(() => null);
        await sub?.unsubscribe().catch(() => {});
        saveRecord(null);
        if (e instanceof SessionEnded) throw e;
        if (!(e instanceof ApiError)) throw new PushError('Notifications could not be turned off in this browser. Try again, or block them in the browser’s site settings.');
        console.warn('push: the server could not be told', e);
      }
    });
    post('push.changed');
  } finally {
    set({ busy: false });
    await refreshStatus();
  }
}

/** Signing out: the subscription goes at the API and in the browser (best effort, bounded). */
export async function forget() {
  if (!supported() || (!record() && !(await browserSubscription().catch(() => null)))) return;
  await withTimeout(locked(drop), 6000, new Error('timeout'))
    .catch((e) => console.warn('push: on sign-out', e));
  post('push.changed');
}

// ---- start-up and messages ----

/** Signed in as user: registers the service worker, re-sends the subscription if this user turned it on here. */
export function start(user) {
  me = user?.id ?? null;
  if (!supported()) {
    set({ status: 'unsupported' });
    return Promise.resolve();
  }
  registerWorker().catch((e) => console.warn('service worker registration', e));
  return quietly('start', refreshStatus().then(() => locked(() => resync())));
}

/** Signed out in this tab. */
export function stop() {
  me = null;
  set({ status: supported() ? 'off' : 'unsupported', busy: false });
}

/** Closes the notifications of a conversation the user is now looking at. */
export async function clearNotifications(conversationId) {
  if (!supported()) return;
  try {
    const reg = await navigator.serviceWorker.getRegistration('/');
    for (const n of (await reg?.getNotifications({ tag: `conversation-${conversationId}` })) ?? []) n.close();
  } catch { /* nothing to close */ }
}

/**
 * Listens to the service worker: onOpen(conversationId) when a notification was
 * clicked; shown() is the conversation this window shows (null: none), which the
 * worker asks before showing a push (none for the conversation on screen).
 */
export function initPush({ onOpen, shown }) {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('message', (e) => {
    const d = e.data;
    if (!d || typeof d !== 'object') return;
    if (d.type === MSG_ASK) {
      e.ports[0]?.postMessage({ conversation_id: document.visibilityState === 'visible' ? shown() : null });
    } else if (d.type === MSG_OPEN && Number.isSafeInteger(d.conversation_id)) onOpen(d.conversation_id);
    else if (d.type === MSG_CHANGED && me) quietly('new subscription', locked(() => resync()));
  });
  navigator.serviceWorker.startMessages();
}

onTab('push.changed', () => {
  if (me) refreshStatus();
});

// sw.js: Missive's service worker, served from the site root so that its
// scope is "/". It does Web Push only (docs/web.md, "Notifications"):
//
// - push: shows what missive-worker push sends (docs/push.md, "Payload":
//   {conversation_id, seq, count, title, body, sender_id, sender_name, kind}),
//   one notification per conversation (tag "conversation-<id>", renotify), unless
//   a focused window of the app is showing that conversation already (it is
//   asked: web/js/push.js answers);
// - notificationclick: focuses an open window of the app and tells it to open
//   the conversation (postMessage), or opens a new one at /#/c/<id>;
// - pushsubscriptionchange: subscribes again with the same key and asks the open
//   windows to register the new subscription with the API (only they hold the
//   user's access token; without a window the app does it at its next start).
//
// No fetch handler: the app's requests never pass through here and nothing is
// cached. The script is served with Cache-Control: no-cache (nginx), so a new
// version is picked up at the next registration check.

'use strict';

// Where the app leaves the VAPID public key for pushsubscriptionchange
// (web/js/push.js writes it; a Cache Storage entry, never fetched).
const KEY_CACHE = 'missive-push';
const KEY_URL = '/sw/application-server-key';

const MSG_OPEN = 'missive.open-conversation';
const MSG_CHANGED = 'missive.push-subscription-changed';
const MSG_ASK = 'missive.shown-conversation';

self.addEventListener('install', () => {
  // Nothing to prepare: a new version takes over at once.
  self.skipWaiting();
});

/**
 * Which conversation a window of the app shows, asked over a MessageChannel
 * (web/js/push.js answers): null when none, or without an answer within 1 s.
 * Its URL cannot tell: a window's client URL stays what it was loaded with,
 * #/c/<id> changes made later by the app are not in it.
 */
function shownConversation(client) {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(null), 1000);
    channel.port1.onmessage = (e) => {
      clearTimeout(timer);
      const id = Number(e.data?.conversation_id);
      resolve(Number.isSafeInteger(id) && id > 0 ? id : null);
    };
    client.postMessage({ type: MSG_ASK }, [channel.port2]);
  });
}

/** The app's windows (same origin), also those this worker does not control. */
async function appWindows() {
  const list = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  return list.filter((c) => {
    try {
      return new URL(c.url).origin === self.location.origin;
    } catch {
      return false;
    }
  });
}

const text = (v, max) => (typeof v === 'string' && v.trim() ? v.trim().slice(0, max) : '');

/** The push payload as an object ({} when there is none or it is not JSON). */
function payloadOf(data) {
  if (!data) return {};
  try {
    const p = data.json();
    return p && typeof p === 'object' && !Array.isArray(p) ? p : {};
  } catch {
    return { body: text(data.text(), 200) };
  }
}

async function onPush(event) {
  const p = payloadOf(event.data);
  const id = Number(p.conversation_id);
  const conv = Number.isSafeInteger(id) && id > 0 ? id : null;
  const tag = conv ? `conversation-${conv}` : 'missive';

  // The user is looking at this conversation: the app shows the message itself.
  if (conv) {
    const focused = (await appWindows()).filter((c) => c.focused && c.visibilityState === 'visible');
    const shown = await Promise.all(focused.map(shownConversation));
    if (shown.includes(conv)) {
      for (const n of await self.registration.getNotifications({ tag })) n.close();
      return;
    }
  }

  const title = text(p.title, 120) || text(p.sender_name, 120) || 'Missive';
  const body = text(p.body, 240) || 'New message';
  await self.registration.showNotification(title, {
    body,
    tag, // a newer push for the conversation replaces the older notification
    renotify: true, // ... and still alerts
    timestamp: Date.now(),
    lang: 'en',
    data: { conversation_id: conv, seq: Number.isSafeInteger(p.seq) ? p.seq : null },
  });
}

self.addEventListener('push', (event) => {
  event.waitUntil(onPush(event));
});

async function onClick(notification) {
  const conv = notification.data?.conversation_id ?? null;
  const windows = await appWindows();
  const win = windows.find((c) => c.focused)
    ?? windows.find((c) => c.visibilityState === 'visible')
    ?? windows[0];
  if (win) {
    try {
      await win.focus();
    } catch { /* the browser may refuse; the message below still opens the conversation */ }
    if (conv) win.postMessage({ type: MSG_OPEN, conversation_id: conv });
    return;
  }
  await self.clients.openWindow(conv ? `/#/c/${conv}` : '/');
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(onClick(event.notification));
});

async function storedKey() {
  try {
    const res = await (await caches.open(KEY_CACHE)).match(KEY_URL);
    return res ? await res.text() : null;
  } catch {
    return null;
  }
}

async function onSubscriptionChange(event) {
  let sub = event.newSubscription ?? null;
  if (!sub) {
    const key = event.oldSubscription?.options?.applicationServerKey ?? await storedKey();
    if (!key) return; // the app subscribes again when the user turns notifications on
    sub = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  }
  // Registering with the API needs the user's access token: the windows do it
  // (web/js/push.js); with none open, the app does it at its next start.
  for (const c of await appWindows()) {
    c.postMessage({ type: MSG_CHANGED, old_endpoint: event.oldSubscription?.endpoint ?? null });
  }
}

self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil(onSubscriptionChange(event));
});

// The web client (web/) in a real browser: Chromium from Debian driven by
// playwright-core, against the private stack. Each person has their own
// browser context (profile); everything is done through the UI.
//
// Screenshots of the main screens go to tests/e2e/artifacts/. With
// MISSIVE_UPDATE_SCREENSHOT=1 the chat screen is also saved as
// docs/screenshot.png (the README's picture).

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, statSync, readFileSync } from 'node:fs';
import https from 'node:https';
import * as B from './lib/browser.mjs';
import { api, assertStatus, signup } from './lib/client.mjs';
import { activeDirect, sendOk } from './lib/chat.mjs';

const T = { timeout: 100_000 };
const DOCS_SHOT = new URL('../../docs/screenshot.png', import.meta.url).pathname;

let browser;
before(async () => {
  browser = await B.launch();
});
after(async () => {
  await browser?.close();
});

const msg = (page, text, extra = '') => page.locator(`#message-list li.msg${extra}`, { hasText: text });
const composer = (page) => page.getByLabel('Message', { exact: true });

/** Waits until the composer is usable and focused, then types like a person. */
async function typeSlowly(page, text) {
  const box = composer(page);
  await box.waitFor({ state: 'visible' });
  await page.waitForFunction(() => {
    const el = document.getElementById('composer-input');
    return el && !el.disabled;
  });
  await box.focus();
  await box.pressSequentially(text, { delay: 90 });
}

describe('Alice and Bob', () => {
  const names = { alice: B.uniqueName('alice'), bob: B.uniqueName('bob') };
  let alice;
  let bob;
  after(async () => {
    await alice?.context.close().catch(() => {});
    await bob?.context.close().catch(() => {});
  });

  test('sign up, message request, live reply, typing, read ticks, presence', T, async () => {
    alice = await B.person(browser, 'alice');
    bob = await B.person(browser, 'bob');

    await alice.page.goto(B.baseUrl() + '/');
    await alice.page.getByRole('tab', { name: 'Sign in' }).waitFor();
    await B.shot(alice.page, '01-sign-in');
    await B.signUpUI(alice.page, { username: names.alice, displayName: 'Alice Liddell' });
    await B.signUpUI(bob.page, { username: names.bob, displayName: 'Bob Builder' });
    await B.shot(alice.page, '02-empty-list');

    // Alice finds Bob and writes to him.
    await alice.page.getByRole('button', { name: 'New chat' }).click();
    const dialog = alice.page.getByRole('dialog', { name: 'New chat' });
    await dialog.getByLabel('Search people by username').fill(names.bob);
    const pick = dialog.getByRole('button', { name: 'Chat with Bob Builder' });
    await pick.waitFor();
    await B.shot(alice.page, '03-new-chat');
    await pick.click();
    await alice.page.locator('#chat-title', { hasText: 'Bob Builder' }).waitFor();
    await B.sendUI(alice.page, 'Hi Bob!');
    await msg(alice.page, 'Hi Bob!', '.mine[data-status=stored]').waitFor();

    // Bob gets it live, as a message request, and accepts it.
    await bob.page.locator('#count-requests', { hasText: '1' }).waitFor();
    await B.openConversation(bob.page, 'Alice Liddell', 'Requests');
    await msg(bob.page, 'Hi Bob!').waitFor();
    await B.shot(bob.page, '04-message-request');
    await bob.page.getByRole('button', { name: 'Accept' }).click();

    // Bob types (Alice sees it), then sends.
    await typeSlowly(bob.page, 'Hello Alice, nice to meet you');
    await alice.page.locator('#typing', { hasText: 'Bob Builder is typing…' }).waitFor();
    await composer(bob.page).press('Enter');
    await msg(alice.page, 'Hello Alice, nice to meet you', '.theirs').waitFor();
    await alice.page.locator('#typing:empty').waitFor(); // a message ends the typing notice

    // Bob has the conversation open: Alice's ticks turn to read, and he shows as online.
    await msg(alice.page, 'Hi Bob!', '.mine[data-tick=read]').waitFor();
    await alice.page.locator('#chat-subtitle', { hasText: /^online$/ }).waitFor();

    // Alice replies to Bob's message.
    const his = msg(alice.page, 'Hello Alice, nice to meet you');
    await his.hover();
    await his.getByRole('button', { name: 'Reply' }).click();
    await alice.page.locator('#composer-context', { hasText: 'Replying to Bob Builder' }).waitFor();
    await B.sendUI(alice.page, 'Shall we meet at 8 for the book club?');
    const reply = msg(bob.page, 'Shall we meet at 8');
    await reply.locator('.reply-quote', { hasText: 'Hello Alice' }).waitFor();
    await msg(alice.page, 'Shall we meet at 8', '.mine[data-tick=read]').waitFor();
    const ticks = (await B.messages(alice.page)).filter((m) => m.mine).map((m) => m.tick);
    assert.deepEqual(ticks, ['read', 'read']);
    await B.sendUI(bob.page, 'Perfect, see you there!');
    await msg(alice.page, 'Perfect, see you there!').waitFor();
    await B.shot(bob.page, '05-chat-bob');
    await alice.page.mouse.move(0, 0);
    await B.shot(alice.page, '05-chat-alice');
    if (process.env.MISSIVE_UPDATE_SCREENSHOT === '1') {
      copyFileSync(`${B.ARTIFACTS}05-chat-alice.png`, DOCS_SHOT);
      assert.ok(statSync(DOCS_SHOT).size < 300 * 1024, 'docs/screenshot.png stays under 300 KB');
    }

    // Bob goes away: Alice sees him offline ("last seen ...") once the grace period is over.
    await bob.context.close();
    await alice.page.locator('#chat-subtitle', { hasText: 'last seen' }).waitFor({ timeout: 30_000 });
    await B.shot(alice.page, '06-peer-offline');
    assert.deepEqual(alice.problems, []);
    assert.deepEqual(bob.problems, []);
  });

  test('messages sent while Bob is offline arrive once, in order, when he signs in again', T, async () => {
    assert.ok(alice && bob, 'needs the previous test');
    const texts = [1, 2, 3, 4, 5].map((i) => `While you were away ${i}`);
    for (const t of texts) await B.sendUI(alice.page, t);
    for (const t of texts) await msg(alice.page, t, '.mine[data-status=stored]').waitFor();

    bob = await B.person(browser, 'bob-again');
    await B.signInUI(bob.page, { username: names.bob });
    const item = bob.page.locator('#conv-list .conv-item', { hasText: 'Alice Liddell' });
    await item.locator('.badge', { hasText: '5' }).waitFor();
    await B.shot(bob.page, '07-unread-badge');
    await item.click();
    await msg(bob.page, texts[4]).waitFor();
    const got = (await B.messages(bob.page)).map((m) => m.text).filter((t) => t.startsWith('While you were away'));
    assert.deepEqual(got, texts);
    // Reading them turns Alice's ticks to read; Bob's badge is gone.
    await msg(alice.page, texts[4], '.mine[data-tick=read]').waitFor();
    await item.locator('.badge').waitFor({ state: 'detached' });
    assert.deepEqual(bob.problems, []);
    assert.deepEqual(alice.problems, []);
  });
});

test('without EventSource, long-polling still delivers and the UI says so', T, async () => {
  const alice = await B.person(browser, 'alice-poll');
  const bob = await B.person(browser, 'bob-poll');
  try {
    const polls = [];
    await bob.page.route('**/v1/stream**', (r) => r.abort());
    bob.page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/v1/events') polls.push(r.url());
    });
    const bobName = B.uniqueName('bob');
    await B.signUpUI(alice.page, { username: B.uniqueName('alice'), displayName: 'Alice Poll' });
    await B.signUpUI(bob.page, { username: bobName, displayName: 'Bob Poll' });
    await bob.page.locator('#live-status', { hasText: 'Live updates: polling' }).waitFor({ timeout: 30_000 });

    await B.startChat(alice.page, bobName);
    await B.sendUI(alice.page, 'Can you hear me?');
    await bob.page.locator('#count-requests', { hasText: '1' }).waitFor();
    await B.openConversation(bob.page, 'Alice Poll', 'Requests');
    await msg(bob.page, 'Can you hear me?').waitFor();
    await bob.page.getByRole('button', { name: 'Accept' }).click();
    await composer(bob.page).waitFor({ state: 'visible' });

    // Alice learns that Bob accepted; then it is live while the conversation is open.
    await alice.page.locator('#chat-banner').waitFor({ state: 'hidden' });
    await B.sendUI(alice.page, 'Loud and clear, by long-poll');
    await msg(bob.page, 'Loud and clear, by long-poll').waitFor();
    await B.sendUI(bob.page, 'Got it');
    await msg(alice.page, 'Got it').waitFor();
    await B.shot(bob.page, '08-polling');
    assert.match(await bob.page.locator('#live-status').textContent(), /Live updates: polling/);
    assert.ok(polls.some((u) => /timeout=\d+/.test(u)), 'long-polls were made');
    assert.deepEqual(bob.problems, []);
  } finally {
    await alice.context.close();
    await bob.context.close();
  }
});

test('two tabs of Bob share one stream, and both show new messages', T, async () => {
  const alice = await B.person(browser, 'alice-tabs');
  const bob = await B.person(browser, 'bob-tabs');
  try {
    const streams = [];
    bob.context.on('request', (r) => {
      if (new URL(r.url()).pathname === '/v1/stream') streams.push(r.url());
    });
    const bobName = B.uniqueName('bob');
    await B.signUpUI(alice.page, { username: B.uniqueName('alice'), displayName: 'Alice Tabs' });
    await B.signUpUI(bob.page, { username: bobName, displayName: 'Bob Tabs' });

    // The second tab signs in from the first one (no second sign-in) and follows its stream.
    const tab2 = await B.newPage(bob);
    await tab2.goto(B.baseUrl() + '/');
    await tab2.locator('#app-screen').waitFor({ state: 'visible' });
    await tab2.locator('#live-status[data-status=live]').waitFor();

    await B.startChat(alice.page, bobName);
    await B.sendUI(alice.page, 'Hello both tabs');
    for (const page of [bob.page, tab2]) await page.locator('#count-requests', { hasText: '1' }).waitFor();

    // Tab 1 accepts and reads; tab 2 follows (Chats list, no unread badge).
    await B.openConversation(bob.page, 'Alice Tabs', 'Requests');
    await bob.page.getByRole('button', { name: 'Accept' }).click();
    await composer(bob.page).waitFor({ state: 'visible' });
    await B.sendUI(alice.page, 'Second message');
    await msg(bob.page, 'Second message').waitFor();
    const item2 = tab2.locator('#conv-list .conv-item', { hasText: 'Alice Tabs' });
    await tab2.getByRole('tab', { name: /^Chats/ }).click();
    await item2.locator('.conv-preview', { hasText: 'Second message' }).waitFor();
    await item2.locator('.badge').waitFor({ state: 'detached' });

    // Sending from tab 2 shows in tab 1 too.
    await item2.click();
    await B.sendUI(tab2, 'Sent from the second tab');
    await msg(bob.page, 'Sent from the second tab', '.mine').waitFor();
    await msg(alice.page, 'Sent from the second tab').waitFor();
    await B.shot(tab2, '09-second-tab');
    assert.equal(streams.length, 1, `one stream for two tabs, got ${streams.length}`);

    // The leader closes: the other tab takes over the stream and misses nothing.
    await bob.page.close();
    await B.sendUI(alice.page, 'After the first tab closed');
    await msg(tab2, 'After the first tab closed').waitFor();
    assert.equal(streams.length, 2);
    assert.match(streams[1], /[?&]cursor=\d+/, 'the new leader goes on from the last event');
    assert.deepEqual(bob.problems, []);
  } finally {
    await alice.context.close();
    await bob.context.close();
  }
});

test('groups; failed sends say so and Retry stores them once; edit, delete, react, remove', T, async () => {
  const alice = await B.person(browser, 'alice-group');
  const bob = await B.person(browser, 'bob-group');
  try {
    for (const p of [alice, bob]) p.page.on('dialog', (d) => d.accept()); // "Delete this message?" and the like
    const bobName = B.uniqueName('bob');
    await B.signUpUI(alice.page, { username: B.uniqueName('alice'), displayName: 'Alice Group' });
    await B.signUpUI(bob.page, { username: bobName, displayName: 'Bob Group' });

    // A group with Bob: no request for group members.
    await alice.page.getByRole('button', { name: 'New group' }).click();
    const dialog = alice.page.getByRole('dialog', { name: 'New group' });
    await dialog.getByLabel('Group name').fill('Book club');
    await dialog.getByLabel('Add people').fill(bobName);
    await dialog.getByRole('button', { name: 'Add Bob Group' }).click();
    await dialog.getByRole('button', { name: 'Create group' }).click();
    await alice.page.locator('#chat-title', { hasText: 'Book club' }).waitFor();
    await B.openConversation(bob.page, 'Book club');

    // The network fails twice: the message stays "sending", the retries reuse its id, it is stored once.
    let aborted = 0;
    await alice.page.route('**/v1/conversations/*/messages', (r) => {
      if (r.request().method() === 'POST' && aborted < 2) {
        aborted++;
        return r.abort();
      }
      return r.fallback();
    });
    await B.sendUI(alice.page, 'Sent through a bad network');
    await msg(alice.page, 'Sent through a bad network', '[data-status=sending]').waitFor();
    await msg(alice.page, 'Sent through a bad network', '[data-status=stored]').waitFor();
    await alice.page.unrouteAll({ behavior: 'wait' });
    assert.equal(aborted, 2);

    // The server refuses: the message says why and offers Retry.
    await alice.page.route('**/v1/conversations/*/messages', (r) => (r.request().method() === 'POST'
      ? r.fulfill({ status: 422, contentType: 'application/problem+json',
        body: JSON.stringify({ type: 'https://missive.dev/problems/validation', title: 'Validation failed', status: 422, detail: 'Refused by the test.' }) })
      : r.fallback()));
    await B.sendUI(alice.page, 'Refused at first');
    const failed = msg(alice.page, 'Refused at first', '[data-status=failed]');
    await failed.locator('.msg-error', { hasText: 'Not sent: Refused by the test.' }).waitFor();
    await B.shot(alice.page, '10-send-failed');
    await alice.page.unrouteAll({ behavior: 'wait' });
    await failed.getByRole('button', { name: 'Retry' }).click();
    await msg(alice.page, 'Refused at first', '[data-status=stored]').waitFor();
    await msg(bob.page, 'Refused at first').waitFor();
    const seen = (await B.messages(bob.page)).map((m) => m.text);
    assert.deepEqual(seen, ['Sent through a bad network', 'Refused at first']);

    // Edit and delete (Alice), react (Bob): everyone sees it live.
    const first = msg(alice.page, 'Sent through a bad network');
    await first.hover();
    await first.getByRole('button', { name: 'Edit' }).click();
    const box = composer(alice.page);
    await box.fill('Sent through a bad network (edited)');
    await box.press('Enter');
    await msg(bob.page, 'Sent through a bad network (edited)').locator('.msg-edited').waitFor();
    const second = msg(bob.page, 'Refused at first');
    await second.hover();
    await second.getByRole('button', { name: 'React' }).click();
    await second.getByRole('button', { name: 'React with 👍' }).click();
    await msg(alice.page, 'Refused at first').locator('.reaction', { hasText: '1' }).waitFor();
    const mineNow = msg(alice.page, 'Refused at first');
    await mineNow.hover();
    await mineNow.getByRole('button', { name: 'Delete' }).click();
    await msg(bob.page, 'This message was deleted').waitFor();

    // Alice removes Bob from the group: it disappears from his list.
    await alice.page.getByRole('button', { name: 'Conversation info' }).click();
    const info = alice.page.getByRole('dialog', { name: 'Group info' });
    await info.getByRole('button', { name: 'Remove Bob Group' }).click();
    await info.getByRole('button', { name: 'Remove Bob Group' }).waitFor({ state: 'detached' });
    await B.shot(alice.page, '11-group-info');
    await bob.page.locator('#conv-list .conv-item', { hasText: 'Book club' }).waitFor({ state: 'detached' });
    await bob.page.locator('#chat-empty').waitFor({ state: 'visible' });
    assert.deepEqual(alice.problems, []);
    assert.deepEqual(bob.problems, []);
  } finally {
    await alice.context.close();
    await bob.context.close();
  }
});

test('image attachments: upload, send with and without a caption, the peer sees them', T, async () => {
  const alice = await B.person(browser, 'alice-media');
  const bob = await B.person(browser, 'bob-media');
  try {
    const bobName = B.uniqueName('bob');
    await B.signUpUI(alice.page, { username: B.uniqueName('alice'), displayName: 'Alice Media' });
    await B.signUpUI(bob.page, { username: bobName, displayName: 'Bob Media' });
    await B.startChat(alice.page, bobName);
    await B.sendUI(alice.page, 'Pictures coming');
    await bob.page.locator('#count-requests', { hasText: '1' }).waitFor();
    await B.openConversation(bob.page, 'Alice Media', 'Requests');
    await bob.page.getByRole('button', { name: 'Accept' }).click();
    await composer(bob.page).waitFor({ state: 'visible' });

    // A 1x1 PNG through the paperclip's file input, with a caption (Enter sends).
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
    const attach = () => alice.page.locator('#attach-input').setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: png });
    await attach();
    await alice.page.locator('#attach-preview', { hasText: 'dot.png' }).waitFor();
    await B.sendUI(alice.page, 'A tiny picture');
    await msg(alice.page, 'A tiny picture', '.mine[data-status=stored]').waitFor();
    await alice.page.locator('#attach-preview').waitFor({ state: 'hidden' });

    // And one without a caption (the Send button).
    await attach();
    await alice.page.locator('#attach-preview', { hasText: 'dot.png' }).waitFor();
    await alice.page.getByRole('button', { name: 'Send', exact: true }).click();
    await alice.page.locator('#attach-preview').waitFor({ state: 'hidden' });

    // Bob sees both images, loaded (the bytes came through GET /v1/media/{id}).
    await msg(bob.page, 'A tiny picture').locator('img.msg-img').waitFor();
    await bob.page.waitForFunction(() => {
      const imgs = [...document.querySelectorAll('#message-list li.msg img.msg-img')];
      return imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0);
    });
    const texts = (await B.messages(bob.page)).map((m) => m.text);
    assert.deepEqual(texts, ['Pictures coming', 'A tiny picture', '']);
    await B.shot(bob.page, '12-image');
    assert.deepEqual(alice.problems, []);
    assert.deepEqual(bob.problems, []);
  } finally {
    await alice.context.close();
    await bob.context.close();
  }
});

// ---- Notifications (Web Push) -----------------------------------------------
//
// Headless Chromium has no push service it can reach (and browser contexts are
// incognito, where Chrome refuses the Push API), so pushManager.subscribe()
// fails here: that failure is one of the tests. What can be real is: the
// service worker at "/", the app's registration of a subscription with the API,
// the push worker's encrypted push to a push service (tests/peers/push-receiver.mjs,
// which decrypts it), and that payload delivered to the service worker through
// the DevTools protocol (ServiceWorker.deliverPushMessage), which shows it.

const RX = process.env.PUSH_RECEIVER_URL;
const RX_CA = RX ? readFileSync(process.env.PUSH_RECEIVER_CA) : null;
// Chrome says this on the console when a page of an incognito context subscribes.
const INCOGNITO_PUSH = /does not support the Push API in incognito mode/;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A request to the push receiver (https, its throwaway certificate trusted). */
function rx(method, path) {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, RX), { method, ca: RX_CA, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null });
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`push receiver ${method} ${path}: timeout`)));
    req.end();
  });
}

/** The decrypted payloads the receiver got on /push/<name>, once there are n. */
async function receivedPushes(name, n, ms = 20_000) {
  const until = Date.now() + ms;
  for (;;) {
    const got = (await rx('GET', '/messages')).body.filter((m) => m.path === `/push/${name}`);
    if (got.length >= n) {
      for (const m of got) assert.ok(m.ok, `the receiver accepted the push: ${JSON.stringify(m.errors)}`);
      return got.map((m) => JSON.parse(Buffer.from(m.payload, 'base64url').toString('utf8')));
    }
    if (Date.now() > until) throw new Error(`${got.length} of ${n} pushes to /push/${name} within ${ms} ms`);
    await sleep(150);
  }
}

async function subscriptionsOf(user) {
  const res = await api('GET', '/v1/push/subscriptions', { token: user.token });
  assertStatus(res, 200);
  return res.body.subscriptions;
}

async function waitOnline(viewer, user, online, ms = 15_000) {
  const until = Date.now() + ms;
  for (;;) {
    const res = await api('GET', `/v1/presence?user_ids=${user.id}`, { token: viewer.token });
    assertStatus(res, 200);
    if (res.body.presence[0].online === online) return;
    if (Date.now() > until) throw new Error(`presence of ${user.username} never became ${online}`);
    await sleep(100);
  }
}

/** Calls the app's own registration function (web/js/push.js) in the page. */
function registerInPage(page, subscription) {
  return page.evaluate(async (sub) => (await import('/js/push.js')).registerSubscription(sub), subscription);
}

describe('Notifications (Web Push)', () => {
  test('the service worker is active at "/", the control is there, and nothing is asked on load', T, async () => {
    const p = await B.person(browser, 'sw');
    try {
      await B.signUpUI(p.page, { username: B.uniqueName('carol'), displayName: 'Carol Push' });
      const bell = p.page.getByRole('button', { name: 'Notifications', exact: true });
      await bell.waitFor({ state: 'visible' });
      assert.equal(await bell.getAttribute('aria-pressed'), 'false');
      assert.match(await bell.getAttribute('title'), /Notifications are off/);

      const sw = await p.page.evaluate(async () => {
        const reg = await navigator.serviceWorker.ready;
        return { scope: reg.scope, script: reg.active?.scriptURL, state: reg.active?.state, permission: Notification.permission };
      });
      const base = new URL(B.baseUrl()).origin;
      assert.equal(sw.scope, `${base}/`);
      assert.equal(sw.script, `${base}/sw.js`);
      assert.equal(sw.state, 'activated');
      // Without a click nobody asked: a prompt in headless Chromium is answered "denied" at once.
      assert.equal(sw.permission, 'default');

      // nginx: the worker is never cached without a check, and the CSP allows it (worker-src 'self').
      const res = await fetch(`${B.baseUrl()}/sw.js`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /javascript/);
      assert.match(res.headers.get('cache-control') ?? '', /no-cache/);
      assert.match(res.headers.get('content-security-policy') ?? '', /worker-src 'self'/);
      await res.arrayBuffer();

      // Settings has the same switch, with the state in words.
      await p.page.getByRole('button', { name: 'Settings' }).click();
      const dialog = p.page.getByRole('dialog', { name: 'Settings' });
      await dialog.getByRole('heading', { name: 'Notifications' }).waitFor();
      await dialog.locator('#push-state', { hasText: 'Off in this browser.' }).waitFor();
      await dialog.getByRole('button', { name: 'Turn on notifications' }).waitFor();
      await B.shot(p.page, '13-settings-notifications');
      await dialog.getByRole('button', { name: 'Close' }).click();
      assert.deepEqual(p.problems, []);
    } finally {
      await p.context.close();
    }
  });

  test('turning notifications on when the browser cannot subscribe says why and registers nothing', T, async () => {
    const p = await B.person(browser, 'sw-fail');
    const refused = await B.person(browser, 'sw-denied');
    try {
      const posts = [];
      let keyAsked = 0;
      for (const x of [p, refused]) {
        x.context.on('request', (r) => {
          const path = new URL(r.url()).pathname;
          if (path === '/v1/push/subscriptions' && r.method() === 'POST') posts.push(r.url());
          if (path === '/v1/push/vapid-key') keyAsked++;
        });
      }
      // Permission granted: the browser's subscribe() itself fails (no push service here).
      await p.context.grantPermissions(['notifications'], { origin: new URL(B.baseUrl()).origin });
      await B.signUpUI(p.page, { username: B.uniqueName('dave'), displayName: 'Dave Push' });
      const bell = p.page.getByRole('button', { name: 'Notifications', exact: true });
      await bell.click();
      const toastText = /Your browser could not reach its push service, so notifications cannot be turned on right now/;
      await p.page.getByRole('alert').filter({ hasText: toastText }).waitFor();
      await B.shot(p.page, '14-notifications-failed');
      assert.equal(await bell.getAttribute('aria-pressed'), 'false');
      assert.equal(keyAsked, 1, 'the VAPID key was fetched for subscribe()');

      // The same from Settings: the error shows in the dialog.
      await p.page.getByRole('button', { name: 'Settings' }).click();
      const dialog = p.page.getByRole('dialog', { name: 'Settings' });
      await dialog.getByRole('button', { name: 'Turn on notifications' }).click();
      await dialog.getByRole('alert').filter({ hasText: toastText }).waitFor();
      await dialog.locator('#push-state', { hasText: 'Off in this browser.' }).waitFor();
      await dialog.getByRole('button', { name: 'Close' }).click();

      // Permission refused (headless Chromium answers the prompt "denied"): blocked, in plain words.
      await B.signUpUI(refused.page, { username: B.uniqueName('erin'), displayName: 'Erin Push' });
      const bell2 = refused.page.getByRole('button', { name: 'Notifications', exact: true });
      await bell2.click();
      await refused.page.getByRole('alert').filter({ hasText: 'Notifications are blocked for this site.' }).waitFor();
      await refused.page.waitForFunction(() => document.getElementById('notify-btn').dataset.state === 'blocked');
      assert.match(await bell2.getAttribute('title'), /blocked/);

      assert.deepEqual(posts, [], 'nothing was registered with the API');
      assert.deepEqual(p.problems.filter((x) => !INCOGNITO_PUSH.test(x)), []);
      assert.deepEqual(refused.problems, []);
    } finally {
      await p.context.close();
      await refused.context.close();
    }
  });

  test('the bell turns notifications on and off (the browser\'s PushManager stood in for)', { ...T, skip: RX ? false : 'no push receiver (run with tests/e2e/run.sh)' }, async () => {
    // Headless Chromium cannot subscribe; a stand-in for PushManager returns
    // the push receiver's subscription, so the rest is real: the permission,
    // the server's VAPID key, the API, the UI.
    const carol = await signup(B.uniqueName('carol'), { display_name: 'Carol Bell' });
    const p = await B.person(browser, 'bell');
    try {
      const endpoint = `${RX}/push/${B.uniqueName('bell')}`;
      const keys = (await rx('GET', '/subscription')).body.keys;
      await p.context.addInitScript(({ endpoint: ep, keys: k }) => {
        const bytes = (b64u) => Uint8Array.from(atob(b64u.replaceAll('-', '+').replaceAll('_', '/')), (c) => c.charCodeAt(0)).buffer;
        let current = null;
        window.pushStandIn = { subscribed: [], unsubscribed: 0 };
        PushManager.prototype.subscribe = async function subscribe(opts) {
          const key = typeof opts.applicationServerKey === 'string' ? opts.applicationServerKey : null;
          window.pushStandIn.subscribed.push({ userVisibleOnly: opts.userVisibleOnly, key });
          current = {
            endpoint: ep, expirationTime: null,
            options: { userVisibleOnly: true, applicationServerKey: bytes(key) },
            toJSON: () => ({ endpoint: ep, expirationTime: null, keys: k }),
            unsubscribe: async () => { current = null; window.pushStandIn.unsubscribed++; return true; },
          };
          return current;
        };
        PushManager.prototype.getSubscription = async function getSubscription() { return current; };
      }, { endpoint, keys });
      const calls = [];
      p.context.on('request', (r) => {
        if (new URL(r.url()).pathname.startsWith('/v1/push/subscriptions')) calls.push(`${r.method()} ${new URL(r.url()).pathname}`);
      });
      await p.context.grantPermissions(['notifications'], { origin: new URL(B.baseUrl()).origin });
      await B.signInUI(p.page, { username: carol.username, password: carol.password });

      const bell = p.page.getByRole('button', { name: 'Notifications', exact: true });
      await bell.click();
      await p.page.getByRole('status').filter({ hasText: 'Notifications are on.' }).waitFor();
      await p.page.locator('#notify-btn[aria-pressed=true]').waitFor();
      const vapid = await api('GET', '/v1/push/vapid-key', { token: carol.token });
      assertStatus(vapid, 200);
      assert.deepEqual(await p.page.evaluate(() => window.pushStandIn.subscribed),
        [{ userVisibleOnly: true, key: vapid.body.public_key }], 'subscribed once, with the server\'s VAPID key');
      const subs = await subscriptionsOf(carol);
      assert.deepEqual(subs.map((x) => x.endpoint), [endpoint]);
      await B.shot(p.page, '15-notifications-on');

      // Settings agrees, and turns them off: deleted at the API, unsubscribed in the browser.
      await p.page.getByRole('button', { name: 'Settings' }).click();
      const dialog = p.page.getByRole('dialog', { name: 'Settings' });
      await dialog.locator('#push-state', { hasText: 'On: this browser shows a notification' }).waitFor();
      await dialog.getByRole('button', { name: 'Turn off notifications' }).click();
      await dialog.locator('#push-state', { hasText: 'Off in this browser.' }).waitFor();
      await dialog.getByRole('button', { name: 'Close' }).click();
      await p.page.locator('#notify-btn[aria-pressed=false]').waitFor();
      assert.equal(await p.page.evaluate(() => window.pushStandIn.unsubscribed), 1);
      assert.deepEqual(await subscriptionsOf(carol), []);
      assert.deepEqual(calls, ['POST /v1/push/subscriptions', `DELETE /v1/push/subscriptions/${subs[0].id}`]);
      assert.deepEqual(p.problems, []);
    } finally {
      await p.context.close();
    }
  });

  test('a push from the push worker shows one notification per conversation; registration and sign-out at the API', { ...T, skip: RX ? false : 'no push receiver (run with tests/e2e/run.sh)' }, async () => {
    // Alice (API only) writes to Bob, who uses the web client.
    const alice = await signup(B.uniqueName('alice'), { display_name: 'Alice Push' });
    const bob = await signup(B.uniqueName('bob'), { display_name: 'Bob Push' });
    const conv = await activeDirect(alice, bob);
    const bobP = await B.person(browser, 'bob-push');
    try {
      const base = new URL(B.baseUrl()).origin;
      await bobP.context.grantPermissions(['notifications'], { origin: base });
      await B.signInUI(bobP.page, { username: bob.username, password: bob.password });
      await bobP.page.locator('#live-status[data-status=live], #live-status[data-status=polling]').waitFor();

      // The app registers a subscription (the receiver's endpoint and keys, as a
      // browser's PushSubscription.toJSON()) with the API; the API has it.
      const name = B.uniqueName('web');
      const keys = (await rx('GET', '/subscription')).body.keys;
      const endpoint = `${RX}/push/${name}`;
      const made = await registerInPage(bobP.page, { endpoint, expirationTime: null, keys });
      assert.equal(made.endpoint, endpoint);
      assert.deepEqual((await subscriptionsOf(bob)).map((s) => [s.id, s.endpoint]), [[made.id, endpoint]]);

      // Bob closes the page (offline: the push worker only pushes to users without
      // a live connection); Alice writes twice, and the push worker sends two pushes.
      await waitOnline(alice, bob, true);
      await bobP.page.close();
      await waitOnline(alice, bob, false); // after presence_grace
      await sendOk(alice, conv, 'Dinner at 8?');
      const [first] = await receivedPushes(name, 1);
      await sendOk(alice, conv, 'Or 8:30, if that suits you better');
      const second = (await receivedPushes(name, 2))[1];
      assert.equal(first.conversation_id, conv);
      assert.equal(first.title, 'Alice Push');
      assert.equal(first.body, 'Dinner at 8?');
      assert.equal(second.conversation_id, conv);
      assert.equal(second.body, 'Or 8:30, if that suits you better');

      // Bob opens Missive again. His browser has no subscription of its own (it
      // cannot subscribe here), so the app deletes the registration at the API.
      const page = await B.newPage(bobP);
      const dropped = page.waitForResponse((r) => r.request().method() === 'DELETE'
        && new URL(r.url()).pathname === `/v1/push/subscriptions/${made.id}`);
      await page.goto(B.baseUrl() + '/');
      await page.locator('#app-screen').waitFor({ state: 'visible' });
      assert.equal((await dropped).status(), 204);
      assert.deepEqual(await subscriptionsOf(bob), []);

      // The push worker's payloads, delivered to the service worker: one notification
      // for the conversation (same tag), showing the newest message.
      const sw = await B.serviceWorkerOf(page);
      const tag = `conversation-${conv}`;
      const shows = (pred, t) => async (pg) => pred(await B.notifications(pg, t));
      await B.deliverPushUntil(page, sw, first, shows((l) => l.length === 1 && l[0].body === 'Dinner at 8?'));
      await B.deliverPushUntil(page, sw, second, shows((l) => l.length === 1 && l[0].body === second.body));
      assert.deepEqual(await B.notifications(page), [{ title: 'Alice Push', body: 'Or 8:30, if that suits you better',
        tag, renotify: true, data: { conversation_id: conv, seq: second.seq } }]);

      // Without text (hidden previews send none): "New message".
      const other = conv + 1000000;
      await B.deliverPushUntil(page, sw, { ...second, conversation_id: other, body: '' },
        shows((l) => l.length === 1 && l[0].body === 'New message' && l[0].title === 'Alice Push', `conversation-${other}`));

      // Opening the conversation closes its notification. While it is open and
      // focused, a push for it shows none: the worker asks the window (the page
      // counts the questions) and shows nothing; a push for another conversation
      // still shows.
      await B.openConversation(page, 'Alice Push');
      await B.waitNotifications(page, (l) => l.length === 0, { tag, sw });
      await page.evaluate(() => {
        window.asked = 0;
        navigator.serviceWorker.addEventListener('message', (e) => {
          if (e.data?.type === 'missive.shown-conversation') window.asked++;
        });
      });
      await B.deliverPushUntil(page, sw, second, (pg) => pg.evaluate(() => window.asked > 0));
      const third = conv + 2000000;
      await B.deliverPushUntil(page, sw, { ...first, conversation_id: third, title: 'Book club' },
        shows((l) => l.length === 1 && l[0].title === 'Book club', `conversation-${third}`));
      assert.deepEqual(await B.notifications(page, tag), []);

      // What a click does in the page: the service worker's message opens the conversation.
      await page.evaluate(() => { location.hash = ''; });
      await page.locator('#chat-empty').waitFor({ state: 'visible' });
      await page.evaluate((id) => navigator.serviceWorker.dispatchEvent(new MessageEvent('message',
        { data: { type: 'missive.open-conversation', conversation_id: id } })), conv);
      await page.locator('#chat-title', { hasText: 'Alice Push' }).waitFor();
      assert.equal(new URL(page.url()).hash, `#/c/${conv}`);

      // Signing out deletes this browser's registration at the API (before the session ends).
      const again = await registerInPage(page, { endpoint, expirationTime: null, keys });
      assert.deepEqual((await subscriptionsOf(bob)).map((s) => s.id), [again.id]);
      const order = [];
      page.on('request', (r) => {
        const path = new URL(r.url()).pathname;
        if (r.method() === 'DELETE' && path.startsWith('/v1/')) order.push(path);
      });
      await page.getByRole('button', { name: 'Settings' }).click();
      await page.getByRole('dialog', { name: 'Settings' }).getByRole('button', { name: 'Sign out' }).click();
      await page.locator('#auth-screen').waitFor({ state: 'visible' });
      assert.deepEqual(order, [`/v1/push/subscriptions/${again.id}`, '/v1/sessions/current']);
      assert.deepEqual(await subscriptionsOf(bob), []);
      assert.deepEqual(bobP.problems, []);
    } finally {
      await bobP.context.close();
    }
  });
});

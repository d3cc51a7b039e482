// The web client (web/) in a real browser: Chromium from Debian driven by
// playwright-core, against the private stack. Each person has their own
// browser context (profile); everything is done through the UI.
//
// Screenshots of the main screens go to tests/e2e/artifacts/. With
// MISSIVE_UPDATE_SCREENSHOT=1 the chat screen is also saved as
// docs/screenshot.png (the README's picture).

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, statSync } from 'node:fs';
import * as B from './lib/browser.mjs';

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

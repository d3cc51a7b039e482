// Browser helpers for the web client tests: Chromium from Debian driven by
// playwright-core (no browser download), one context per person, the UI
// driven the way a user would (labels and roles), screenshots into
// tests/e2e/artifacts/.

import { mkdirSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import { loadStack } from './stack.mjs';

export const ARTIFACTS = new URL('../artifacts/', import.meta.url).pathname;
export const CHROMIUM = process.env.MISSIVE_CHROMIUM ?? '/usr/bin/chromium';

export function launch() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install the Debian package chromium (bash deploy/deps.sh) or set MISSIVE_CHROMIUM`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export const baseUrl = () => loadStack().MISSIVE_URL;

/**
 * The policy the page must live with: no inline script or style, no eval.
 * nginx sends its own; when a page comes without one the tests add this one,
 * so a violation always shows up as a console error, which the tests count as
 * a problem.
 */
export const CSP = ["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
  "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'"].join('; ');

async function withCsp(route) {
  const response = await route.fetch();
  const headers = response.headers();
  headers['content-security-policy'] ??= CSP;
  await route.fulfill({ response, headers });
}

/** A unique username with a readable stem: alice_3f9a1c. */
export function uniqueName(stem) {
  return `${stem}_${randomBytes(4).toString('hex')}`;
}

/**
 * A browser context for one person with its page. Console errors and page
 * errors are collected in .problems (a test can assert there are none).
 */
export async function person(browser, name, { viewport = { width: 1100, height: 720 } } = {}) {
  const context = await browser.newContext({ viewport, locale: 'en-GB', timezoneId: 'UTC' });
  await context.route((url) => url.pathname === '/' || url.pathname === '/index.html', withCsp);
  const p = { name, context, problems: [], pages: [] };
  p.page = await newPage(p);
  return p;
}

/** Another tab in the same context (same browser profile). */
export async function newPage(p) {
  const page = await p.context.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => p.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // A refused or aborted request is logged by the browser itself; the tests check the UI instead.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) p.problems.push(`console: ${m.text()}`);
  });
  p.pages.push(page);
  return page;
}

export async function signUpUI(page, { username, password = 'correct horse battery', displayName }) {
  await page.goto(baseUrl() + '/');
  await page.getByRole('tab', { name: 'Create account' }).click();
  const form = page.getByRole('tabpanel', { name: 'Create account' });
  await form.getByLabel('Username').fill(username);
  if (displayName) await form.getByLabel('Display name').fill(displayName);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Create account' }).click();
  await page.locator('#app-screen').waitFor({ state: 'visible' });
  await page.locator('#live-status[data-status=live], #live-status[data-status=polling]').waitFor();
}

export async function signInUI(page, { username, password = 'correct horse battery' }) {
  await page.goto(baseUrl() + '/');
  const form = page.getByRole('tabpanel', { name: 'Sign in' });
  await form.waitFor({ state: 'visible' });
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#app-screen').waitFor({ state: 'visible' });
}

/** New chat -> search -> pick: opens the direct conversation with `username`. */
export async function startChat(page, username) {
  await page.getByRole('button', { name: 'New chat' }).click();
  const dialog = page.getByRole('dialog', { name: 'New chat' });
  await dialog.getByLabel('Search people by username').fill(username);
  await dialog.getByRole('button', { name: new RegExp(`^Chat with `) }).first().click();
  await dialog.waitFor({ state: 'detached' });
}

/** Types a message into the composer and presses Enter. */
export async function sendUI(page, text) {
  const box = page.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
}

/** Opens the conversation titled `title` from the given list tab. */
export async function openConversation(page, title, tab = 'Chats') {
  await page.getByRole('tab', { name: new RegExp(`^${tab}`) }).click();
  await page.locator('#conv-list .conv-item', { hasText: title }).first().click();
  await page.locator('#chat-title', { hasText: title }).waitFor();
}

/** The message items of the open conversation: [{text, seq, tick, status}]. */
export function messages(page) {
  return page.$$eval('#message-list li.msg', (els) => els.map((el) => ({
    text: el.querySelector('.msg-body')?.textContent ?? '',
    seq: el.dataset.seq ? Number(el.dataset.seq) : null,
    tick: el.dataset.tick ?? null,
    status: el.dataset.status,
    mine: el.classList.contains('mine'),
  })));
}

export async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, animations: 'disabled' });
}

// ---- Web Push: the service worker through the Chrome DevTools Protocol ----

/**
 * The page's service worker registration for scope "/" as CDP sees it:
 * {cdp, registrationId, origin}. The CDP session stays open (ServiceWorker domain
 * enabled) for deliverPush().
 */
export async function serviceWorkerOf(page, { timeout = 15000 } = {}) {
  const origin = new URL(baseUrl()).origin;
  const scope = `${origin}/`;
  const cdp = await page.context().newCDPSession(page);
  const regs = new Map();
  const log = []; // what the worker went through, for failure messages
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
    for (const r of registrations) regs.set(r.registrationId, r);
  });
  cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
    for (const v of versions) log.push(`version ${v.versionId}: ${v.status} ${v.runningStatus}`);
  });
  cdp.on('ServiceWorker.workerErrorReported', ({ errorMessage: e }) => {
    log.push(`error: ${e.errorMessage} (${e.sourceURL}:${e.lineNumber})`);
  });
  // Chrome's own record of push events (dispatched, completed with a status) and
  // notifications (shown, closed), as DevTools' background services panels show it.
  cdp.on('BackgroundService.backgroundServiceEventReceived', ({ backgroundServiceEvent: e }) => {
    const meta = e.eventMetadata.map((m) => `${m.key}=${m.value}`).join(' ');
    log.push(`${e.eventName}${meta ? ` (${meta})` : ''}`);
  });
  await cdp.send('ServiceWorker.enable');
  for (const service of ['pushMessaging', 'notifications']) {
    await cdp.send('BackgroundService.setRecording', { shouldRecord: true, service });
    await cdp.send('BackgroundService.startObserving', { service });
  }
  const until = Date.now() + timeout;
  for (;;) {
    const reg = [...regs.values()].find((r) => r.scopeURL === scope && !r.isDeleted);
    if (reg) return { cdp, registrationId: reg.registrationId, origin, log };
    if (Date.now() > until) throw new Error(`no service worker registration for ${scope} within ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Delivers a push message (the decrypted payload, as text or an object) to that service worker. */
export async function deliverPush(sw, payload) {
  const data = typeof payload === 'string' ? payload : JSON.stringify(payload);
  await sw.cdp.send('ServiceWorker.deliverPushMessage', { origin: sw.origin, registrationId: sw.registrationId, data });
}

/**
 * Delivers a push and waits until done(page) is true. Chrome's DevTools delivery
 * is fire-and-forget (a push that finds the worker stopping is dropped without a
 * word), so a push with no effect after `wait` ms is delivered once more; the
 * worker handles a repeated push like the first (same tag, same notification).
 */
export async function deliverPushUntil(page, sw, payload, done, { tries = 3, wait = 5000 } = {}) {
  for (let i = 1; ; i++) {
    await deliverPush(sw, payload);
    const until = Date.now() + wait;
    while (Date.now() < until) {
      if (await done(page)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    const state = `notifications: ${JSON.stringify(await notifications(page))}; service worker: ${sw.log.join('; ') || 'no events'}`;
    if (i >= tries) throw new Error(`a push delivered ${tries} times had no effect; ${state}`);
    console.log(`deliverPushUntil: no effect after ${wait} ms, delivering again; ${state}`);
  }
}

/** The notifications the service worker shows now (registration.getNotifications()), optionally of one tag. */
export function notifications(page, tag) {
  return page.evaluate(async (t) => {
    const reg = await navigator.serviceWorker.ready;
    const list = await reg.getNotifications(t ? { tag: t } : {});
    return list.map((n) => ({ title: n.title, body: n.body, tag: n.tag, renotify: n.renotify, data: n.data }));
  }, tag ?? null);
}

/** Waits until the notifications (of tag) satisfy pred(list); returns the list. sw: for the failure message. */
export async function waitNotifications(page, pred, { tag, timeout = 10000, sw } = {}) {
  const until = Date.now() + timeout;
  for (;;) {
    const list = await notifications(page, tag);
    if (pred(list)) return list;
    if (Date.now() > until) {
      throw new Error(`notifications did not match within ${timeout} ms: ${JSON.stringify(list)}`
        + (sw ? `; service worker: ${sw.log.join('; ') || 'no events'}` : ''));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

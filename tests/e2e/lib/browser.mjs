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

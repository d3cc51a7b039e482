// notify.js: telling the user. Toasts for failures (role="alert"), and a
// polite live region for screen readers (new messages and the like).

import { h } from './dom.js';
import { icon } from './icons.js';

const TOAST_MS = 8000;

export function toast(message, { kind = 'error' } = {}) {
  const box = document.getElementById('toasts');
  if (!box) return;
  const close = () => el.remove();
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('span', { class: 'toast-text', text: message }),
    h('button', { type: 'button', class: 'icon-btn toast-close', 'aria-label': 'Dismiss', onclick: close }, icon('close')));
  box.append(el);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(close, TOAST_MS);
}

/** Shows an error in plain words: "<what>: <the server's detail>". */
export function reportError(e, what) {
  console.error(what ?? 'error', e);
  const text = e?.message || 'Something went wrong.';
  toast(what ? `${what}: ${text}` : text);
}

let clearTimer = null;
/** Reads text out to screen reader users (aria-live="polite"). */
export function announce(text) {
  const el = document.getElementById('announcer');
  if (!el) return;
  el.textContent = '';
  clearTimeout(clearTimer);
  // A fresh text node after a tick, so repeating the same words is announced again.
  setTimeout(() => { el.textContent = text; }, 30);
  clearTimer = setTimeout(() => { el.textContent = ''; }, 5000);
}

// views/push-control.js: the Notifications controls. The bell in the sidebar
// header (#notify-btn, a toggle button: aria-pressed) and the Notifications
// section of Settings both turn Web Push on and off for this browser through
// js/push.js. Nothing here runs on page load but showing the state: the
// browser's permission prompt only ever follows a click.

import { $, h } from '../dom.js';
import { icon } from '../icons.js';
import * as store from '../store.js';
import * as push from '../push.js';
import { toast } from '../notify.js';

const TITLE = {
  on: 'Notifications are on: turn them off',
  off: 'Notifications are off: turn them on',
  blocked: 'Notifications are blocked in this browser’s site settings',
  unsupported: 'This browser cannot show notifications from Missive',
};

const STATUS = {
  on: 'On: this browser shows a notification for new messages while Missive is closed.',
  off: 'Off in this browser.',
  blocked: 'Blocked: allow notifications for this site in your browser’s settings to turn them on.',
  unsupported: 'Not available in this browser (it needs service workers and the Push API over https).',
};

/** Turns notifications on or off; resolves to the plain-words error, or null. */
async function toggle() {
  const { status, busy } = push.pushState();
  if (busy) return null;
  const turningOn = status !== 'on';
  try {
    if (turningOn) await push.enable();
    else await push.disable();
    return null;
  } catch (e) {
    if (e?.name === 'SessionEnded') return null; // the sign-in screen says it
    console.warn(turningOn ? 'turning notifications on' : 'turning notifications off', e);
    const what = turningOn ? 'Could not turn on notifications' : 'Could not turn off notifications';
    return e instanceof push.PushError ? e.message : `${what}: ${e?.message || 'Something went wrong.'}`;
  }
}

/** The header bell. */
export function initPushButton() {
  const btn = $('#notify-btn');
  const render = () => {
    const { status, busy } = push.pushState();
    btn.setAttribute('aria-pressed', status === 'on' ? 'true' : 'false');
    btn.setAttribute('aria-busy', busy ? 'true' : 'false');
    btn.title = TITLE[status];
    btn.dataset.state = status;
    btn.replaceChildren(icon(status === 'on' ? 'bell' : 'muted'));
  };
  btn.addEventListener('click', async () => {
    const wasOn = push.pushState().status === 'on';
    const error = await toggle();
    if (error) toast(error);
    else if (push.pushState().status !== (wasOn ? 'on' : 'off')) {
      toast(wasOn ? 'Notifications are off in this browser.' : 'Notifications are on. New messages will notify you while Missive is closed.', { kind: 'info' });
    }
  });
  store.on('push', render);
  render();
}

/** The Settings section: heading, state in words, the button, errors. */
export function pushSettings() {
  const state = h('p', { id: 'push-state', class: 'hint', role: 'status' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const btn = h('button', { type: 'button', id: 'push-toggle', class: 'btn' });
  const render = () => {
    const { status, busy } = push.pushState();
    state.textContent = busy ? 'Working…' : STATUS[status];
    btn.textContent = status === 'on' ? 'Turn off notifications' : 'Turn on notifications';
    // Not `disabled`: the button keeps the focus while the browser and the server answer.
    btn.setAttribute('aria-disabled', busy ? 'true' : 'false');
    btn.hidden = status === 'unsupported';
  };
  btn.addEventListener('click', async () => {
    error.hidden = true;
    const text = await toggle();
    error.textContent = text ?? '';
    error.hidden = !text;
  });
  const off = store.on('push', render);
  render();
  const section = h('section', { class: 'stack', 'aria-labelledby': 'push-heading' },
    h('h3', { id: 'push-heading', text: 'Notifications' }), state, error,
    h('div', { class: 'dialog-actions' }, btn));
  return { el: section, dispose: off };
}

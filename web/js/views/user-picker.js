// views/user-picker.js: find people by username prefix (GET /v1/users?q=).

import { h, fill, debounce } from '../dom.js';
import { searchUsers } from '../actions.js';
import { avatarClass, initials, userLabel } from '../format.js';
import { errorLine } from './dialog.js';

let seq = 0;

/**
 * userPicker({label, actionLabel(user), onPick(user), exclude: () => Set<id>})
 * -> {el, focus()}. Each result is a button; onPick may throw to show an error.
 */
export function userPicker({ label = 'Search people by username', actionLabel = (u) => `Chat with ${userLabel(u)}`, onPick, exclude = () => new Set() }) {
  const id = `picker-${++seq}`;
  const input = h('input', { id, type: 'search', class: 'picker-input', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', placeholder: 'username' });
  const results = h('ul', { class: 'picker-results', 'aria-label': 'People found' });
  const status = h('p', { class: 'picker-status', role: 'status' });
  const error = errorLine();
  let last = '';

  const run = debounce(async () => {
    const q = input.value.trim().toLowerCase();
    last = q;
    if (!q) {
      results.replaceChildren();
      status.textContent = '';
      return;
    }
    status.textContent = 'Searching…';
    try {
      const users = (await searchUsers(q)).filter((u) => !exclude().has(u.id));
      if (q !== last) return;
      status.textContent = users.length ? `${users.length} found` : 'Nobody found with that username.';
      fill(results, users.map((u) => h('li', {},
        h('button', {
          type: 'button', class: 'picker-item', 'aria-label': actionLabel(u),
          onclick: async (e) => {
            const btn = e.currentTarget;
            btn.disabled = true;
            error.show('');
            try {
              await onPick(u);
            } catch (err) {
              error.show(err.message);
            } finally {
              btn.disabled = false;
            }
          },
        },
          h('span', { class: `avatar small ${avatarClass(u.id)}`, 'aria-hidden': 'true', text: initials(userLabel(u)) }),
          h('span', { class: 'picker-name', text: userLabel(u) }),
          h('span', { class: 'picker-username', text: `@${u.username}` })))));
    } catch (e) {
      status.textContent = '';
      error.show(e.message);
    }
  }, 200);
  input.addEventListener('input', run);

  const el = h('div', { class: 'picker' },
    h('label', { for: id, text: label }), input, status, error, results);
  return { el, focus: () => input.focus(), refresh: run };
}

// views/auth-view.js: the sign-in and create-account forms.

import { $ } from '../dom.js';
import * as auth from '../auth.js';

const FIELDS = { username: 'username', password: 'password', display_name: 'display_name' };

export function initAuthView() {
  const tabs = [$('#tab-signin'), $('#tab-signup')];
  const forms = { 'tab-signin': $('#signin-form'), 'tab-signup': $('#signup-form') };

  function select(tab) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      forms[t.id].hidden = !on;
    }
    forms[tab.id].querySelector('input').focus();
  }
  for (const t of tabs) {
    t.addEventListener('click', () => select(t));
    t.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        e.preventDefault();
        const next = tabs[(tabs.indexOf(t) + 1) % tabs.length];
        next.focus();
        select(next);
      }
    });
  }

  wire($('#signin-form'), async (f) => {
    await auth.signIn(f.username.value.trim(), f.password.value);
  });
  wire($('#signup-form'), async (f) => {
    const username = f.username.value.trim();
    if (!/^[a-z0-9_.]{3,32}$/.test(username)) {
      throw Object.assign(new Error('A username is 3 to 32 characters: lower-case letters, digits, “_” and “.”.'), { field: 'username' });
    }
    if (new TextEncoder().encode(f.password.value).length < 8) {
      throw Object.assign(new Error('The password needs at least 8 characters.'), { field: 'password' });
    }
    await auth.signUp({ username, password: f.password.value, display_name: f.display_name.value.trim() });
  });
}

/** Submit handler with busy state and errors shown next to the form (and the field). */
function wire(form, action) {
  const error = form.querySelector('.form-error');
  const button = form.querySelector('button[type=submit]');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    for (const input of form.querySelectorAll('input')) input.removeAttribute('aria-invalid');
    button.disabled = true;
    try {
      await action(form.elements);
      form.reset();
    } catch (err) {
      error.textContent = err.message || 'Something went wrong. Please try again.';
      error.hidden = false;
      const input = err.field && FIELDS[err.field] ? form.elements[FIELDS[err.field]] : null;
      if (input) {
        input.setAttribute('aria-invalid', 'true');
        input.focus();
      }
    } finally {
      button.disabled = false;
    }
  });
}

export function showAuth(notice) {
  const n = $('#auth-notice');
  n.textContent = notice ?? '';
  n.hidden = !notice;
  $('#auth-screen').hidden = false;
  $('#app-screen').hidden = true;
  const open = [$('#signin-form'), $('#signup-form')].find((f) => !f.hidden);
  open?.querySelector('input')?.focus();
}

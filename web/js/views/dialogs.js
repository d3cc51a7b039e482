// views/dialogs.js: new chat, new group, conversation info (members, mute,
// block, leave) and settings (profile, privacy, notifications, blocked people,
// sign out).

import { h, fill } from '../dom.js';
import { icon } from '../icons.js';
import * as store from '../store.js';
import { state } from '../store.js';
import * as sync from '../sync.js';
import * as actions from '../actions.js';
import * as auth from '../auth.js';
import { reportError, toast } from '../notify.js';
import { avatarClass, initials, presenceText, userLabel } from '../format.js';
import { openDialog, errorLine } from './dialog.js';
import { userPicker } from './user-picker.js';
import { pushSettings } from './push-control.js';

let openConv = () => {};
export function initDialogs(opts) {
  openConv = opts.openConv;
}

export function newChatDialog() {
  const picker = userPicker({
    onPick: async (u) => {
      const conv = await actions.openDirect(u.id);
      dlg.close();
      openConv(conv.id);
    },
  });
  const dlg = openDialog({ title: 'New chat', content: [picker.el] });
  picker.focus();
}

export function newGroupDialog() {
  const chosen = new Map();
  const error = errorLine();
  const title = h('input', { id: 'group-title', maxlength: '128', required: true });
  const chips = h('ul', { class: 'chips', 'aria-label': 'Members to add' });
  const renderChips = () => fill(chips, [...chosen.values()].map((u) => h('li', { class: 'chip' },
    h('span', { text: userLabel(u) }),
    h('button', { type: 'button', class: 'icon-btn small', 'aria-label': `Remove ${userLabel(u)}`, onclick: () => { chosen.delete(u.id); renderChips(); picker.refresh(); } }, icon('close')))));
  const picker = userPicker({
    label: 'Add people',
    actionLabel: (u) => `Add ${userLabel(u)}`,
    exclude: () => new Set(chosen.keys()),
    onPick: async (u) => { chosen.set(u.id, u); renderChips(); picker.refresh(); },
  });
  const form = h('form', { class: 'stack', novalidate: true },
    h('label', { for: 'group-title', text: 'Group name' }), title,
    chips, picker.el, error,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'submit', class: 'btn primary' }, 'Create group')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.show('');
    if (!title.value.trim()) {
      error.show('Give the group a name.');
      title.focus();
      return;
    }
    try {
      const conv = await actions.createGroup(title.value.trim(), [...chosen.keys()]);
      dlg.close();
      openConv(conv.id);
    } catch (err) {
      error.show(err.message);
    }
  });
  const dlg = openDialog({ title: 'New group', content: [form] });
  title.focus();
}

export function infoDialog(id) {
  const conv = state.convs.get(id);
  if (!conv) return;
  const body = h('div', { class: 'stack' });
  const error = errorLine();
  const dlg = openDialog({ title: conv.kind === 'group' ? 'Group info' : 'Contact info', content: [error, body], onClose: () => { off(); } });
  const run = async (fn) => {
    error.show('');
    try {
      await fn();
    } catch (e) {
      error.show(e.message);
    }
  };
  const render = () => {
    const c = state.convs.get(id);
    if (!c) {
      dlg.close();
      return;
    }
    fill(body, c.kind === 'group' ? groupInfo(c, run, dlg) : directInfo(c, run), muteRow(c, run));
  };
  const offs = [store.on('conv', (x) => { if (x === id) render(); }), store.on('blocks', render), store.on('presence', render)];
  const off = () => offs.forEach((f) => f());
  render();
  sync.bg(sync.refreshConversation(id), 'Loading the conversation');
}

function directInfo(c, run) {
  const peer = c.peer;
  const blocked = state.blocked.has(peer.id);
  return [
    h('div', { class: 'profile' },
      h('span', { class: `avatar large ${avatarClass(peer.id)}`, 'aria-hidden': 'true', text: initials(userLabel(peer)) }),
      h('div', {},
        h('p', { class: 'profile-name', text: userLabel(peer) }),
        h('p', { class: 'profile-sub', text: `@${peer.username} · ${presenceText(state.presence.get(peer.id)) || 'offline'}` }))),
    h('div', { class: 'dialog-actions' },
      h('button', {
        type: 'button', class: `btn ${blocked ? '' : 'danger'}`,
        onclick: () => run(() => actions.setBlocked(peer.id, !blocked)),
      }, blocked ? `Unblock ${userLabel(peer)}` : `Block ${userLabel(peer)}`)),
  ];
}

function groupInfo(c, run, dlg) {
  const me = state.me.id;
  const manager = c.role === 'owner' || c.role === 'admin';
  const canRemove = (m) => m.user_id !== me && m.role !== 'owner' && (c.role === 'owner' || (c.role === 'admin' && m.role === 'member'));
  const parts = [];
  if (manager) {
    const input = h('input', { id: 'rename-input', value: c.title ?? '', maxlength: '128' });
    const form = h('form', { class: 'inline-form' },
      h('label', { for: 'rename-input', text: 'Group name' }), input,
      h('button', { type: 'submit', class: 'btn' }, 'Rename'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      run(() => actions.updateConversation(c.id, { title: input.value.trim() }));
    });
    parts.push(form);
  } else {
    parts.push(h('p', { class: 'profile-name', text: c.title }));
  }
  const members = c.members ?? [];
  parts.push(h('h3', { text: `${members.length || c.member_count} members` }));
  parts.push(h('ul', { class: 'member-list' }, members.map((m) => h('li', { class: 'member' },
    h('span', { class: `avatar small ${avatarClass(m.user_id)}`, 'aria-hidden': 'true', text: initials(m.display_name) }),
    h('span', { class: 'member-name' },
      h('span', { text: m.user_id === me ? `${m.display_name} (you)` : m.display_name }),
      h('span', { class: 'member-sub', text: `@${m.username}${m.role !== 'member' ? ` · ${m.role}` : ''}${m.state === 'request' ? ' · invited' : ''}` })),
    canRemove(m)
      ? h('button', { type: 'button', class: 'btn small', onclick: () => run(() => actions.removeMember(c.id, m.user_id)), 'aria-label': `Remove ${m.display_name}` }, 'Remove')
      : null))));
  if (manager) {
    const picker = userPicker({
      label: 'Add people',
      actionLabel: (u) => `Add ${userLabel(u)} to the group`,
      exclude: () => new Set((state.convs.get(c.id)?.members ?? []).map((m) => m.user_id)),
      onPick: async (u) => {
        await actions.addMembers(c.id, [u.id]);
        toast(`${userLabel(u)} was added.`, { kind: 'info' });
      },
    });
    parts.push(picker.el);
  }
  parts.push(h('div', { class: 'dialog-actions' },
    h('button', {
      type: 'button', class: 'btn danger',
      onclick: () => {
        if (!window.confirm(`Leave ${c.title}?`)) return;
        run(async () => {
          await actions.removeMember(c.id, me);
          dlg.close();
        });
      },
    }, 'Leave group')));
  return parts;
}

function muteRow(c, run) {
  const muted = c.muted_until && new Date(c.muted_until) > new Date();
  return h('div', { class: 'dialog-actions' },
    muted ? h('span', { class: 'hint', text: `Muted until ${new Date(c.muted_until).toLocaleString()}` }) : null,
    h('button', {
      type: 'button', class: 'btn',
      onclick: () => run(() => actions.updateConversation(c.id, { muted_until: muted ? null : new Date(Date.now() + 8 * 3600e3).toISOString() })),
    }, muted ? 'Unmute' : 'Mute for 8 hours'));
}

export function settingsDialog() {
  const me = state.me;
  const error = errorLine();
  const name = h('input', { id: 'settings-name', value: me.display_name, maxlength: '64', autocomplete: 'name' });
  const receipts = h('input', { id: 'settings-receipts', type: 'checkbox', checked: me.send_read_receipts !== false });
  const policy = h('select', { id: 'settings-policy' },
    [['anyone', 'Anyone'], ['groups', 'People I share a group with'], ['nobody', 'Nobody']].map(([v, t]) =>
      h('option', { value: v, selected: (me.dm_policy ?? 'anyone') === v }, t)));
  const saved = h('p', { class: 'hint', role: 'status' });
  const form = h('form', { class: 'stack' },
    h('p', { class: 'hint', text: `Signed in as @${me.username}` }),
    h('label', { for: 'settings-name', text: 'Display name' }), name,
    h('label', { for: 'settings-policy', text: 'Who can start a chat with me' }), policy,
    h('div', { class: 'check' }, receipts, h('label', { for: 'settings-receipts', text: 'Send read receipts' })),
    h('div', { class: 'dialog-actions' }, saved, h('button', { type: 'submit', class: 'btn primary' }, 'Save')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.show('');
    saved.textContent = '';
    try {
      const user = await actions.updateMe({ display_name: name.value.trim(), dm_policy: policy.value, send_read_receipts: receipts.checked });
      auth.updateUser(user);
      saved.textContent = 'Saved.';
    } catch (err) {
      error.show(err.message);
    }
  });
  const blocks = h('ul', { class: 'member-list', 'aria-label': 'Blocked people' });
  const renderBlocks = (list) => fill(blocks, list.length === 0
    ? h('li', { class: 'hint', text: 'You have not blocked anyone.' })
    : list.map((b) => h('li', { class: 'member' },
      h('span', { class: 'member-name', text: `${userLabel(b.user)} (@${b.user.username})` }),
      h('button', {
        type: 'button', class: 'btn small',
        onclick: async () => {
          try {
            await actions.setBlocked(b.user.id, false);
            renderBlocks(await actions.loadBlocks());
          } catch (err) {
            error.show(err.message);
          }
        },
      }, 'Unblock'))));
  actions.loadBlocks().then(renderBlocks, (e) => error.show(e.message));
  const signOut = h('button', {
    type: 'button', class: 'btn danger',
    onclick: async () => {
      dlg.close();
      try {
        await auth.signOut();
      } catch (e) {
        reportError(e, 'Sign out');
      }
    },
  }, 'Sign out');
  const notifications = pushSettings();
  const dlg = openDialog({
    title: 'Settings',
    content: [error, form, notifications.el, h('h3', { text: 'Blocked people' }), blocks, h('div', { class: 'dialog-actions' }, signOut)],
    onClose: notifications.dispose,
  });
  name.focus();
}

// views/sidebar.js: the left pane: who I am, the Chats / Requests lists and
// the live-updates status line.

import { $, h, fill } from '../dom.js';
import { icon } from '../icons.js';
import * as store from '../store.js';
import { state } from '../store.js';
import { avatarClass, initials, listTime, snippet, presenceText } from '../format.js';
import { loadList, bg } from '../sync.js';

const STATUS_TEXT = {
  offline: 'Live updates: off',
  connecting: 'Live updates: connecting…',
  live: 'Live updates: on',
  reconnecting: 'Live updates: reconnecting…',
  polling: 'Live updates: polling',
};

/** onOpen(id): the user picked a conversation. */
export function initSidebar({ onOpen }) {
  const tabs = { all: $('#tab-all'), requests: $('#tab-requests') };
  for (const [name, el] of Object.entries(tabs)) {
    el.addEventListener('click', () => selectTab(name));
    el.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
      e.preventDefault();
      const other = name === 'all' ? 'requests' : 'all';
      tabs[other].focus();
      selectTab(other);
    });
  }
  function selectTab(name) {
    state.tab = name;
    for (const [n, el] of Object.entries(tabs)) {
      el.setAttribute('aria-selected', String(n === name));
      el.tabIndex = n === name ? 0 : -1;
    }
    $('#conv-panel').setAttribute('aria-labelledby', tabs[name].id);
    renderList();
  }

  $('#conv-list').addEventListener('click', (e) => {
    const item = e.target.closest('[data-conv]');
    if (item) onOpen(Number(item.dataset.conv));
  });
  $('#conv-more').addEventListener('click', () => bg(loadList(state.tab, { more: true }), 'Loading conversations'));

  store.on('convs', renderList);
  store.on('open', renderList);
  store.on('presence', renderList);
  store.on('typing', renderList);
  store.on('live', renderStatus);
  store.on('me', renderMe);
  setInterval(renderList, 60_000); // "Yesterday" becomes true at midnight
  return { selectTab };
}

function renderMe() {
  const me = state.me;
  if (!me) return;
  const av = $('#me-avatar');
  av.className = `avatar ${avatarClass(me.id)}`;
  av.textContent = initials(me.display_name);
  $('#me-name').textContent = me.display_name;
  $('#me-name').title = `@${me.username}`;
}

function renderStatus() {
  const { status } = state.live;
  const el = $('#live-status');
  el.textContent = STATUS_TEXT[status] ?? '';
  el.dataset.status = status;
}

function preview(c) {
  const typing = store.typingIn(c.id);
  if (typing.length) return { text: c.kind === 'group' ? `${store.nameOf(typing[0])} is typing…` : 'typing…', typing: true };
  const pend = store.pendingOf(c.id).at(-1);
  if (pend) return { text: `You: ${pend.body ? snippet(pend.body, 60) : 'Photo'}`, failed: pend.status === 'failed' };
  const m = c.last_message;
  if (!m) return { text: c.state === 'request' ? 'Message request' : 'No messages yet' };
  const who = m.sender_id === state.me?.id ? 'You: ' : c.kind === 'group' ? `${store.nameOf(m.sender_id)}: ` : '';
  const text = m.deleted_at ? 'Message deleted' : m.body !== null ? snippet(m.body, 60) : m.media_ids?.length ? 'Photo' : 'Message deleted';
  return { text: who + text };
}

function renderList() {
  const list = $('#conv-list');
  const hadFocus = list.contains(document.activeElement) ? document.activeElement.dataset.conv : null;
  const items = store.convList(state.tab);
  const unreadChats = store.convList('all').filter((c) => c.unread_count > 0).length;
  const requests = store.convList('requests').length;
  $('#count-all').textContent = unreadChats ? String(unreadChats) : '';
  $('#count-requests').textContent = requests ? String(requests) : '';
  const unread = store.convList('all').reduce((n, c) => n + (c.unread_count || 0), 0);
  document.title = unread ? `(${unread}) Missive` : 'Missive';

  fill(list, items.map((c) => item(c)));
  const empty = $('#conv-empty');
  empty.hidden = items.length > 0;
  empty.textContent = state.tab === 'requests' ? 'No message requests.' : 'No conversations yet. Start one with New chat.';
  $('#conv-more').hidden = !state.more[state.tab];
  if (hadFocus) list.querySelector(`[data-conv="${CSS.escape(hadFocus)}"]`)?.focus();
}

function item(c) {
  const title = store.convTitle(c);
  const p = preview(c);
  const presence = c.peer ? state.presence.get(c.peer.id) : null;
  const online = presence?.online && c.state === 'active';
  const muted = c.muted_until && new Date(c.muted_until) > new Date();
  const time = store.pendingOf(c.id).length ? '' : listTime(c.last_message?.created_at ?? c.last_activity_at);
  return h('li', {},
    h('button', {
      type: 'button', class: 'conv-item', 'data-conv': c.id,
      'aria-current': c.id === state.openId ? 'true' : null,
    },
      h('span', { class: `avatar ${avatarClass(c.peer?.id ?? c.id)}`, 'aria-hidden': 'true' },
        c.kind === 'group' ? '#' : initials(title),
        c.peer && c.state === 'active' ? h('span', { class: `presence-dot${online ? ' online' : ''}` }) : null),
      h('span', { class: 'conv-main' },
        h('span', { class: 'conv-top' },
          h('span', { class: 'conv-title', text: title }),
          h('span', { class: 'conv-time', text: time })),
        h('span', { class: 'conv-bottom' },
          h('span', { class: `conv-preview${p.typing ? ' is-typing' : ''}${p.failed ? ' is-failed' : ''}`, text: p.text }),
          muted ? h('span', { class: 'muted-icon', title: 'Muted', role: 'img', 'aria-label': 'muted' }, icon('muted')) : null,
          c.unread_count > 0
            ? h('span', { class: `badge${muted ? ' badge-muted' : ''}`, 'aria-label': `${c.unread_count} unread`, text: String(c.unread_count) })
            : null)),
      c.peer && c.state === 'active' ? h('span', { class: 'sr-only', text: `, ${presenceText(presence) || 'offline'}` }) : null));
}

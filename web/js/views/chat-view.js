// views/chat-view.js: the right pane: header with presence, banners (message
// request, blocked), the history (infinite scroll backwards), typing line and
// composer (Enter sends, Shift+Enter new line; reply and edit modes).

import { $, h, fill } from '../dom.js';
import * as store from '../store.js';
import { state } from '../store.js';
import * as sync from '../sync.js';
import * as actions from '../actions.js';
import * as sender from '../sender.js';
import { reportError } from '../notify.js';
import { icon } from '../icons.js';
import { IMAGE_TYPES, checkImage, uploadImage } from '../media.js';
import { avatarClass, initials, presenceText, dayKey, dayLabel, snippet } from '../format.js';
import { describe, signature, messageItem, dayItem } from './message-view.js';

let onInfo = () => {};
let onBack = () => {};
let onAccepted = () => {};
const items = new Map(); // key -> li
let composeMode = null; // null | {kind: 'reply'|'edit', seq}
let picker = null; // seq whose emoji picker is open
const drafts = new Map();
let shownId = null;
let stickToBottom = true;
let attachment = null; // {file, url}: the image chosen for the next message
let uploading = false;

export function initChatView(opts) {
  onInfo = opts.onInfo;
  onBack = opts.onBack;
  onAccepted = opts.onAccepted ?? onAccepted;
  $('#chat-info-btn').addEventListener('click', () => onInfo(state.openId));
  $('#chat-back').addEventListener('click', () => onBack());
  $('#message-list').addEventListener('click', onListClick);
  $('#load-older').addEventListener('click', () => older(true));
  $('#composer').addEventListener('submit', (e) => { e.preventDefault(); submit(); });
  $('#composer-cancel').addEventListener('click', () => setMode(null));
  initAttach();
  const input = $('#composer-input');
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === 'Escape' && composeMode) {
      e.preventDefault();
      setMode(null);
    }
  });
  input.addEventListener('input', () => {
    if (shownId) drafts.set(shownId, input.value);
    if (input.value.trim() && !composeMode?.kind?.startsWith('edit') && shownId) sync.sendTyping(shownId);
  });
  const scroller = $('#scroller');
  scroller.addEventListener('scroll', () => {
    stickToBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    if (scroller.scrollTop < 150) older(false);
    if (stickToBottom && shownId) sync.markRead(shownId);
  }, { passive: true });
  // An image that finishes loading grows its message: stay at the bottom if we were there.
  $('#message-list').addEventListener('load', (e) => {
    if (e.target.tagName === 'IMG' && stickToBottom) scroller.scrollTop = scroller.scrollHeight;
  }, true);

  store.on('open', render);
  store.on('conv', (id) => { if (id === state.openId) { renderHead(); renderBanner(); renderMessages(); } });
  store.on('messages', (id) => { if (id === state.openId) renderMessages(); });
  store.on('presence', () => renderHead());
  store.on('typing', (id) => { if (id === state.openId) { renderTyping(); renderHead(); } });
  store.on('blocks', () => { renderBanner(); });
  setInterval(renderHead, 30_000); // "last seen 5 min ago" ages
}

function render() {
  const id = state.openId;
  const conv = state.convs.get(id);
  $('#chat-empty').hidden = Boolean(conv);
  $('#chat-main').hidden = !conv;
  document.body.classList.toggle('show-chat', Boolean(id));
  if (id !== shownId) {
    items.clear();
    $('#message-list').replaceChildren();
    composeMode = null;
    picker = null;
    stickToBottom = true;
    shownId = id;
    const input = $('#composer-input');
    input.value = drafts.get(id) ?? '';
    setAttachment(null);
    renderContext();
  }
  if (!conv) return;
  renderHead();
  renderBanner();
  renderMessages();
  renderTyping();
}

function renderHead() {
  const conv = state.convs.get(state.openId);
  if (!conv) return;
  const title = store.convTitle(conv);
  $('#chat-title').textContent = title;
  const av = $('#chat-avatar');
  av.className = `avatar ${avatarClass(conv.peer?.id ?? conv.id)}`;
  av.textContent = conv.kind === 'group' ? '#' : initials(title);
  const sub = $('#chat-subtitle');
  const typing = store.typingIn(conv.id);
  sub.classList.toggle('is-typing', typing.length > 0);
  if (conv.kind === 'direct') {
    // Presence is shared only between people in an active conversation.
    const shared = conv.state === 'active' && conv.members?.find((m) => m.user_id === conv.peer?.id)?.state !== 'request';
    const seen = shared ? presenceText(state.presence.get(conv.peer?.id)) : '';
    sub.textContent = typing.length ? 'typing…' : seen || `@${conv.peer?.username ?? ''}`;
  } else {
    const names = (conv.members ?? []).map((m) => store.nameOf(m.user_id));
    sub.textContent = names.length ? snippet(names.join(', '), 80) : `${conv.member_count} members`;
  }
}

function renderBanner() {
  const conv = state.convs.get(state.openId);
  const banner = $('#chat-banner');
  const input = $('#composer-input');
  const composer = $('#composer');
  if (!conv) return;
  let content = null;
  let canWrite = conv.state === 'active';
  const peer = conv.peer;
  if (conv.state === 'request') {
    const who = store.convTitle(conv);
    content = [
      h('p', { text: `${who} wants to send you messages. They will not know you have seen the request until you accept.` }),
      h('div', { class: 'banner-actions' },
        h('button', { type: 'button', class: 'btn primary', onclick: () => act(async () => { await actions.accept(conv.id); setTimeout(() => onAccepted(conv.id), 0); }, 'Could not accept') }, 'Accept'),
        h('button', { type: 'button', class: 'btn', onclick: () => act(() => actions.decline(conv.id), 'Could not decline') }, 'Decline'),
        h('button', { type: 'button', class: 'btn danger', onclick: () => act(() => actions.decline(conv.id, { block: true }), 'Could not block') }, 'Block')),
    ];
  } else if (peer && state.blocked.has(peer.id)) {
    canWrite = false;
    content = [
      h('p', { text: `You blocked ${store.convTitle(conv)}. Neither of you can send messages here.` }),
      h('div', { class: 'banner-actions' },
        h('button', { type: 'button', class: 'btn', onclick: () => act(() => actions.setBlocked(peer.id, false), 'Could not unblock') }, 'Unblock')),
    ];
  } else if (peer && conv.members?.find((m) => m.user_id === peer.id)?.state === 'request') {
    content = [h('p', { text: `${store.convTitle(conv)} has not accepted your message request yet.` })];
  }
  banner.hidden = !content;
  banner.classList.toggle('banner-info', Boolean(content) && conv.state === 'active' && canWrite);
  if (content) fill(banner, content);
  composer.hidden = conv.state !== 'active';
  input.disabled = !canWrite;
  $('#send-btn').disabled = !canWrite || uploading;
  $('#attach-btn').disabled = !canWrite || uploading;
}

async function act(fn, what) {
  try {
    await fn();
  } catch (e) {
    reportError(e, what);
  }
}

function renderTyping() {
  const conv = state.convs.get(state.openId);
  const ids = conv ? store.typingIn(conv.id) : [];
  const names = ids.map((id) => store.nameOf(id));
  $('#typing').textContent = names.length === 0 ? ''
    : names.length === 1 ? `${names[0]} is typing…`
      : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : 'Several people are typing…';
}

// ---- the history ----

function renderMessages() {
  const id = state.openId;
  const conv = state.convs.get(id);
  if (!conv) return;
  const list = $('#message-list');
  const scroller = $('#scroller');
  const box = state.msgs.get(id);
  const all = [...store.messagesOf(id), ...store.pendingOf(id)];
  const firstKey = list.firstElementChild?.dataset.key;
  const anchor = firstKey ? items.get(firstKey) : null;
  const anchorTop = anchor ? anchor.getBoundingClientRect().top : 0;

  const keep = new Set();
  let pos = list.firstChild;
  const place = (key, sig, build) => {
    let el = items.get(key);
    if (!el || el.dataset.sig !== sig) {
      const next = build();
      next.dataset.key = key;
      next.dataset.sig = sig;
      if (el) {
        const fk = el.contains(document.activeElement) ? document.activeElement.dataset.fk : null;
        if (el === pos) pos = next;
        el.replaceWith(next);
        if (fk) queueMicrotask(() => next.querySelector(`[data-fk="${CSS.escape(fk)}"]`)?.focus());
      }
      el = next;
      items.set(key, el);
    }
    if (el === pos) pos = pos.nextSibling;
    else list.insertBefore(el, pos);
    keep.add(key);
  };

  let prev = null;
  let prevDay = null;
  for (const m of all) {
    const day = dayKey(m.created_at);
    if (day !== prevDay) {
      const label = dayLabel(m.created_at);
      place(`d${day}`, label, () => dayItem(label));
      prevDay = day;
    }
    const d = describe(m, { conv, prev });
    const open = picker !== null && picker === d.seq;
    place(d.key, signature(d) + open, () => messageItem(d, { pickerOpen: open }));
    prev = m;
  }
  while (pos) {
    const next = pos.nextSibling;
    pos.remove();
    pos = next;
  }
  for (const key of [...items.keys()]) if (!keep.has(key)) items.delete(key);

  const more = Boolean(box?.loaded && box.hasMore);
  $('#load-older').hidden = !more;
  $('#history-start').hidden = !box?.loaded || more;

  if (stickToBottom) scroller.scrollTop = scroller.scrollHeight;
  else if (anchor?.isConnected) scroller.scrollTop += anchor.getBoundingClientRect().top - anchorTop;
}

async function older(fromButton) {
  const id = state.openId;
  if (!id) return;
  try {
    const loaded = await sync.loadOlder(id);
    if (loaded && fromButton) $('#scroller').focus();
  } catch (e) {
    reportError(e, 'Could not load earlier messages');
  }
}

function onListClick(e) {
  const btn = e.target.closest('[data-action]');
  if (!btn) return;
  const li = btn.closest('li.msg');
  const id = state.openId;
  const seq = li?.dataset.seq ? Number(li.dataset.seq) : null;
  const cmid = li?.dataset.cmid;
  const m = seq ? store.findMessage(id, seq) : null;
  switch (btn.dataset.action) {
    case 'retry':
      sender.retry(id, cmid);
      break;
    case 'discard':
      sender.discard(id, cmid);
      break;
    case 'reply':
      setMode({ kind: 'reply', seq });
      break;
    case 'edit':
      if (m) setMode({ kind: 'edit', seq, body: m.body });
      break;
    case 'delete':
      if (m && window.confirm('Delete this message for everyone?')) act(() => actions.deleteMessage(id, seq), 'Could not delete the message');
      break;
    case 'react':
      picker = picker === seq ? null : seq;
      renderMessages();
      queueMicrotask(() => items.get(`s${seq}`)?.querySelector('.emoji-picker button')?.focus());
      break;
    case 'pick': {
      picker = null;
      const has = m?.reactions?.some((r) => r.emoji === btn.dataset.emoji && r.mine);
      renderMessages();
      act(() => actions.toggleReaction(id, seq, btn.dataset.emoji, !has), 'Could not react');
      break;
    }
    case 'reaction': {
      const r = m?.reactions?.find((x) => x.emoji === btn.dataset.emoji);
      act(() => actions.toggleReaction(id, seq, btn.dataset.emoji, !r?.mine), 'Could not change the reaction');
      break;
    }
    case 'jump': {
      const target = items.get(`s${btn.dataset.target}`);
      if (target) {
        target.scrollIntoView({ block: 'center' });
        target.classList.add('flash');
        setTimeout(() => target.classList.remove('flash'), 1200);
      }
      break;
    }
    default:
      break;
  }
}

// ---- composer ----

function setMode(mode) {
  const input = $('#composer-input');
  if (composeMode?.kind === 'edit' && mode?.kind !== 'edit') input.value = drafts.get(shownId) ?? '';
  composeMode = mode;
  if (mode?.kind === 'edit') input.value = mode.body ?? '';
  renderContext();
  input.focus();
}

function renderContext() {
  const box = $('#composer-context');
  const text = $('#composer-context-text');
  if (!composeMode) {
    box.hidden = true;
    $('#send-btn').setAttribute('aria-label', 'Send');
    return;
  }
  const m = store.findMessage(shownId, composeMode.seq);
  box.hidden = false;
  if (composeMode.kind === 'reply') {
    text.textContent = `Replying to ${m ? store.nameOf(m.sender_id) : 'a message'}: ${snippet(m?.body ?? '', 60)}`;
    $('#send-btn').setAttribute('aria-label', 'Send reply');
  } else {
    text.textContent = 'Editing your message';
    $('#send-btn').setAttribute('aria-label', 'Save edit');
  }
}

// ---- attachments ----

function initAttach() {
  // The file input lives next to the paperclip button, which opens it.
  const file = h('input', { type: 'file', id: 'attach-input', class: 'sr-only', accept: IMAGE_TYPES.join(','),
                            tabindex: '-1', 'aria-hidden': 'true' });
  const btn = $('#attach-btn');
  btn.removeAttribute('aria-disabled');
  btn.setAttribute('aria-label', 'Attach an image');
  btn.title = 'Attach an image';
  btn.after(file);
  btn.addEventListener('click', () => file.click());
  file.addEventListener('change', () => {
    const f = file.files?.[0];
    file.value = '';
    if (!f) return;
    const problem = checkImage(f);
    if (problem) reportError(new Error(problem), 'Cannot attach that file');
    else setAttachment(f);
    $('#composer-input').focus();
  });
  const box = h('div', { id: 'attach-preview', class: 'attach-preview', hidden: true });
  $('#composer').insertBefore(box, $('#composer .composer-row'));
}

function setAttachment(file) {
  if (attachment) URL.revokeObjectURL(attachment.url);
  attachment = file ? { file, url: URL.createObjectURL(file) } : null;
  renderAttachment();
}

function renderAttachment() {
  const box = $('#attach-preview');
  box.hidden = !attachment;
  $('#composer').setAttribute('aria-busy', String(uploading));
  renderBanner();
  if (!attachment) {
    box.replaceChildren();
    return;
  }
  fill(box,
    h('img', { class: 'attach-thumb', src: attachment.url, alt: '' }),
    h('span', { class: 'attach-name', text: uploading ? `Uploading ${attachment.file.name}…` : attachment.file.name }),
    uploading ? null : h('button', { type: 'button', class: 'icon-btn small', 'aria-label': `Remove ${attachment.file.name}`,
                                     title: 'Remove the image', onclick: () => { setAttachment(null); $('#composer-input').focus(); } },
    icon('close')));
}

async function submit() {
  const id = shownId;
  const input = $('#composer-input');
  const body = input.value;
  const file = composeMode?.kind === 'edit' ? null : attachment?.file;
  if (!id || (!body.trim() && !file) || input.disabled || uploading) return;
  if ([...body].length > 4000) {
    reportError(new Error('A message can have at most 4000 characters.'));
    return;
  }
  if (composeMode?.kind === 'edit') {
    const { seq } = composeMode;
    try {
      await actions.editMessage(id, seq, body);
      setMode(null);
    } catch (e) {
      reportError(e, 'Could not edit the message');
    }
    return;
  }
  const replyTo = composeMode?.kind === 'reply' ? composeMode.seq : null;
  let mediaIds = [];
  if (file) {
    uploading = true;
    renderAttachment();
    try {
      mediaIds = [await uploadImage(file)];
    } catch (e) {
      reportError(e, 'Could not upload the image');
      return; // the image and the text stay in the composer
    } finally {
      uploading = false;
      if (shownId === id) renderAttachment();
    }
    if (shownId !== id) {
      // The user moved on while it uploaded: send it anyway, leave the other composer alone.
      if (drafts.get(id) === body) drafts.delete(id);
      sender.send(id, body.trim() ? body : null, replyTo, mediaIds);
      return;
    }
    setAttachment(null);
  }
  if (input.value === body) {
    input.value = '';
    drafts.delete(id);
  }
  composeMode = null;
  renderContext();
  stickToBottom = true;
  sender.send(id, body.trim() ? body : null, replyTo, mediaIds);
  input.focus();
}

/** Focus the composer (after opening a conversation). */
export function focusComposer() {
  const input = $('#composer-input');
  if (!input.disabled && !$('#composer').hidden) input.focus();
}


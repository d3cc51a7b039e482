// views/message-view.js: one message of the history as a list item. Buttons
// carry data-action (handled by the chat view, one listener for the list) and
// data-fk (to give focus back after the item is rebuilt).

import { h } from '../dom.js';
import { icon } from '../icons.js';
import { clock, snippet } from '../format.js';
import * as store from '../store.js';
import { state } from '../store.js';
import { mediaUrl, previewUrl, loadedUrl } from '../media.js';

export const QUICK_EMOJI = ['👍', '❤️', '😂', '😮', '😢', '🙏'];
const EDIT_WINDOW_MS = 24 * 3600 * 1000;

const TICKS = {
  sending: { icon: 'clock', label: 'Sending' },
  failed: { icon: 'alert', label: 'Not sent' },
  sent: { icon: 'check', label: 'Sent' },
  delivered: { icon: 'checks', label: 'Delivered' },
  read: { icon: 'checks', label: 'Read' },
};

/** 'sent' | 'delivered' | 'read' for my stored message m in conversation conv. */
export function tickOf(conv, m) {
  let byMembers = 'sent';
  const others = (conv?.members ?? []).filter((x) => x.user_id !== m.sender_id && x.state === 'active');
  if (others.length) {
    if (others.every((x) => x.last_read_seq !== null && x.last_read_seq >= m.seq)) byMembers = 'read';
    else if (others.every((x) => x.last_delivered_seq >= m.seq)) byMembers = 'delivered';
  }
  let byReceipts = 'sent';
  const r = m.receipts;
  if (r && r.recipients > 0) {
    if (r.read >= r.recipients) byReceipts = 'read';
    else if (r.delivered >= r.recipients) byReceipts = 'delivered';
  }
  const rank = { sent: 0, delivered: 1, read: 2 };
  // Marks only move forward: whichever source is further along is right.
  return rank[byReceipts] > rank[byMembers] ? byReceipts : byMembers;
}

/** What a message item shows; equal signatures need no rebuild. */
export function describe(m, { conv, prev }) {
  const me = state.me?.id;
  const pending = !m.seq;
  const mine = m.sender_id === me;
  const media = m.media_ids ?? [];
  const deleted = Boolean(m.deleted_at) || (!pending && m.body === null && !media.length);
  const group = conv?.kind === 'group';
  const target = m.reply_to ? store.findMessage(conv.id, m.reply_to) : null;
  const admin = conv?.role === 'owner' || conv?.role === 'admin';
  const active = conv?.state === 'active';
  return {
    key: pending ? `c${m.client_msg_id}` : `s${m.seq}`,
    seq: m.seq ?? null,
    cmid: m.client_msg_id,
    mine,
    pending,
    status: pending ? m.status : 'stored',
    error: m.error ?? null,
    body: m.body,
    media: deleted ? [] : media,
    deleted,
    edited: Boolean(m.edited_at) && !deleted,
    time: m.created_at,
    sender: group && !mine && (!prev || prev.sender_id !== m.sender_id || prev.deleted_at) ? store.nameOf(m.sender_id) : null,
    reply: m.reply_to
      ? { seq: m.reply_to, who: target ? store.nameOf(target.sender_id) : '', text: target ? (target.deleted_at || (target.body === null && !target.media_ids?.length) ? 'Message deleted' : target.body === null ? 'Photo' : snippet(target.body, 80)) : `Message #${m.reply_to}` }
      : null,
    tick: pending ? m.status : mine && !deleted ? tickOf(conv, m) : null,
    reactions: deleted ? [] : (m.reactions ?? []).map((r) => [r.emoji, r.count, r.mine]),
    canReply: !pending && !deleted && active,
    canReact: !pending && !deleted && active,
    canEdit: !pending && !deleted && mine && active && Date.now() - new Date(m.created_at).getTime() < EDIT_WINDOW_MS,
    canDelete: !pending && !deleted && (mine || (group && admin)) && active,
  };
}

export const signature = (d) => JSON.stringify(d);

export function messageItem(d, { pickerOpen = false } = {}) {
  const classes = ['msg', d.mine ? 'mine' : 'theirs'];
  if (d.deleted) classes.push('deleted');
  if (d.pending) classes.push(`pending ${d.status}`);
  if (d.sender) classes.push('run-start');
  const tick = d.tick ? TICKS[d.tick] : null;
  const whoLabel = d.mine ? 'You' : d.sender ?? '';

  return h('li', {
    class: classes.join(' '),
    'data-seq': d.seq ?? null,
    'data-cmid': d.cmid,
    'data-status': d.status,
    'data-tick': d.tick ?? null,
  },
    h('div', { class: 'bubble' },
      d.sender ? h('span', { class: 'msg-sender', text: d.sender }) : null,
      d.reply
        ? h('button', { type: 'button', class: 'reply-quote', 'data-action': 'jump', 'data-target': d.reply.seq, 'data-fk': 'jump', 'aria-label': `Replying to ${d.reply.who || 'a message'}: ${d.reply.text}. Show it.` },
          d.reply.who ? h('span', { class: 'reply-who', text: d.reply.who }) : null,
          h('span', { class: 'reply-text', text: d.reply.text }))
        : null,
      d.media.length ? h('div', { class: 'msg-media' }, d.media.map(mediaImage)) : null,
      d.deleted || d.body !== null ? h('p', { class: 'msg-body', text: d.deleted ? 'This message was deleted' : d.body }) : null,
      h('span', { class: 'msg-meta' },
        whoLabel && !d.sender ? h('span', { class: 'sr-only', text: `${whoLabel}, ` }) : null,
        d.edited ? h('span', { class: 'msg-edited', text: 'edited' }) : null,
        h('time', { class: 'msg-time', datetime: d.time, text: clock(d.time) }),
        tick ? h('span', { class: `tick tick-${d.tick}`, role: 'img', 'aria-label': tick.label, title: tick.label }, icon(tick.icon)) : null),
      d.status === 'failed'
        ? h('span', { class: 'msg-failed' },
          h('span', { class: 'msg-error', text: d.error || 'Not sent.' }),
          h('button', { type: 'button', class: 'btn small', 'data-action': 'retry', 'data-fk': 'retry' }, 'Retry'),
          h('button', { type: 'button', class: 'btn small link', 'data-action': 'discard', 'data-fk': 'discard' }, 'Discard'))
        : null),
    d.reactions.length
      ? h('ul', { class: 'reactions', 'aria-label': 'Reactions' },
        d.reactions.map(([emoji, count, mine]) => h('li', {},
          h('button', {
            type: 'button', class: `reaction${mine ? ' mine' : ''}`, 'data-action': 'reaction', 'data-emoji': emoji,
            'data-fk': `r${emoji}`, 'aria-pressed': String(mine), disabled: !d.canReact,
            'aria-label': `${emoji} ${count}${mine ? ', including you' : ''}`,
          }, `${emoji} ${count}`))))
      : null,
    d.canReply || d.canReact || d.canEdit || d.canDelete
      ? h('div', { class: 'msg-actions', role: 'group', 'aria-label': 'Message actions' },
        d.canReply ? h('button', { type: 'button', class: 'act', 'data-action': 'reply', 'data-fk': 'reply', 'aria-label': 'Reply', title: 'Reply' }, icon('reply')) : null,
        d.canReact ? h('button', { type: 'button', class: 'act', 'data-action': 'react', 'data-fk': 'react', 'aria-label': 'React', title: 'React', 'aria-expanded': String(pickerOpen) }, icon('smile')) : null,
        d.canEdit ? h('button', { type: 'button', class: 'act', 'data-action': 'edit', 'data-fk': 'edit', 'aria-label': 'Edit', title: 'Edit' }, icon('edit')) : null,
        d.canDelete ? h('button', { type: 'button', class: 'act', 'data-action': 'delete', 'data-fk': 'delete', 'aria-label': 'Delete', title: 'Delete' }, icon('trash')) : null)
      : null,
    pickerOpen
      ? h('div', { class: 'emoji-picker', role: 'group', 'aria-label': 'Pick a reaction' },
        QUICK_EMOJI.map((e) => h('button', { type: 'button', class: 'emoji', 'data-action': 'pick', 'data-emoji': e, 'data-fk': `p${e}`, 'aria-label': `React with ${e}` }, e)))
      : null);
}

/** An attached image: its preview, shown from a blob: URL once downloaded (GET
 * /v1/media/{id} needs the token); a click opens the original in a new tab. */
function mediaImage(id) {
  const img = h('img', { class: 'msg-img', alt: 'Photo', 'data-media-id': id, decoding: 'async',
                         title: 'Open the full picture', role: 'button', tabindex: '0' });
  const open = () => mediaUrl(id).then((u) => window.open(u, '_blank', 'noopener'), () => {});
  img.addEventListener('click', open);
  img.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      open();
    }
  });
  const url = loadedUrl(id, true);
  if (url) {
    img.src = url;
    return img;
  }
  img.classList.add('loading');
  previewUrl(id).then((u) => {
    img.src = u;
    img.classList.remove('loading');
  }, (e) => {
    img.classList.replace('loading', 'broken');
    img.alt = `Photo could not be loaded: ${e.message}`;
  });
  return img;
}

export function dayItem(label) {
  return h('li', { class: 'day', role: 'separator' }, h('span', { text: label }));
}

// events.js: applies live events (stored and ephemeral, from the stream, the
// long-poll or the leader tab) to the store, fetching what an event does not
// carry.

import * as store from './store.js';
import { state } from './store.js';
import { announce } from './notify.js';
import { snippet } from './format.js';
import {
  bg, isLeader, refreshConversation, refreshMessage, loadPresence, markRead, markDelivered,
} from './sync.js';

const me = () => state.me?.id;

function eventMessage(d, ev) {
  const m = {
    conversation_id: d.conversation_id, seq: d.seq, sender_id: d.sender_id, client_msg_id: d.client_msg_id,
    body: d.body, reply_to: d.reply_to, created_at: d.created_at,
  };
  if (d.media_ids) m.media_ids = d.media_ids;
  if (d.deleted) {
    m.deleted_at = ev.created_at;
    m.reactions = [];
  }
  return m;
}

function onMessageCreated(ev) {
  const d = ev.data;
  const id = d.conversation_id;
  const conv = state.convs.get(id);
  const m = eventMessage(d, ev);
  store.putMessage(id, m);
  store.clearTyping(id, d.sender_id);
  const mine = d.sender_id === me();
  if (!conv) {
    bg(refreshConversation(id).then((c) => {
      if (c && !mine && isLeader()) markDelivered(id, d.seq);
    }), 'Loading a conversation');
    return;
  }
  if (conv.members) {
    // Sending implies having read everything before (the server moves the sender's marks).
    store.patchConv(id, (c) => ({
      members: c.members.map((x) => (x.user_id !== d.sender_id ? x : {
        ...x,
        last_delivered_seq: Math.max(x.last_delivered_seq, d.seq),
        last_read_seq: x.last_read_seq === null ? null : Math.max(x.last_read_seq, d.seq),
      })),
    }));
  }
  if (d.seq > conv.last_seq) {
    store.patchConv(id, (c) => ({
      last_seq: d.seq,
      last_message: { reactions: [], media_ids: [], edited_at: null, deleted_at: null, ...m },
      last_activity_at: d.created_at,
      unread_count: mine ? c.unread_count : c.unread_count + 1,
      ...(mine ? { last_read_seq: Math.max(c.last_read_seq, d.seq), last_delivered_seq: Math.max(c.last_delivered_seq, d.seq) } : {}),
    }));
  }
  if (!mine) {
    if (isLeader()) markDelivered(id, d.seq);
    if (id === state.openId) {
      markRead(id);
      announce(`${store.nameOf(d.sender_id)}: ${snippet(d.body ?? (d.media_ids?.length ? 'Photo' : 'deleted message'), 140)}`);
    } else if (conv.state === 'active') {
      announce(`New message from ${store.nameOf(d.sender_id)} in ${store.convTitle(conv)}`);
    }
  }
}

function onReceipt(d) {
  const id = d.conversation_id;
  const conv = state.convs.get(id);
  if (!conv) return;
  if (d.user_id === me()) {
    store.patchConv(id, (c) => {
      const read = d.read_seq ?? c.last_read_seq;
      return {
        last_delivered_seq: Math.max(c.last_delivered_seq, d.delivered_seq),
        last_read_seq: Math.max(c.last_read_seq, read),
        unread_count: read >= c.last_seq ? 0 : Math.min(c.unread_count, c.last_seq - read),
      };
    });
  }
  if (conv.members) {
    store.patchConv(id, (c) => ({
      members: c.members.map((m) => (m.user_id !== d.user_id ? m : {
        ...m,
        last_delivered_seq: Math.max(m.last_delivered_seq, d.delivered_seq),
        last_read_seq: d.read_seq === null ? m.last_read_seq : Math.max(m.last_read_seq ?? 0, d.read_seq),
      })),
    }));
    store.emit('messages', id); // ticks
  }
}

/** Applies one live event (stored or ephemeral) to the store. */
export function applyEvent(ev) {
  const d = ev.data ?? {};
  const id = d.conversation_id ?? ev.conversation_id;
  const known = state.convs.has(id);
  switch (ev.type) {
    case 'message.created':
      onMessageCreated(ev);
      break;
    case 'message.edited':
      store.patchMessage(id, d.seq, () => ({ body: d.body, edited_at: d.edited_at, ...(d.deleted ? { deleted_at: ev.created_at } : {}) }));
      store.patchLastMessage(id, d.seq, { body: d.body, edited_at: d.edited_at });
      break;
    case 'message.deleted':
      store.patchMessage(id, d.seq, () => ({ body: null, deleted_at: d.deleted_at, reactions: [] }));
      store.patchLastMessage(id, d.seq, { body: null, deleted_at: d.deleted_at });
      break;
    case 'reaction.added':
    case 'reaction.removed':
      if (store.findMessage(id, d.seq)) bg(refreshMessage(id, d.seq), 'Reactions');
      break;
    case 'member.added':
      if (d.user_id === me() || known) bg(refreshConversation(id), 'Loading a conversation');
      break;
    case 'member.removed':
      if (d.user_id === me()) {
        const title = store.convTitle(state.convs.get(id));
        store.removeConv(id);
        if (d.by !== me() && title) announce(`You were removed from ${title}`);
      } else if (known) {
        bg(refreshConversation(id), 'Loading a conversation');
      }
      break;
    case 'member.role_changed':
    case 'conversation.created':
    case 'conversation.accepted':
      bg(refreshConversation(id).then((c) => {
        if (c?.peer && ev.type === 'conversation.accepted') return loadPresence([c.peer.id]);
        return undefined;
      }), 'Loading a conversation');
      break;
    case 'conversation.renamed':
      store.patchConv(id, () => ({ title: d.title }));
      break;
    case 'conversation.declined':
      store.removeConv(id);
      break;
    case 'receipt':
      onReceipt(d);
      break;
    case 'typing':
      if (d.user_id !== me() && known) store.setTyping(id, d.user_id);
      break;
    case 'presence':
      store.setPresence(d);
      break;
    default:
      break;
  }
}

// app.js: start-up and wiring. Signed out: the auth screen. Signed in: load
// the lists, join the live connection (leader tab or follower), route
// #/c/<id> to the open conversation.

import { $ } from './dom.js';
import { fillIcons } from './icons.js';
import * as auth from './auth.js';
import * as store from './store.js';
import { state } from './store.js';
import * as sync from './sync.js';
import * as actions from './actions.js';
import { applyEvent } from './events.js';
import { bg } from './sync.js';
import * as sender from './sender.js';
import { createLive } from './stream.js';
import { SessionEnded } from './api.js';
import { reportError } from './notify.js';
import { forgetMedia } from './media.js';
import * as push from './push.js';
import { initAuthView, showAuth } from './views/auth-view.js';
import { initSidebar } from './views/sidebar.js';
import { initChatView, focusComposer } from './views/chat-view.js';
import { initDialogs, newChatDialog, newGroupDialog, infoDialog, settingsDialog } from './views/dialogs.js';
import { initPushButton } from './views/push-control.js';

const live = createLive({
  onEvent: (ev) => applyEvent(ev),
  onStatus: (s) => store.setLive(s),
  onResync: () => bg(sync.resync(), 'Refreshing'),
  onSessionEnded: async () => {
    try {
      await auth.refresh(null); // still valid? then the stream simply reconnects
    } catch { /* auth.onChange signs this tab out */ }
  },
});
sync.setLive(live);

let signedIn = false;

function routeId() {
  const m = /^#\/c\/(\d+)$/.exec(location.hash);
  return m ? Number(m[1]) : null;
}

function openConv(id) {
  if (routeId() !== id) location.hash = `#/c/${id}`;
  else route();
}

async function route() {
  if (!signedIn) return;
  const id = routeId();
  if (!id) {
    sync.closeConversation();
    return;
  }
  if (id === state.openId) return;
  try {
    await sync.openConversation(id);
    if (!state.convs.has(id)) {
      reportError(new Error('That conversation is not available.'));
      history.replaceState(null, '', '#');
      sync.closeConversation();
      return;
    }
    const conv = state.convs.get(id);
    if (conv.state === 'request' && state.tab !== 'requests') sidebar.selectTab('requests');
    push.clearNotifications(id);
    focusComposer();
  } catch (e) {
    if (!(e instanceof SessionEnded)) reportError(e, 'Could not open the conversation');
  }
}

async function enter(user) {
  signedIn = true;
  store.reset(user);
  $('#auth-screen').hidden = true;
  $('#app-screen').hidden = false;
  live.start();
  push.start(user); // the service worker; the subscription again if this user turned notifications on here
  try {
    await Promise.all([sync.loadAll(), actions.loadBlocks(), actions.loadMe().then(auth.updateUser)]);
  } catch (e) {
    if (!(e instanceof SessionEnded)) reportError(e, 'Could not load your conversations');
  }
  route();
}

function leave(reason) {
  signedIn = false;
  live.stop();
  push.stop();
  sender.reset();
  forgetMedia();
  store.reset(null);
  document.body.classList.remove('show-chat');
  if (location.hash) history.replaceState(null, '', location.pathname);
  showAuth(reason === 'signed-out' || !reason ? null : reason);
}

let sidebar;

function init() {
  fillIcons();
  initAuthView();
  sidebar = initSidebar({ onOpen: openConv });
  initChatView({
    onInfo: (id) => infoDialog(id),
    onBack: () => { location.hash = ''; },
    onAccepted: () => {
      sidebar.selectTab('all');
      focusComposer();
    },
  });
  initDialogs({ openConv });
  initPushButton();
  // A notification was clicked: the service worker focused this window and names the conversation.
  push.initPush({ onOpen: openConv, shown: () => (signedIn ? state.openId : null) });
  // Signing out also drops this browser's push subscription (at the API, then in the browser).
  auth.onBeforeSignOut(() => push.forget());
  $('#new-chat-btn').addEventListener('click', newChatDialog);
  $('#new-group-btn').addEventListener('click', newGroupDialog);
  $('#settings-btn').addEventListener('click', settingsDialog);
  addEventListener('hashchange', route);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && state.openId) sync.markRead(state.openId);
  });
  addEventListener('online', () => { if (signedIn) bg(sync.resync(), 'Refreshing'); });
  // Presence changes arrive live; this only catches up on anything missed.
  setInterval(() => {
    if (signedIn && document.visibilityState === 'visible') bg(sync.loadPresence(sync.presenceTargets()), 'Presence');
  }, 60_000);
  store.on('open', (id) => {
    // The open conversation went away (left, removed, declined): back to the list.
    if (id !== null && !state.convs.has(id) && routeId() === id && state.openId === id) {
      sync.closeConversation();
      history.replaceState(null, '', '#');
    }
  });

  auth.onChange((user, reason) => {
    if (reason === 'user') {
      if (user) store.setMe({ ...state.me, ...user });
      return;
    }
    if (user && !signedIn) enter(user);
    else if (!user && signedIn) leave(reason);
    else if (!user) showAuth(reason === 'signed-out' ? null : reason);
  });
}

async function boot() {
  init();
  let user = null;
  try {
    user = await auth.restore();
  } catch (e) {
    showAuth(e instanceof SessionEnded ? e.message : `Could not restore your session: ${e.message}`);
  }
  $('#boot').hidden = true;
  if (user) {
    if (!signedIn) enter(user);
  } else if (!signedIn) {
    showAuth();
  }
}

boot();

// tabs.js: messages between the tabs of this browser (BroadcastChannel
// 'missive'). A tab never receives its own messages.

const channel = 'BroadcastChannel' in self ? new BroadcastChannel('missive') : null;
const handlers = new Map();

export const tabId = crypto.randomUUID();

channel?.addEventListener('message', (e) => {
  const { kind, payload } = e.data ?? {};
  for (const fn of handlers.get(kind) ?? []) {
    try {
      fn(payload ?? {});
    } catch (err) {
      console.error(`tab message ${kind}`, err);
    }
  }
});

/** Sends {kind, payload} to every other tab of this origin. */
export function post(kind, payload = {}) {
  channel?.postMessage({ kind, payload, from: tabId });
}

/** Calls fn(payload) for every message of this kind from another tab. */
export function onTab(kind, fn) {
  if (!handlers.has(kind)) handlers.set(kind, new Set());
  handlers.get(kind).add(fn);
  return () => handlers.get(kind).delete(fn);
}

export const hasChannel = channel !== null;

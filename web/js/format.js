// format.js: dates, names and previews in the words the UI shows.

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const shortDateFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short' });

function startOfDay(t) {
  const d = new Date(t);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** 0 for today, 1 for yesterday, ... */
export function daysAgo(iso) {
  return Math.round((startOfDay(Date.now()) - startOfDay(new Date(iso))) / 86400000);
}

export const clock = (iso) => timeFmt.format(new Date(iso));
export const dayKey = (iso) => new Date(startOfDay(new Date(iso))).toISOString();

export function dayLabel(iso) {
  const n = daysAgo(iso);
  if (n === 0) return 'Today';
  if (n === 1) return 'Yesterday';
  return dayFmt.format(new Date(iso));
}

/** The time shown next to a conversation in the list. */
export function listTime(iso) {
  if (!iso) return '';
  const n = daysAgo(iso);
  if (n <= 0) return clock(iso);
  if (n === 1) return 'Yesterday';
  if (n < 7) return weekdayFmt.format(new Date(iso));
  return shortDateFmt.format(new Date(iso));
}

/** "online", "last seen 5 min ago", "last seen yesterday at 14:02", ... */
export function presenceText(p) {
  if (!p) return '';
  if (p.online) return 'online';
  if (!p.last_active_at) return 'offline';
  const at = new Date(p.last_active_at);
  const mins = (Date.now() - at.getTime()) / 60000;
  if (mins < 1) return 'last seen just now';
  if (mins < 60) return `last seen ${Math.floor(mins)} min ago`;
  const n = daysAgo(p.last_active_at);
  if (n === 0) return `last seen today at ${clock(at)}`;
  if (n === 1) return `last seen yesterday at ${clock(at)}`;
  return `last seen ${shortDateFmt.format(at)}`;
}

export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const first = (s) => Array.from(s)[0] ?? '';
  return ((first(parts[0] ?? '?') + first(parts[1] ?? '')) || '?').toUpperCase();
}

/** One of eight avatar colours (classes av0..av7 in app.css), stable per id. */
export const avatarClass = (id) => `av${Math.abs(Number(id) || 0) % 8}`;

export function snippet(text, n = 90) {
  const s = String(text ?? '').replace(/\s+/g, ' ').trim();
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

export const userLabel = (u) => (u ? u.display_name || u.username : 'Unknown user');

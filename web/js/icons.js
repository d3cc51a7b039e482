// icons.js: the UI's icons as inline SVG (no icon font, no emoji glyphs that
// a system may lack). Decorative: hidden from assistive technology; the
// buttons carry their own labels.

const CIRCLE = 'M22 12a10 10 0 1 1-20 0a10 10 0 1 1 20 0';

const PATHS = {
  edit: ['M12 20h9', 'M16.5 3.5a2.12 2.12 0 0 1 3 3L7 19l-4 1 1-4Z'],
  group: ['M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2', 'M13 7a4 4 0 1 1-8 0a4 4 0 1 1 8 0', 'M23 21v-2a4 4 0 0 0-3-3.87', 'M16 3.13a4 4 0 0 1 0 7.75'],
  settings: ['M4 21v-7', 'M4 10V3', 'M12 21v-9', 'M12 8V3', 'M20 21v-5', 'M20 12V3', 'M1 14h6', 'M9 8h6', 'M17 16h6'],
  info: [CIRCLE, 'M12 16v-4', 'M12 8h.01'],
  attach: ['M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48'],
  send: ['M22 2 11 13', 'M22 2 15 22 11 13 2 9Z'],
  back: ['M19 12H5', 'M12 19l-7-7 7-7'],
  close: ['M18 6 6 18', 'M6 6l12 12'],
  reply: ['M9 17 4 12 9 7', 'M20 18v-2a4 4 0 0 0-4-4H4'],
  smile: [CIRCLE, 'M8 14s1.5 2 4 2 4-2 4-2', 'M9 9h.01', 'M15 9h.01'],
  trash: ['M3 6h18', 'M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6', 'M10 11v6', 'M14 11v6', 'M9 6V4a1 1 0 0 1 1-1h4a1 1 0 0 1 1 1v2'],
  clock: [CIRCLE, 'M12 6v6l4 2'],
  alert: [CIRCLE, 'M12 8v4', 'M12 16h.01'],
  check: ['M20 6 9 17l-5-5'],
  checks: ['M17 6 6.5 17 2 12.5', 'M22 7l-9.5 10-1.6-1.7'],
  bell: ['M18 8A6 6 0 0 0 6 8c0 7-3 9-3 9h18s-3-2-3-9', 'M13.73 21a2 2 0 0 1-3.46 0'],
  muted: ['M13.73 21a2 2 0 0 1-3.46 0', 'M18.63 13A17.9 17.9 0 0 1 18 8', 'M6.26 6.26A5.86 5.86 0 0 0 6 8c0 7-3 9-3 9h14', 'M18 8a6 6 0 0 0-9.33-5', 'M1 1l22 22'],
};

const NS = 'http://www.w3.org/2000/svg';

export function icon(name, className = '') {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `icon ${className}`.trim());
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const d of PATHS[name] ?? []) {
    const p = document.createElementNS(NS, 'path');
    p.setAttribute('d', d);
    svg.append(p);
  }
  return svg;
}

/** Puts the icon named by data-icon into each such element of the page. */
export function fillIcons(root = document) {
  for (const el of root.querySelectorAll('[data-icon]')) {
    if (!el.querySelector('svg.icon')) el.prepend(icon(el.dataset.icon));
  }
}

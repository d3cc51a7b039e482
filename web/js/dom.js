// dom.js: building elements without HTML strings. Text always goes in as
// textContent, handlers through addEventListener, so nothing here needs
// 'unsafe-inline' or 'unsafe-eval' under a strict Content-Security-Policy.

/**
 * h('button', {class: 'x', text: 'Hi', onclick: fn, 'aria-label': 'Say hi'}, child, ...)
 * props: class, text, dataset {k: v}, on<event> functions, hidden/disabled/checked/value/
 * selected (properties), anything else as an attribute (true: empty attribute,
 * false/null/undefined: left out). Children: nodes, strings (text), arrays, null.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (['hidden', 'disabled', 'checked', 'value', 'selected', 'required'].includes(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** Replaces el's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Runs fn at most once per `ms` trailing edge (the last call wins). */
export function debounce(fn, ms) {
  let t = null;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

export const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });

// views/dialog.js: a modal <dialog> (focus stays inside, Escape closes) built
// on demand and removed when closed.

import { h } from '../dom.js';
import { icon } from '../icons.js';

let seq = 0;

/** openDialog({title, content: Node[], onClose}) -> the <dialog>; call .close() to close it. */
export function openDialog({ title, content, onClose, className = '' }) {
  const titleId = `dlg-title-${++seq}`;
  const dlg = h('dialog', { class: `dialog ${className}`, 'aria-labelledby': titleId },
    h('header', { class: 'dialog-head' },
      h('h2', { id: titleId, text: title }),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', onclick: () => dlg.close() }, icon('close'))),
    h('div', { class: 'dialog-body' }, content));
  dlg.addEventListener('close', () => {
    dlg.remove();
    onClose?.();
  });
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

/** A status line for errors inside a dialog. */
export function errorLine() {
  const el = h('p', { class: 'form-error', role: 'alert', hidden: true });
  el.show = (text) => {
    el.textContent = text;
    el.hidden = !text;
  };
  return el;
}

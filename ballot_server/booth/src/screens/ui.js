// Pieces several screens share: headings, error boxes, buttons, the tracking
// code, downloads and QR codes, the list of what a ballot holds.

import qrcode from 'qrcode-generator';

import { h, uid } from '../dom.js';
import { t } from '../i18n.js';
import { S } from '../shell.js';

export const heading = (key, params) => h('h2', { tabindex: '-1', text: t(key, params) });

export function errorText() {
  if (!S.error) return '';
  return t(S.error.key, S.error.params);
}

/** An error paragraph announced by screen readers; empty when there is none. */
export function errorBox(id, field) {
  const active = S.error && S.error.field === field;
  return h('p', { id, class: 'error', role: 'alert', 'data-field': field, hidden: !active }, active ? errorText() : '');
}

export function button(key, onclick, { primary = false, disabled = false, params } = {}) {
  return h('button', { type: 'button', class: primary ? 'primary' : 'secondary', onclick, disabled: disabled || S.busy }, t(key, params));
}

export function submitButton(key) {
  return h('button', { type: 'submit', class: 'primary', disabled: S.busy }, t(key));
}

export function checkLinkButton() {
  return h('a', { href: '#check', class: 'button secondary', text: t('footer.check') });
}

export function trackingBlock(code) {
  return [
    h('p', { class: 'label', text: t('sealed.tracking') }),
    h('p', { class: 'tracking', 'data-testid': 'tracking-code', text: code }),
  ];
}

export function download(filename, json, key) {
  const blob = new Blob([`${JSON.stringify(json, null, 1)}\n`], { type: 'application/json' });
  return h('p', {}, h('a', { href: URL.createObjectURL(blob), download: filename, class: 'download', text: t(key) }));
}

export function qrFigure(text, altKey, captionKey) {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const captionId = uid('qr');
  return h('figure', { class: 'qr' },
    h('img', { src: qr.createDataURL(4, 4), alt: t(altKey), 'aria-describedby': captionId }),
    h('figcaption', { id: captionId }, t(captionKey), h('br'), h('code', { class: 'link', text })),
  );
}

/**
 * One labelled <select> per option of q, choices 0..top named by name(v): the
 * score and ranked questions share it so both stay native keyboard controls.
 * A change stores the number in S.selections[qi][o], then refresh(qi, id).
 */
export function optionSelects(q, qi, { values, describedBy, invalid, lang }, { cls, top, name, refresh }) {
  return q.options.map((_, o) => {
    const id = `q${qi}-o${o}`;
    const select = h('select', {
      id, 'aria-describedby': describedBy, 'aria-invalid': String(invalid),
      onchange: (ev) => {
        S.selections[qi][o] = Number(ev.target.value);
        refresh(qi, id);
      },
    }, Array.from({ length: top + 1 }, (__, v) => h('option', { value: String(v), selected: values[o] === v }, name(v))));
    return h('div', { class: `option ${cls}` },
      h('label', { for: id, text: q.optionLabel(o, lang) }),
      select,
    );
  });
}

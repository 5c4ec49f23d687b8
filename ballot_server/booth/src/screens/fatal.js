// The booth stopped: why (S.fatal), and a retry that reloads the page.

import { h } from '../dom.js';
import { t } from '../i18n.js';
import { S } from '../shell.js';
import { button, heading } from './ui.js';

export const SCREENS = {
  fatal: () => h('section', {},
    heading('error.heading'),
    h('p', { class: 'error', role: 'alert', text: t(S.fatal.key, S.fatal.params) }),
    button('error.retry', () => location.reload()),
  ),
};

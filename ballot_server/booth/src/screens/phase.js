// The screens of an election that is not taking votes: still loading, not
// open yet, closed, tallied (with the published counts when they could be had).

import { h } from '../dom.js';
import { language, t } from '../i18n.js';
import { S } from '../shell.js';
import { checkLinkButton, heading } from './ui.js';

export const SCREENS = {
  loading: () => h('section', {}, h('p', { class: 'status', text: t('status.loading') })),

  notopen() {
    const manifest = S.phaseInfo?.manifest;
    return h('section', {},
      heading('notopen.heading'),
      manifest ? h('p', { class: 'description', text: manifest.label(language()) }) : null,
      h('p', { role: 'status', 'data-testid': 'phase-message', text: t('notopen.intro') }),
      h('p', { text: t('notopen.when') }),
    );
  },

  closed: () => h('section', {},
    heading('closed.heading'),
    h('p', { role: 'status', 'data-testid': 'phase-message', text: t('closed.intro') }),
    h('div', { class: 'actions' }, checkLinkButton()),
  ),

  tallied() {
    const { manifest } = S.election;
    const lang = language();
    const counts = S.phaseInfo?.result;
    return h('section', {},
      heading('tallied.heading'),
      h('p', { role: 'status', 'data-testid': 'phase-message', text: t('tallied.intro') }),
      counts ? h('dl', { class: 'review', 'data-testid': 'result' }, manifest.questions.map((q, qi) => [
        h('dt', { text: q.label(lang) }),
        h('dd', {}, h('ul', {}, q.options.map((_, o) => h('li', { text: `${q.optionLabel(o, lang)}: ${counts[qi]?.[o] ?? '?'}` })))),
      ])) : null,
      h('p', {}, h('a', { href: S.api.summaryUrl(), 'data-testid': 'result-link', text: t('tallied.result_link') })),
      h('div', { class: 'actions' }, checkLinkButton()),
    );
  },
};

// The screens of an election that is not taking votes: still loading, not
// open yet, closed, tallied (with the published counts when they could be had).

import { h } from '../dom.js';
import { language, t } from '../i18n.js';
import { S } from '../shell.js';
import { localTime } from '../when.js';
import { checkLinkButton, heading } from './ui.js';

/** A scheduled election's window in the voter's language and time zone (null: none). */
function schedule(manifest) {
  if (!manifest?.opensAt && !manifest?.closesAt) return null;
  const lang = language();
  return h('dl', { class: 'review', 'data-testid': 'schedule' }, [
    manifest.opensAt ? [h('dt', { text: t('schedule.opens') }), h('dd', { text: localTime(manifest.opensAt, lang) })] : [],
    manifest.closesAt ? [h('dt', { text: t('schedule.closes') }), h('dd', { text: localTime(manifest.closesAt, lang) })] : [],
  ]);
}

export const SCREENS = {
  loading: () => h('section', {}, h('p', { class: 'status', text: t('status.loading') })),

  notopen() {
    const manifest = S.phaseInfo?.manifest;
    return h('section', {},
      heading('notopen.heading'),
      manifest ? h('p', { class: 'description', text: manifest.label(language()) }) : null,
      h('p', { role: 'status', 'data-testid': 'phase-message', text: t('notopen.intro') }),
      schedule(manifest) ?? h('p', { text: t('notopen.when') }),
    );
  },

  closed: () => h('section', {},
    heading('closed.heading'),
    h('p', { role: 'status', 'data-testid': 'phase-message', text: t('closed.intro') }),
    schedule(S.election?.manifest),
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

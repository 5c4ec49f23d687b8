// The review: what the voter marked, question by question, before the
// ballot is encrypted here.

import { seal } from '../casting.js';
import { h, uid } from '../dom.js';
import { language, t } from '../i18n.js';
import { go, S } from '../shell.js';
import { chosenList } from './questions.js';
import { button, errorBox, heading } from './ui.js';

export const SCREENS = {
  review() {
    const { manifest } = S.election;
    const lang = language();
    return h('section', {},
      heading('review.heading'),
      h('p', { text: t('review.intro') }),
      h('dl', { class: 'review' }, manifest.questions.map((q, qi) => [
        h('dt', { text: q.label(lang) }),
        h('dd', {}, chosenList(q, S.selections[qi], lang)),
      ])),
      S.busy ? h('p', { class: 'status', role: 'status', text: t('review.encrypting') }) : null,
      errorBox(uid('review-error'), 'review'),
      h('div', { class: 'actions' },
        button('review.back', () => go('ballot')),
        button('review.encrypt', seal, { primary: true }),
      ),
    );
  },
};

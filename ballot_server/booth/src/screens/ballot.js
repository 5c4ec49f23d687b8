// The ballot: every question within its rule (screens/questions.js renders
// each by kind), then "Review", which shows every breach and moves focus to
// the first question that breaks its rule.

import { firstBreach } from '../checks.js';
import { h, uid } from '../dom.js';
import { language, t } from '../i18n.js';
import { frame, go, render, S } from '../shell.js';
import { questionBlock } from './questions.js';
import { button, errorBox, heading } from './ui.js';

function review() {
  S.attempted = true;
  const qi = firstBreach(S.election.manifest, S.selections);
  if (qi !== null) {
    S.error = { field: 'ballot', key: 'ballot.fix' };
    render({ focus: false });
    frame.main.querySelector(`#question-${qi} input, #question-${qi} select`)?.focus();
    return;
  }
  go('review');
}

export const SCREENS = {
  ballot() {
    const { manifest } = S.election;
    const lang = language();
    const parts = manifest.questions.map((q, qi) => questionBlock(q, qi, manifest.questions.length, lang));
    const summaryId = uid('ballot-error');
    return h('section', {},
      heading('ballot.heading'),
      h('p', { text: t('ballot.intro') }),
      manifest.descriptionIn(lang) ? h('p', { class: 'description', text: manifest.descriptionIn(lang) }) : null,
      ...parts,
      errorBox(summaryId, 'ballot'),
      h('div', { class: 'actions' }, button('ballot.review', review, { primary: true })),
    );
  },
};

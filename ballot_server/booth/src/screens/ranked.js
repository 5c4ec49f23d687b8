// Ranked and graded questions on screen (issue 16), registered in
// QUESTION_KINDS (screens/questions.js); their rules are checks.js'
// QUESTION_RULES (ranking.js says what a well-formed ranking is).
//
// Ranking is done with one labelled <select> per option ("—", 1st, 2nd, …):
// a native control, so it works by keyboard (Tab, arrow keys), by touch and
// with a screen reader, with no drag-and-drop to learn.  The live line under
// the options reads the ranking back in order ("Your ranking: 1st: Ada, 2nd:
// Boris."), and a repeated rank or a gap is said in words and stops Review.
// Grading is a radio group per option, named by the option, with the
// manifest's grade names in the voter's language.

import { h } from '../dom.js';
import { language, ordinal, t } from '../i18n.js';
import { rankedOrder } from '../ranking.js';
import { S } from '../shell.js';
import { addQuestionKind, refreshQuestion } from './questions.js';
import { optionSelects } from './ui.js';

function rankedRule(q) {
  const rule = t('q.rule.ranked');
  return q.method === 'stv' ? `${rule} ${t('q.rule.ranked_seats', { n: q.seats })}` : rule;
}

function rankedInputs(q, qi, shown) {
  return optionSelects(q, qi, shown, {
    cls: 'rank', top: q.options.length, name: (r) => (r === 0 ? t('rank.none') : ordinal(r)), refresh: refreshQuestion,
  });
}

/** "1st: Ada, 2nd: Boris": the ranking in words, for the live line. */
function rankedCount(q, values, lang) {
  const order = rankedOrder(values);
  if (!order.length) return t('review.none_ranked');
  const words = order.map((o) => t('review.ranked_item', { rank: ordinal(values[o]), option: q.optionLabel(o, lang) }));
  return `${t('q.count.ranked', { n: order.length })} ${t('q.count.ranked_order', { order: words.join(', ') })}`;
}

function rankedMessage(q, problem, lang) {
  const p = problem.params;
  if (p.reason === 'repeat') {
    return t('q.error.rank_repeat', { rank: ordinal(p.rank), options: p.options.map((o) => q.optionLabel(o, lang)).join(', ') });
  }
  if (p.reason === 'gap') return t('q.error.rank_gap', { missing: ordinal(p.missing), next: ordinal(p.next) });
  return t('q.error.rank_value');
}

/** The review and audit list: an ordered list "1st: Ada", "2nd: Boris" (only ranked options). */
function rankedReview(q, values, lang) {
  const order = rankedOrder(values);
  if (!order.length) return h('p', { text: t('review.none_ranked') });
  return h('ol', { class: 'ranking' }, order.map((o) =>
    h('li', { text: t('review.ranked_item', { rank: ordinal(values[o]), option: q.optionLabel(o, lang) }) })));
}

function gradesRule(q) {
  return t('q.rule.grades', { worst: q.gradeLabel(0, language()) });
}

/** One radio group per option: its grades, worst first, in the voter's language. */
function gradesInputs(q, qi, { values, describedBy, invalid, lang }) {
  return q.options.map((_, o) => {
    const legendId = `q${qi}-o${o}-name`;
    return h('fieldset', { class: 'option grades', id: `q${qi}-o${o}`, 'aria-describedby': describedBy },
      h('legend', { id: legendId, text: q.optionLabel(o, lang) }),
      h('div', { class: 'grade-list' }, q.grades.map((__, g) => {
        const id = `q${qi}-o${o}-g${g}`;
        return h('div', { class: 'grade' },
          h('input', {
            id, type: 'radio', name: `q${qi}-o${o}`, value: String(g), checked: values[o] === g,
            'aria-invalid': String(invalid),
            onchange: () => {
              S.selections[qi][o] = g;
              refreshQuestion(qi, id);
            },
          }),
          h('label', { for: id, text: q.gradeLabel(g, lang) }),
        );
      })),
    );
  });
}

/** "Tram — Good": every option with its grade (grade 0 is a grade too). */
function gradesReview(q, values, lang) {
  return h('ul', {}, values.map((g, o) =>
    h('li', { text: t('review.graded_item', { option: q.optionLabel(o, lang), grade: q.gradeLabel(g, lang) }) })));
}

addQuestionKind('ranked', {
  rule: rankedRule,
  inputs: rankedInputs,
  chosen: (q, v, o, lang) => t('review.ranked_item', { rank: ordinal(v), option: q.optionLabel(o, lang) }),
  count: rankedCount,
  message: rankedMessage,
  review: rankedReview,
});

addQuestionKind('grades', {
  rule: gradesRule,
  inputs: gradesInputs,
  chosen: (q, v, o, lang) => t('review.graded_item', { option: q.optionLabel(o, lang), grade: q.gradeLabel(v, lang) }),
  count: () => t('q.count.grades'),
  message: () => t('q.error.grade_value'),
  review: gradesReview,
});

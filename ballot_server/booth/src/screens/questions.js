// One question of the ballot, by kind.  QUESTION_KINDS maps a manifest
// question kind to how the booth shows it: its rule in words, its inputs, and
// how a marked value reads on the review and audit screens.  A new kind
// plugs in with addQuestionKind; the ballot screen, the review and the audit
// take it from here.  Ranked and graded questions (issue 16) live in
// screens/ranked.js and register themselves there.

import { breach, firstBreach, QUESTION_RULES } from '../checks.js';
import { h } from '../dom.js';
import { language, t } from '../i18n.js';
import { frame, S } from '../shell.js';
import { optionSelects } from './ui.js';

function choiceRule(q) {
  const n = q.options.length;
  if (q.min === q.max) return t('q.rule.choose_exactly', { n: q.max });
  if (q.min === 0 && q.max === n) return t('q.rule.choose_any');
  if (q.min === 0) return t('q.rule.choose_up_to', { n: q.max });
  if (q.max === n) return t('q.rule.choose_at_least', { n: q.min });
  return t('q.rule.choose_between', { min: q.min, max: q.max });
}

function scoreRule(q) {
  const top = q.maxScore * q.options.length;
  const parts = [t('q.rule.score', { n: q.maxScore })];
  if (q.min > 0 && q.max < top) parts.push(t('q.rule.total_between', { min: q.min, max: q.max }));
  else if (q.max < top) parts.push(t('q.rule.total_up_to', { n: q.max }));
  else if (q.min > 0) parts.push(t('q.rule.total_at_least', { n: q.min }));
  return parts.join(' ');
}

/** Radio buttons (exactly one) or checkboxes. */
function choiceInputs(q, qi, { values, describedBy, invalid, lang }) {
  const single = q.min === 1 && q.max === 1;
  return q.options.map((_, o) => {
    const id = `q${qi}-o${o}`;
    return h('div', { class: 'option' },
      h('input', {
        id, type: single ? 'radio' : 'checkbox', name: single ? `q${qi}` : null,
        checked: values[o] === 1, 'aria-describedby': describedBy, 'aria-invalid': String(invalid),
        onchange: (ev) => {
          if (single) S.selections[qi] = q.options.map((__, k) => (k === o ? 1 : 0));
          else S.selections[qi][o] = ev.target.checked ? 1 : 0;
          refreshQuestion(qi, id);
        },
      }),
      h('label', { for: id, text: q.optionLabel(o, lang) }),
    );
  });
}

/** One select of 0..maxScore points per option. */
function scoreInputs(q, qi, shown) {
  return optionSelects(q, qi, shown, { cls: 'score', top: q.maxScore, name: String, refresh: refreshQuestion });
}

/**
 * kind → {rule(q), inputs(q, qi, {values, describedBy, invalid, lang}),
 * chosen(q, value, option, lang)}: the rule in words, the input elements
 * (their handlers set S.selections[qi] and call refreshQuestion), and the
 * text of one marked option (value ≠ 0) on the review and audit screens.
 * Optional: count(q, values, lang) (the live line under the options; default
 * q.count.<kind> of the total), message(q, problem, lang) (a breach in words;
 * default t(problem.key, problem.params)), and review(q, values, lang) (the
 * whole review list instead of one `chosen` line per marked option).
 */
export const QUESTION_KINDS = {
  choice: { rule: choiceRule, inputs: choiceInputs, chosen: (q, v, o, lang) => q.optionLabel(o, lang) },
  score: {
    rule: scoreRule,
    inputs: scoreInputs,
    chosen: (q, v, o, lang) => `${q.optionLabel(o, lang)}: ${t('review.points', { n: v })}`,
  },
};

/** Register the renderer of another question kind (see QUESTION_KINDS for its shape). */
export function addQuestionKind(kind, renderer, rule = undefined) {
  if (kind in QUESTION_KINDS) throw new Error(`question kind ${kind} is registered twice`);
  QUESTION_KINDS[kind] = renderer;
  if (rule !== undefined) QUESTION_RULES[kind] = rule;
}

const countText = (kind, q, values, lang) => (kind.count
  ? kind.count(q, values, lang)
  : t(`q.count.${q.kind}`, { n: values.reduce((a, b) => a + b, 0) }));

const problemText = (kind, q, problem, lang) => (kind.message
  ? kind.message(q, problem, lang)
  : t(problem.key, problem.params));

export function questionBlock(q, qi, count, lang) {
  const ruleId = `rule-${qi}`;
  const countId = `count-${qi}`;
  const errId = `qerr-${qi}`;
  const values = S.selections[qi];
  const problem = breach(q, values, { final: S.attempted });
  const kind = QUESTION_KINDS[q.kind];
  const inputs = kind.inputs(q, qi, { values, describedBy: `${ruleId} ${errId}`, invalid: problem !== null, lang });
  return h('fieldset', { class: problem ? 'question invalid' : 'question', id: `question-${qi}` },
    h('legend', {},
      h('span', { class: 'qnum', text: t('q.heading', { number: qi + 1, total: count }) }),
      h('span', { class: 'qtitle', text: q.label(lang) }),
    ),
    h('p', { id: ruleId, class: 'rule', text: kind.rule(q) }),
    h('div', { class: 'options' }, inputs),
    h('p', { id: countId, class: 'count', 'aria-live': 'polite', text: countText(kind, q, values, lang) }),
    h('p', { id: errId, class: 'error', role: 'alert', hidden: problem === null }, problem ? problemText(kind, q, problem, lang) : ''),
  );
}

/** Re-render one question in place after a change, keeping focus on the control. */
export function refreshQuestion(qi, focusId) {
  const { manifest } = S.election;
  const old = document.getElementById(`question-${qi}`);
  const fresh = questionBlock(manifest.questions[qi], qi, manifest.questions.length, language());
  // Keep the live region's node (with the new text): a screen reader announces
  // a change to a live region it already knows, not a freshly inserted one.
  const liveOld = old.querySelector(`#count-${qi}`);
  const liveNew = fresh.querySelector(`#count-${qi}`);
  if (liveOld && liveNew) {
    if (liveOld.textContent !== liveNew.textContent) liveOld.textContent = liveNew.textContent;
    liveNew.replaceWith(liveOld);
  }
  old.replaceWith(fresh);
  document.getElementById(focusId)?.focus();
  if (S.error?.field === 'ballot' && firstBreach(manifest, S.selections) === null) {
    S.error = null;
    const summary = frame.main.querySelector('[data-field="ballot"]');
    if (summary) summary.hidden = true;
  }
}

/** What `values` mark on question q, as a list (or "nothing chosen"). */
export function chosenList(q, values, lang) {
  const kind = QUESTION_KINDS[q.kind];
  if (kind.review) return kind.review(q, values, lang);
  const items = [];
  values.forEach((v, o) => {
    if (v === 0) return;
    items.push(h('li', { text: QUESTION_KINDS[q.kind].chosen(q, v, o, lang) }));
  });
  return items.length ? h('ul', {}, items) : h('p', { text: t('review.none') });
}

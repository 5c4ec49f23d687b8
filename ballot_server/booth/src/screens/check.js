// "Check my ballot": the tracking code is looked up on the board and checked
// here (checks.checkOnBoard); while a witness cosignature is pending the
// check runs again by itself.  Reached by `#check` or `#check=CODE`.

import { checkOnBoard, homeScreen } from '../checks.js';
import { h, uid } from '../dom.js';
import { b64encode } from '../encoding.js';
import { t } from '../i18n.js';
import { busy, failure, frame, go, render, S } from '../shell.js';
import { button, errorBox, heading, submitButton } from './ui.js';

const RECHECK_MS = 4000;
const RECHECK_LIMIT = 45; // three minutes; then the voter presses Check again

function stopRecheck() {
  if (S.checkTimer !== null) clearTimeout(S.checkTimer);
  S.checkTimer = null;
}

async function runCheck({ again = false } = {}) {
  const code = S.drafts.check.trim().toUpperCase();
  if (!code) return;
  if (!again) S.recheckCount = 0;
  const { api } = S;
  const result = await busy('check.running', () => checkOnBoard(code, {
    boardKey: S.election.boardKey,
    electionId: S.electionId,
    manifest: S.election.manifest,
    receipt: S.receipt,
    fetch: {
      inclusion: (c) => api.inclusion(c),
      ballotEntry: (c) => api.ballotEntry(c),
      cosigned: () => api.cosigned(),
      inclusionAt: (c, size) => api.inclusionAt(c, size),
    },
  }));
  if (result.error) S.error = { field: 'check', ...failure(result.error) };
  // Witnesses cosign checkpoints every few seconds: not yet cosigned is
  // pending, not a failure, and the check runs again by itself.
  const pending = result.failure === 'check.reason.not_witnessed';
  S.check = { steps: result.steps, failure: pending ? null : result.failure, pending };
  if (S.screen !== 'check') return;
  render({ focus: false });
  frame.main.querySelector('[data-testid="check-verdict"]')?.focus();
  stopRecheck();
  if (pending && S.recheckCount < RECHECK_LIMIT) {
    S.recheckCount += 1;
    S.checkTimer = setTimeout(() => { S.checkTimer = null; if (S.screen === 'check') runCheck({ again: true }); }, RECHECK_MS);
  }
}

/** `#check` or `#check=CODE`: open the check screen (and run the check when a code is given). */
export function routeHash() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (!hash.has('check') || !S.election) return false;
  const code = (hash.get('check') || '').trim();
  if (S.screen !== 'check') S.backTo = S.screen;
  if (code) S.drafts.check = code;
  S.check = null;
  stopRecheck();
  go('check');
  if (code) runCheck();
  return true;
}

function leaveCheck() {
  stopRecheck();
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  const back = S.backTo && S.backTo !== 'check' ? S.backTo : homeScreen(S.election.phase);
  S.backTo = null;
  go(back);
}

function checkVerdict(results) {
  if (results.pending) {
    return h('p', { class: 'pending', role: 'status', 'data-testid': 'check-verdict', text: t('check.pending') });
  }
  if (results.failure) {
    return h('p', { class: 'error', role: 'alert', 'data-testid': 'check-verdict', text: t('check.fail', { reason: t(results.failure) }) });
  }
  return h('p', { class: 'ok', role: 'status', 'data-testid': 'check-verdict', text: t('check.ok') });
}

export const SCREENS = {
  check() {
    const inputId = uid('check');
    const errId = uid('check-error');
    const results = S.check;
    return h('section', {},
      heading('check.heading'),
      h('p', { text: t('check.intro') }),
      h('form', { novalidate: true, onsubmit: (ev) => { ev.preventDefault(); runCheck(); } },
        h('label', { for: inputId, text: t('check.label') }),
        h('input', {
          id: inputId, type: 'text', autocomplete: 'off', spellcheck: 'false', value: S.drafts.check,
          'aria-describedby': errId, oninput: (ev) => { S.drafts.check = ev.target.value; },
        }),
        errorBox(errId, 'check'),
        submitButton('check.submit'),
      ),
      S.busy ? h('p', { class: 'status', role: 'status', text: t('check.running') }) : null,
      results && h('div', { class: 'check-results' },
        h('ul', {}, results.steps.map((s) => h('li', { class: 'ok', text: `✓ ${t(s.key, s.params)}` }))),
        checkVerdict(results),
      ),
      h('p', { class: 'small' }, `${t('check.board_key')}: `, h('code', { class: 'digest', text: b64encode(S.election.boardKey) })),
      h('div', { class: 'actions' },
        button(S.backTo === 'cast' || (!S.backTo && S.receipt) ? 'check.back' : 'check.leave', leaveCheck),
      ),
    );
  },
};

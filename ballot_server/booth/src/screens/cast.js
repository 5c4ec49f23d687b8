// Cast or audit: the sealed ballot and its tracking code; the audited ballot
// (what its encryption is proven to hold, checks.auditVerdict); a failed
// audit; and the cast in flight (sending, outcome unknown, refused).

import { ApiError } from '../api.js';
import { auditBallot, castBallot, checkNow, sealAgain, unknownStatusKey, voteAgain } from '../casting.js';
import { h, uid } from '../dom.js';
import { language, t } from '../i18n.js';
import { failure, S } from '../shell.js';
import { chosenList } from './questions.js';
import { button, checkLinkButton, download, errorBox, errorText, heading, qrFigure, trackingBlock } from './ui.js';

export const SCREENS = {
  sealed() {
    const code = S.sealed.ballot.trackingCode;
    const helpId = uid('tracking-help');
    return h('section', {},
      heading('sealed.heading'),
      h('p', { class: 'label', id: uid('tracking-label'), text: t('sealed.tracking') }),
      h('p', { class: 'tracking', 'aria-describedby': helpId, 'data-testid': 'tracking-code', text: code }),
      h('p', { id: helpId, text: t('sealed.tracking_help') }),
      h('p', { text: t('sealed.choose') }),
      errorBox(uid('sealed-error'), 'sealed'),
      h('div', { class: 'actions' },
        button('sealed.audit', auditBallot),
        button('sealed.cast', castBallot, { primary: true }),
      ),
    );
  },

  audited() {
    const a = S.audited;
    const { manifest } = S.election;
    const lang = language();
    const url = new URL(S.api.ballotUrl(a.ballot.trackingCode), location.href).href;
    return h('section', {},
      heading('audit.heading'),
      h('p', { text: t('audit.intro', { code: a.ballot.trackingCode }) }),
      // No list when the audit data does not check out: nothing is then proven about the content.
      a.revealed ? h('dl', { class: 'review' }, manifest.questions.map((q, qi) => [
        h('dt', { text: q.label(lang) }),
        h('dd', {}, chosenList(q, a.revealed[qi], lang)),
      ])) : null,
      h('p', { class: a.match ? 'ok' : 'error', role: a.match ? null : 'alert', 'data-testid': 'audit-verdict', text: t(a.match ? 'audit.match' : 'audit.mismatch') }),
      h('p', { text: t('audit.posted', { index: a.receipt.index }) }),
      download(`audit-${a.ballot.trackingCode}.json`, a.json, 'audit.download'),
      qrFigure(url, 'audit.qr_alt', 'audit.qr_caption'),
      h('div', { class: 'actions' }, button('audit.again', sealAgain, { primary: true })),
    );
  },

  audit_failed: () => h('section', {},
    heading('audit_failed.heading'),
    h('p', { class: 'error', role: 'alert', text: errorText() }),
    h('p', { text: t('audit_failed.intro') }),
    h('div', { class: 'actions' }, button('audit.again', sealAgain, { primary: true })),
  ),

  sending() {
    return h('section', {},
      heading('sending.heading'),
      h('p', { class: 'status', role: 'status', text: t('sending.intro') }),
      trackingBlock(S.cast.code),
    );
  },

  unknown() {
    const c = S.cast;
    return h('section', {},
      heading('unknown.heading'),
      h('p', { class: 'status', role: 'status', 'data-testid': 'unknown-status', text: t(unknownStatusKey()) }),
      h('p', { text: t('unknown.intro') }),
      trackingBlock(c.code),
      h('p', { class: 'note', text: t('unknown.no_audit') }),
      h('div', { class: 'actions' },
        h('button', {
          type: 'button', class: 'primary', 'data-testid': 'check-now', onclick: checkNow, disabled: c.phase !== 'unknown' || c.looking,
        }, t('unknown.now')),
      ),
    );
  },

  refused() {
    const code = S.cast.refusal;
    const reason = failure(new ApiError(409, code, code));
    return h('section', {},
      heading('refused.heading'),
      h('p', { class: 'error', role: 'alert', 'data-testid': 'refused-reason', text: t(reason.key, reason.params) }),
      h('p', { text: t('refused.intro') }),
      h('div', { class: 'actions' },
        S.election.phase === 'open' ? button('refused.again', voteAgain, { primary: true }) : null,
        checkLinkButton(),
      ),
    );
  },
};

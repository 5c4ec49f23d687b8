// The receipt of a cast ballot: its tracking code and board index, the
// receipt file, a QR code of the check link, and the way to check it now.

import { voteAgain } from '../casting.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { go, S } from '../shell.js';
import { button, download, heading, qrFigure } from './ui.js';

export const SCREENS = {
  cast() {
    const r = S.receipt;
    const url = `${new URL(location.pathname, location.href).href}#check=${encodeURIComponent(r.trackingCode)}`;
    return h('section', {},
      heading('cast.heading'),
      h('p', { text: t('cast.intro', { index: r.index }) }),
      h('p', { class: 'label', text: t('cast.tracking') }),
      h('p', { class: 'tracking', 'data-testid': 'tracking-code', text: r.trackingCode }),
      h('p', { class: 'note', text: t('cast.revote') }),
      download(`receipt-${r.trackingCode}.json`, r.json, 'cast.download'),
      qrFigure(url, 'cast.qr_alt', 'cast.qr_caption'),
      h('div', { class: 'actions' },
        S.election.phase === 'open' ? button('cast.vote_again', voteAgain) : null,
        button('cast.check', () => { S.drafts.check = r.trackingCode; S.check = null; S.backTo = 'cast'; go('check'); }, { primary: true }),
      ),
    );
  },
};

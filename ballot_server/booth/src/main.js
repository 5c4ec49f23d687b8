// The web voting booth (served by the ballot server at /booth/<election-id>).
//
// Flow: sign in with the login code → enter the private credential (typed
// code with checksum, or the credential file; it never leaves the browser) →
// answer each question within its rule → review → encrypt, prove and sign
// here → the tracking code is shown → cast it, or audit it (the ballot is
// opened, its real content shown and posted, and a fresh encryption made) →
// receipt, with a "check my ballot" page that verifies the board's signed
// tree head and inclusion proof in the browser (and, when the election has
// witnesses, that a checkpoint they cosigned includes the ballot).
//
// Before anything else the booth hashes its own bundle and refuses to run if
// the digest is not the one the official published on the board
// (election_opened.booth_sha256; why this way: ballot_server/booth/README.md).
//
// Screens are plain functions of the state that build DOM nodes (dom.js);
// every string comes from the catalogues (i18n.js).  Focus moves to each new
// screen's heading; errors are announced through role="alert".

import { sha256 } from '@noble/hashes/sha2.js';
import qrcode from 'qrcode-generator';

import { makeApi, ApiError, NetworkError } from './api.js';
import {
  FINAL_REFUSALS, canAudit, inDoubt, initial as castInitial, step as castStep, validRecord,
} from './caststate.js';
import { LoginTextError, parseLoginText, providerStartUrl, takeProviderToken } from './login.js';
import {
  auditedBallotJson, Ballot, ElectionContext, encryptBallot,
} from './ballot.js';
import { parseCredentialCode, parseCredentialFile } from './credentials.js';
import { encrypt } from './elgamal.js';
import { b64decode, b64encode, bytesEqual, bytesToHex, canonicalJson, fromUtf8, parseJson } from './encoding.js';
import { CredentialError, EvoteError } from './errors.js';
import { electionFingerprint } from './fingerprint.js';
import { pointFromJson, systemRng } from './group.js';
import { h, uid } from './dom.js';
import { LANGUAGES, language, preferredLanguage, setLanguage, t } from './i18n.js';
import { Manifest } from './manifest.js';
import {
  leafHash, receiptFromJson, signedTreeHeadFromJson, verifyInclusion, verifyReceipt, verifySignedTreeHead,
} from './merkle.js';
import { publicKeyOf } from './signing.js';
import { parseCheckpoint, parseNote } from './checkpoint.js';
import { verifyCosignedInclusion } from './witness.js';

// The <script> element running this bundle (only set while it first runs).
const SCRIPT = document.currentScript;

const root = document.getElementById('booth');
const S = {
  electionId: root.dataset.election,
  boothSha256: root.dataset.boothSha256 || '',
  boothOnBoard: null, // 'match' | 'mismatch' (this bundle's digest vs the board's) | 'unpublished'; null: not checked
  api: makeApi(root.dataset.election),
  election: null, // {ctx, manifest, boardKey, fingerprint, phase}
  token: null,
  seed: null,
  selections: null,
  attempted: false, // the voter pressed "Review": show every rule breach
  sealed: null, // {ballot}: the encrypted ballot on screen (its randomness lives only in S.cast while it is unsent)
  cast: castInitial(), // the cast state machine (caststate.js)
  backTo: null, // the screen to return to from the check screen
  checkTimer: null, // the automatic re-check while a witness cosignature is pending
  recheckCount: 0,
  phaseInfo: null, // {phase, result} for the not-open screens
  audited: null, // {ballot, revealed, match, receipt, json}
  receipt: null, // the last cast ballot's receipt (parsed and raw)
  drafts: { login: '', code: '', check: '', relogin: '' },
  error: null, // {field, key, params}
  screen: 'loading',
  busy: false,
  check: null, // results of the last check
};

// ---------------------------------------------------------------------------
// Frame: header with the language switch, the screen, the footer
// ---------------------------------------------------------------------------

const frame = {
  title: document.getElementById('booth-title'),
  langs: document.getElementById('booth-langs'),
  main: document.getElementById('booth-main'),
  status: document.getElementById('booth-status'),
  footer: document.getElementById('booth-footer'),
};

function renderFrame() {
  document.title = S.election ? `${S.election.manifest.label(language())} — ${t('app.title')}` : t('app.title');
  frame.title.textContent = S.election ? S.election.manifest.label(language()) : t('app.title');
  frame.langs.replaceChildren(
    h('span', { class: 'visually-hidden', id: 'lang-label', text: t('lang.label') }),
    ...LANGUAGES.map((lang) => h('button', {
      type: 'button',
      class: 'lang',
      lang,
      'aria-pressed': String(lang === language()),
      'aria-describedby': 'lang-label',
      'data-lang': lang,
      onclick: () => switchLanguage(lang),
    }, t(`lang.${lang}`))),
  );
  const fp = S.election ? b64encode(S.election.fingerprint) : null;
  // replaceChildren would print a null as the text "null": keep only the parts there are.
  frame.footer.replaceChildren(...[
    h('p', {}, h('a', { href: '#check', 'data-testid': 'check-link', text: t('footer.check') })),
    h('p', { text: t('footer.private') }),
    fp && h('p', {}, `${t('footer.fingerprint')}: `, h('code', { class: 'digest', text: fp })),
    S.boothSha256 && h('p', {}, `${t('footer.booth')}: `, h('code', { class: 'digest', text: S.boothSha256 }),
      S.boothOnBoard === null ? null : ` (${t(`footer.booth_${S.boothOnBoard}`)})`),
  ].filter(Boolean));
}

function switchLanguage(lang) {
  setLanguage(lang);
  render({ focus: false });
  frame.langs.querySelector(`[data-lang="${lang}"]`)?.focus();
}

function setStatus(text) {
  frame.status.textContent = text || '';
}

/** Replace the screen; move focus to its heading (a new page for a screen reader). */
function render({ focus = true } = {}) {
  renderFrame();
  const screen = SCREENS[S.screen]();
  frame.main.replaceChildren(screen);
  frame.main.setAttribute('aria-busy', String(S.busy));
  if (focus) {
    const target = frame.main.querySelector('[data-autofocus]') || frame.main.querySelector('h2');
    target?.focus();
  }
}

function go(screen) {
  S.screen = screen;
  S.error = null;
  render();
}

// Helpers for screens ------------------------------------------------------------

const heading = (key, params) => h('h2', { tabindex: '-1', text: t(key, params) });

function errorText() {
  if (!S.error) return '';
  return t(S.error.key, S.error.params);
}

/** An error paragraph announced by screen readers; empty when there is none. */
function errorBox(id, field) {
  const active = S.error && S.error.field === field;
  return h('p', { id, class: 'error', role: 'alert', 'data-field': field, hidden: !active }, active ? errorText() : '');
}

function button(key, onclick, { primary = false, disabled = false, params } = {}) {
  return h('button', { type: 'button', class: primary ? 'primary' : 'secondary', onclick, disabled: disabled || S.busy }, t(key, params));
}

function submitButton(key) {
  return h('button', { type: 'submit', class: 'primary', disabled: S.busy }, t(key));
}

async function busy(statusKey, work) {
  S.busy = true;
  setStatus(t(statusKey));
  render({ focus: false });
  // Let the browser paint the status before a long synchronous step.
  await new Promise((resolve) => setTimeout(resolve, 30));
  try {
    return await work();
  } finally {
    S.busy = false;
    setStatus('');
  }
}

/** The catalogue key (and params) for an error from the server or the network. */
function failureMessage(exc) {
  if (exc instanceof NetworkError) return { key: 'error.network' };
  if (exc instanceof ApiError) {
    const known = {
      unauthenticated: 'error.unauthenticated',
      rate_limited: 'error.rate_limited',
      binding: 'error.binding',
      bad_credential: 'error.bad_credential',
      not_found: 'error.not_found',
    };
    if (exc.code === 'wrong_phase') return { key: 'error.not_open', params: { phase: t('phase.closed') } };
    if (known[exc.code]) return { key: known[exc.code] };
    return { key: 'error.server', params: { code: exc.code } };
  }
  if (exc instanceof EvoteError) return { key: 'error.server', params: { code: exc.code } };
  throw exc;
}

function fatal(exc) {
  S.fatal = failureMessage(exc);
  go('fatal');
}

// ---------------------------------------------------------------------------
// Loading the election
// ---------------------------------------------------------------------------

async function load() {
  setLanguage(preferredLanguage(navigator.languages));
  render({ focus: false });
  let data;
  try {
    data = await S.api.booth();
  } catch (exc) {
    // 404 here is also an election that exists but has no key or credential
    // list yet: a normal state before opening, not an error.
    if (exc instanceof ApiError && exc.code === 'not_found' && (await notYetSetUp())) return;
    fatal(exc);
    return;
  }
  try {
    const manifest = Manifest.fromJson(data.manifest);
    const jointKey = pointFromJson(data.joint_key);
    const commitments = data.trustee_commitments.map((row) => row.map((c) => pointFromJson(c)));
    const credentialsDigest = b64decode(data.credentials_digest, { length: 32 });
    const fingerprint = electionFingerprint(manifest.digest(), jointKey, commitments, credentialsDigest);
    // The fingerprint the official signed on the board must be the one this
    // manifest, key and ceremony give: otherwise the booth would encrypt for
    // something other than what the election published.
    if (data.fingerprint === null && data.phase === 'setup' && manifest.electionId === S.electionId) {
      // Set up but not opened: nothing signed to compare with yet, and nothing to vote on.
      S.phaseInfo = { phase: 'setup', manifest };
      go('notopen');
      return;
    }
    if (data.fingerprint === null || !bytesEqual(fingerprint, b64decode(data.fingerprint, { length: 32 }))
      || manifest.electionId !== S.electionId) {
      S.fatal = { key: 'error.fingerprint' };
      go('fatal');
      return;
    }
    S.election = {
      manifest,
      fingerprint,
      ctx: new ElectionContext(manifest, jointKey, fingerprint),
      boardKey: b64decode(data.board_key, { length: 32 }),
      phase: data.phase,
    };
    if (!(await ownBundleIsOnTheBoard(data.booth_sha256))) {
      S.election = null;
      S.fatal = { key: 'error.booth' };
      go('fatal');
      return;
    }
  } catch (exc) {
    if (exc instanceof EvoteError) {
      S.fatal = { key: 'error.fingerprint' };
      go('fatal');
      return;
    }
    throw exc;
  }
  S.selections = S.election.manifest.questions.map((q) => q.options.map(() => 0));
  window.addEventListener('hashchange', () => routeHash());
  window.addEventListener('beforeunload', (ev) => {
    if (hasUnsentMarks()) {
      ev.preventDefault();
      ev.returnValue = '';
    }
  });
  S.provider = S.election.phase === 'open' ? await S.api.provider().catch(() => null) : null;
  S.screen = homeScreen();
  if (resumeCast()) return;
  if (await providerLogin()) return;
  if (routeHash()) return;
  if (S.election.phase === 'tallied') S.phaseInfo = { phase: 'tallied', result: await resultCounts() };
  go(S.screen);
}

/** The first screen for this election's phase (the vote starts at login; the others say why not). */
function homeScreen() {
  const { phase } = S.election;
  if (phase === 'open') return 'login';
  if (phase === 'closed') return 'closed';
  if (phase === 'tallied') return 'tallied';
  return 'notopen';
}

/** The election exists but is not set up yet: show "not yet open" (true), or false if it does not exist. */
async function notYetSetUp() {
  let summary;
  try {
    summary = await S.api.summary();
  } catch {
    return false;
  }
  if (summary?.phase !== 'setup') return false;
  try {
    S.phaseInfo = { phase: 'setup', manifest: Manifest.fromJson(summary.manifest) };
  } catch {
    S.phaseInfo = { phase: 'setup', manifest: null };
  }
  go('notopen');
  return true;
}

/** The published result's counts (null when it cannot be fetched: the screen then only links to it). */
async function resultCounts() {
  try {
    const summary = await S.api.summary();
    return Array.isArray(summary?.result?.counts) ? summary.result.counts : null;
  } catch {
    return null;
  }
}

/** `#check` or `#check=CODE`: open the check screen (and run the check when a code is given). */
function routeHash() {
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
  const back = S.backTo && S.backTo !== 'check' ? S.backTo : homeScreen();
  S.backTo = null;
  go(back);
}

function hasUnsentMarks() {
  if (!['ballot', 'review', 'sealed'].includes(S.screen) && !(S.screen === 'check' && ['ballot', 'review', 'sealed'].includes(S.backTo))) return false;
  if (S.cast.phase === 'sealed') return true;
  return Boolean(S.selections?.some((row) => row.some((v) => v !== 0)));
}

/**
 * Whether this running bundle is the one the official published on the board.
 *
 * The bytes are fetched with the page's Subresource Integrity hash as the
 * `integrity` option, so the browser hands them over only if they are the very
 * bytes that hash pinned for this script; their SHA-256 must equal the board's
 * booth_sha256.  No digest on the board: nothing to compare (true, noted in
 * the footer).  Any failure to get the bytes counts as a mismatch.
 */
async function ownBundleIsOnTheBoard(published) {
  if (published === null || published === undefined) {
    S.boothOnBoard = 'unpublished';
    return true;
  }
  const onBoard = b64decode(published, { length: 32, what: 'booth_sha256' });
  if (!SCRIPT || !SCRIPT.src || !SCRIPT.integrity) return false;
  let own;
  try {
    const response = await fetch(SCRIPT.src, {
      integrity: SCRIPT.integrity, credentials: 'omit', redirect: 'error', referrerPolicy: 'no-referrer',
    });
    if (!response.ok) return false;
    own = sha256(new Uint8Array(await response.arrayBuffer()));
  } catch {
    return false; // a network failure, or bytes that are not the ones the SRI hash pins
  }
  S.boothSha256 = bytesToHex(own);
  const same = bytesEqual(own, onBoard);
  S.boothOnBoard = same ? 'match' : 'mismatch';
  return same;
}

// ---------------------------------------------------------------------------
// Screens
// ---------------------------------------------------------------------------

const SCREENS = {
  loading: () => h('section', {}, h('p', { class: 'status', text: t('status.loading') })),

  fatal: () => h('section', {},
    heading('error.heading'),
    h('p', { class: 'error', role: 'alert', text: t(S.fatal.key, S.fatal.params) }),
    button('error.retry', () => location.reload()),
  ),

  login() {
    const inputId = uid('login');
    const errId = uid('login-error');
    const hintId = uid('login-hint');
    const input = h('input', {
      id: inputId, type: 'password', autocomplete: 'off', spellcheck: 'false',
      'aria-describedby': `${hintId} ${errId}`, 'aria-invalid': String(S.error?.field === 'login'),
      value: S.drafts.login, 'data-autofocus': true,
      oninput: (ev) => { S.drafts.login = ev.target.value; },
    });
    return h('section', {},
      heading('login.heading'),
      h('p', { text: t('login.intro') }),
      h('form', { novalidate: true, onsubmit: (ev) => { ev.preventDefault(); signIn(); } },
        h('label', { for: inputId, text: t('login.label') }),
        h('p', { id: hintId, class: 'hint', text: t('login.hint') }),
        input,
        errorBox(errId, 'login'),
        submitButton('login.submit'),
        loginFileInput('login'),
      ),
      S.provider ? button('login.provider', () => location.assign(providerStartUrl(S.electionId)),
        { primary: true, params: { name: S.provider.name } }) : null,
    );
  },

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

  need_login() {
    const inputId = uid('relogin');
    const errId = uid('relogin-error');
    return h('section', {},
      heading('need_login.heading'),
      h('p', { text: t('need_login.intro') }),
      trackingBlock(S.cast.code),
      h('form', { novalidate: true, onsubmit: (ev) => { ev.preventDefault(); signIn('relogin'); } },
        h('label', { for: inputId, text: t('login.label') }),
        h('input', {
          id: inputId, type: 'password', autocomplete: 'off', spellcheck: 'false',
          'aria-describedby': errId, 'aria-invalid': String(S.error?.field === 'relogin'),
          value: S.drafts.relogin, 'data-autofocus': true,
          oninput: (ev) => { S.drafts.relogin = ev.target.value; },
        }),
        errorBox(errId, 'relogin'),
        submitButton('need_login.submit'),
        loginFileInput('relogin'),
      ),
    );
  },

  refused() {
    const code = S.cast.refusal;
    const reason = failureMessage(new ApiError(409, code, code));
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

  audit_failed: () => h('section', {},
    heading('audit_failed.heading'),
    h('p', { class: 'error', role: 'alert', text: errorText() }),
    h('p', { text: t('audit_failed.intro') }),
    h('div', { class: 'actions' }, button('audit.again', sealAgain, { primary: true })),
  ),

  credential() {
    const inputId = uid('code');
    const hintId = uid('code-hint');
    const errId = uid('code-error');
    const fileId = uid('file');
    return h('section', {},
      heading('cred.heading'),
      h('p', { text: t('cred.intro') }),
      h('form', { novalidate: true, onsubmit: (ev) => { ev.preventDefault(); useCode(); } },
        h('label', { for: inputId, text: t('cred.label') }),
        h('p', { id: hintId, class: 'hint', text: t('cred.hint') }),
        h('input', {
          id: inputId, type: 'text', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false',
          class: 'code-input', 'aria-describedby': `${hintId} ${errId}`, value: S.drafts.code,
          'aria-invalid': String(S.error?.field === 'code'), 'data-autofocus': true,
          oninput: (ev) => { S.drafts.code = ev.target.value; },
        }),
        errorBox(errId, 'code'),
        submitButton('cred.submit'),
        h('label', { for: fileId, class: 'file-label', text: t('cred.file') }),
        h('input', { id: fileId, type: 'file', accept: '.json,application/json', onchange: (ev) => useFile(ev.target.files[0]) }),
      ),
    );
  },

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
      h('dl', { class: 'review' }, manifest.questions.map((q, qi) => [
        h('dt', { text: q.label(lang) }),
        h('dd', {}, chosenList(q, a.revealed[qi], lang)),
      ])),
      h('p', { class: a.match ? 'ok' : 'error', role: a.match ? null : 'alert', 'data-testid': 'audit-verdict', text: t(a.match ? 'audit.match' : 'audit.mismatch') }),
      h('p', { text: t('audit.posted', { index: a.receipt.index }) }),
      download(`audit-${a.ballot.trackingCode}.json`, a.json, 'audit.download'),
      qrFigure(url, 'audit.qr_alt', 'audit.qr_caption'),
      h('div', { class: 'actions' }, button('audit.again', sealAgain, { primary: true })),
    );
  },

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

function checkVerdict(results) {
  if (results.pending) {
    return h('p', { class: 'pending', role: 'status', 'data-testid': 'check-verdict', text: t('check.pending') });
  }
  if (results.failure) {
    return h('p', { class: 'error', role: 'alert', 'data-testid': 'check-verdict', text: t('check.fail', { reason: t(results.failure) }) });
  }
  return h('p', { class: 'ok', role: 'status', 'data-testid': 'check-verdict', text: t('check.ok') });
}

function checkLinkButton() {
  return h('a', { href: '#check', class: 'button secondary', text: t('footer.check') });
}

function trackingBlock(code) {
  return [
    h('p', { class: 'label', text: t('sealed.tracking') }),
    h('p', { class: 'tracking', 'data-testid': 'tracking-code', text: code }),
  ];
}

function loginFileInput(field) {
  const fileId = uid('login-file');
  return [
    h('label', { for: fileId, class: 'file-label', text: t('login.file') }),
    h('input', { id: fileId, type: 'file', accept: '.login,.json,application/json,text/plain', onchange: (ev) => useLoginFile(ev.target.files[0], field) }),
  ];
}

// --- questions -----------------------------------------------------------------

function ruleText(q) {
  const n = q.options.length;
  if (q.kind === 'choice') {
    if (q.min === q.max) return t('q.rule.choose_exactly', { n: q.max });
    if (q.min === 0 && q.max === n) return t('q.rule.choose_any');
    if (q.min === 0) return t('q.rule.choose_up_to', { n: q.max });
    if (q.max === n) return t('q.rule.choose_at_least', { n: q.min });
    return t('q.rule.choose_between', { min: q.min, max: q.max });
  }
  const top = q.maxScore * n;
  const parts = [t('q.rule.score', { n: q.maxScore })];
  if (q.min > 0 && q.max < top) parts.push(t('q.rule.total_between', { min: q.min, max: q.max }));
  else if (q.max < top) parts.push(t('q.rule.total_up_to', { n: q.max }));
  else if (q.min > 0) parts.push(t('q.rule.total_at_least', { n: q.min }));
  return parts.join(' ');
}

/** The rule breach of question q for the current selections, or null. */
function breach(q, values, { final }) {
  const total = values.reduce((a, b) => a + b, 0);
  if (total > q.max) return { key: `q.error.too_many.${q.kind}`, params: { total, max: q.max } };
  if (final && total < q.min) return { key: `q.error.too_few.${q.kind}`, params: { total, min: q.min } };
  return null;
}

function questionBlock(q, qi, count, lang) {
  const ruleId = `rule-${qi}`;
  const countId = `count-${qi}`;
  const errId = `qerr-${qi}`;
  const values = S.selections[qi];
  const problem = breach(q, values, { final: S.attempted });
  const describedBy = `${ruleId} ${errId}`;
  const total = values.reduce((a, b) => a + b, 0);
  let inputs;
  if (q.kind === 'choice') {
    const single = q.min === 1 && q.max === 1;
    inputs = q.options.map((_, o) => {
      const id = `q${qi}-o${o}`;
      return h('div', { class: 'option' },
        h('input', {
          id, type: single ? 'radio' : 'checkbox', name: single ? `q${qi}` : null,
          checked: values[o] === 1, 'aria-describedby': describedBy, 'aria-invalid': String(problem !== null),
          onchange: (ev) => {
            if (single) S.selections[qi] = q.options.map((__, k) => (k === o ? 1 : 0));
            else S.selections[qi][o] = ev.target.checked ? 1 : 0;
            refreshQuestion(qi, id);
          },
        }),
        h('label', { for: id, text: q.optionLabel(o, lang) }),
      );
    });
  } else {
    inputs = q.options.map((_, o) => {
      const id = `q${qi}-o${o}`;
      const select = h('select', {
        id, 'aria-describedby': describedBy, 'aria-invalid': String(problem !== null),
        onchange: (ev) => {
          S.selections[qi][o] = Number(ev.target.value);
          refreshQuestion(qi, id);
        },
      }, Array.from({ length: q.maxScore + 1 }, (__, v) => h('option', { value: String(v), selected: values[o] === v }, String(v))));
      return h('div', { class: 'option score' },
        h('label', { for: id, text: q.optionLabel(o, lang) }),
        select,
      );
    });
  }
  return h('fieldset', { class: problem ? 'question invalid' : 'question', id: `question-${qi}` },
    h('legend', {},
      h('span', { class: 'qnum', text: t('q.heading', { number: qi + 1, total: count }) }),
      h('span', { class: 'qtitle', text: q.label(lang) }),
    ),
    h('p', { id: ruleId, class: 'rule', text: ruleText(q) }),
    h('div', { class: 'options' }, inputs),
    h('p', { id: countId, class: 'count', 'aria-live': 'polite', text: t(`q.count.${q.kind}`, { n: total }) }),
    h('p', { id: errId, class: 'error', role: 'alert', hidden: problem === null }, problem ? t(problem.key, problem.params) : ''),
  );
}

/** Re-render one question in place after a change, keeping focus on the control. */
function refreshQuestion(qi, focusId) {
  const { manifest } = S.election;
  const old = document.getElementById(`question-${qi}`);
  const fresh = questionBlock(manifest.questions[qi], qi, manifest.questions.length, language());
  old.replaceWith(fresh);
  document.getElementById(focusId)?.focus();
  if (S.error?.field === 'ballot' && firstBreach() === null) {
    S.error = null;
    const summary = frame.main.querySelector('[data-field="ballot"]');
    if (summary) summary.hidden = true;
  }
}

function firstBreach() {
  const { manifest } = S.election;
  for (const [qi, q] of manifest.questions.entries()) {
    if (breach(q, S.selections[qi], { final: true })) return qi;
  }
  return null;
}

function chosenList(q, values, lang) {
  const items = [];
  values.forEach((v, o) => {
    if (v === 0) return;
    const label = q.optionLabel(o, lang);
    items.push(h('li', { text: q.kind === 'choice' ? label : `${label}: ${t('review.points', { n: v })}` }));
  });
  return items.length ? h('ul', {}, items) : h('p', { text: t('review.none') });
}

// --- actions -------------------------------------------------------------------

/** Sign in with the login code (typed, pasted as the .login file, or loaded from it). */
async function signIn(field = 'login') {
  const draft = field === 'relogin' ? S.drafts.relogin : S.drafts.login;
  let token;
  try {
    token = parseLoginText(draft, S.electionId);
  } catch (exc) {
    if (!(exc instanceof LoginTextError)) throw exc;
    S.error = { field, key: exc.key, params: exc.params };
    render();
    return;
  }
  try {
    await busy('status.working', () => S.api.login(token));
  } catch (exc) {
    S.error = exc instanceof ApiError && exc.code === 'unauthenticated'
      ? { field, key: 'login.error.wrong' }
      : { field, ...failureMessage(exc) };
    render();
    return;
  }
  S.token = token;
  S.drafts.login = '';
  S.drafts.relogin = '';
  if (field === 'relogin') {
    dispatch({ type: 'TOKEN', has: true }); // need_login → sending the same bytes
    return;
  }
  dispatch({ type: 'TOKEN', has: true });
  go(S.seed ? 'ballot' : 'credential');
}

/** Back from the city's OpenID provider: sign in with the session token in the fragment. */
async function providerLogin() {
  const token = takeProviderToken(location.hash);
  if (token === null) return false;
  history.replaceState(null, '', location.pathname + location.search);
  S.drafts.login = token;
  go('login');
  await signIn();
  return true;
}

async function useLoginFile(file, field) {
  if (!file) return;
  const text = await file.text();
  if (field === 'relogin') S.drafts.relogin = text;
  else S.drafts.login = text;
  await signIn(field);
}

function credentialError(exc) {
  const reason = exc.detail?.reason;
  if (reason === 'length') return { key: 'cred.error.length', params: { n: exc.detail.count, expected: exc.detail.expected } };
  if (reason === 'character') return { key: 'cred.error.character', params: { character: exc.detail.character, position: exc.detail.position } };
  return { key: 'cred.error.checksum' };
}

function useCode() {
  const text = S.drafts.code;
  if (!text.trim()) {
    S.error = { field: 'code', key: 'cred.error.empty' };
    render();
    return;
  }
  try {
    acceptSeed(parseCredentialCode(text.trim()));
  } catch (exc) {
    if (!(exc instanceof CredentialError)) throw exc;
    S.error = { field: 'code', ...credentialError(exc) };
    render();
  }
}

async function useFile(file) {
  if (!file) return;
  let parsed;
  try {
    parsed = parseCredentialFile(parseJson(await file.text()));
  } catch (exc) {
    if (!(exc instanceof EvoteError)) throw exc;
    S.error = exc instanceof CredentialError
      ? { field: 'code', ...credentialError(exc) }
      : { field: 'code', key: 'cred.error.file' };
    render();
    return;
  }
  if (parsed.electionId !== S.electionId) {
    S.error = { field: 'code', key: 'cred.error.election', params: { election: parsed.electionId } };
    render();
    return;
  }
  acceptSeed(parsed.seed);
}

function acceptSeed(seed) {
  publicKeyOf(seed); // a malformed seed fails here, not later
  S.seed = seed;
  S.drafts.code = '';
  go('ballot');
}

function review() {
  S.attempted = true;
  const qi = firstBreach();
  if (qi !== null) {
    S.error = { field: 'ballot', key: 'ballot.fix' };
    render({ focus: false });
    frame.main.querySelector(`#question-${qi} input, #question-${qi} select`)?.focus();
    return;
  }
  go('review');
}

async function seal() {
  const sealed = await busy('review.encrypting', () => encryptBallot(S.election.ctx, S.seed, S.selections, systemRng));
  sealBallot(sealed);
}

async function sealAgain() {
  const sealed = await busy('review.encrypting', () => encryptBallot(S.election.ctx, S.seed, S.selections, systemRng));
  S.audited = null;
  sealBallot(sealed);
}

function sealBallot({ ballot, secrets }) {
  S.sealed = { ballot };
  dispatch({
    type: 'SEAL', election: S.electionId, code: ballot.trackingCode, bytes: fromUtf8(ballot.canonical()), secrets,
  });
  go('sealed');
}

/** The receipt, checked here before it is shown: signed by the board key, proof valid, for this ballot. */
function checkedReceipt(json, trackingCode) {
  const receipt = receiptFromJson(json);
  verifyReceipt(receipt, S.election.boardKey);
  if (receipt.trackingCode !== trackingCode || receipt.election !== S.electionId) {
    throw new EvoteError('the receipt is for another ballot');
  }
  return receipt;
}

// --- casting: the driver of the cast state machine (caststate.js) ------------------------

const STORE_KEY = () => `evote.cast.${S.electionId}`;

function storeRecord(record) {
  try {
    sessionStorage.setItem(STORE_KEY(), JSON.stringify(record));
  } catch {
    // private mode or a full store: the cast still works, only a reload cannot resume it
  }
}

function storedRecord() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE_KEY()) || 'null');
  } catch {
    return null;
  }
}

function forgetRecord() {
  try {
    sessionStorage.removeItem(STORE_KEY());
  } catch {
    // nothing stored
  }
}

/** Feed one event to the cast machine, perform its effects, show the screen of its phase. */
function dispatch(event) {
  const before = S.cast;
  const { state, effects } = castStep(S.cast, event);
  S.cast = state;
  for (const effect of effects) perform(effect);
  if (state === before) return;
  // A resend after a lost answer stays on the "checking" screen: no flicker
  // between screens, and focus moves only when the screen really changes.
  const screen = state.phase === 'sending' && state.attempt > 1 ? 'unknown' : {
    sending: 'sending', unknown: 'unknown', need_login: 'need_login', cast: 'cast', refused: 'refused',
  }[state.phase];
  if (state.phase === 'cast') {
    S.receipt = receiptView(state.receipt, state.bytes ?? before.bytes);
    S.sealed = null;
  }
  if (!screen) return;
  if (S.screen === 'check') S.backTo = screen;
  else if (S.screen !== screen) go(screen);
  else refreshCastStatus();
}

/** Update the status line of the sending/checking screen in place (no re-render, focus kept). */
function refreshCastStatus() {
  const status = frame.main.querySelector('[data-testid="unknown-status"]');
  if (status) status.textContent = t(unknownStatusKey());
  const now = frame.main.querySelector('[data-testid="check-now"]');
  if (now) now.disabled = !(S.cast.phase === 'unknown' && !S.cast.looking);
}

function unknownStatusKey() {
  return S.cast.phase === 'sending' || S.cast.looking ? 'unknown.looking' : 'unknown.waiting';
}

function receiptView(receipt, bytes) {
  let ballotHash = null;
  try {
    if (bytes) ballotHash = Ballot.fromJson(parseJson(bytes), S.election.manifest).ballotHash();
  } catch {
    ballotHash = null;
  }
  return { ...receipt, json: receipt.json, ballotHash };
}

function perform(effect) {
  if (effect.type === 'persist') storeRecord(effect.record);
  else if (effect.type === 'forget') forgetRecord();
  else if (effect.type === 'send') sendBallot(effect);
  else if (effect.type === 'lookup') lookUp(effect);
  else if (effect.type === 'wait') setTimeout(() => dispatch({ type: 'TICK', seq: effect.seq }), effect.ms);
  else if (effect.type === 'audit') postAudit(effect);
}

/** One send of the ballot's bytes; its outcome becomes an event of the machine. */
async function sendBallot({ seq, bytes }) {
  const code = S.cast.code;
  let json;
  try {
    json = await S.api.cast(S.token, bytes);
  } catch (exc) {
    if (exc instanceof NetworkError) return dispatch({ type: 'LOST', seq });
    if (!(exc instanceof ApiError)) throw exc;
    if (exc.code === 'duplicate_ciphertext') return dispatch({ type: 'DUPLICATE', seq });
    if (FINAL_REFUSALS.includes(exc.code)) return dispatch({ type: 'REFUSED', seq, code: exc.code });
    return dispatch({ type: 'LOST', seq }); // 5xx, 429, a proxy's page: the fate is unknown
  }
  let receipt;
  try {
    receipt = checkedReceipt(json, code);
  } catch (exc) {
    if (!(exc instanceof EvoteError)) throw exc;
    return dispatch({ type: 'LOST', seq }); // an answer that does not check out proves nothing: look it up
  }
  return dispatch({ type: 'ANSWER', seq, receipt });
}

/**
 * Look the tracking code up on the board (api.md §5.2): the entry and its
 * original receipt, checked here (the board's signature on the tree head and
 * the receipt, the inclusion proof to that head, the entry's hash, and the
 * entry's ballot byte for byte the one this device sent).
 */
async function lookUp({ seq, code }) {
  let answer;
  try {
    answer = await S.api.receiptOf(code);
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 404) return dispatch({ type: 'MISSING', seq });
    if (exc instanceof ApiError || exc instanceof NetworkError) return dispatch({ type: 'LOOKUP_LOST', seq });
    throw exc;
  }
  try {
    const receipt = checkedReceipt(answer?.receipt, code);
    const entry = answer.entry;
    if (!bytesEqual(leafHash(canonicalJson(entry)), receipt.entryHash) || entry.kind !== 'ballot_cast'
      || fromUtf8(canonicalJson(entry.payload.ballot)) !== S.cast.bytes) {
      throw new EvoteError('the board entry is not the ballot this device sent');
    }
    return dispatch({ type: 'FOUND', seq, receipt });
  } catch (exc) {
    if (!(exc instanceof EvoteError) && !(exc instanceof TypeError)) throw exc;
    return dispatch({ type: 'LOOKUP_LOST', seq });
  }
}

/** After a reload: finish the cast that was in doubt, or show the receipt it got. */
function resumeCast() {
  const record = storedRecord();
  if (!validRecord(record) || record.election !== S.electionId) {
    if (record !== null) forgetRecord();
    return false;
  }
  let receipt;
  if (record.kind === 'cast' && S.election.phase !== 'open') {
    // Voting is over: the phase's own screen (result, check) is the useful one now.
    forgetRecord();
    return false;
  }
  if (record.kind === 'cast') {
    try {
      receipt = checkedReceipt(record.receipt, record.code);
    } catch (exc) {
      if (!(exc instanceof EvoteError)) throw exc;
      forgetRecord();
      return false;
    }
  }
  S.screen = 'unknown';
  dispatch({ type: 'RELOAD', record, receipt });
  if (S.cast.phase === 'cast' && S.screen !== 'cast') go('cast');
  return S.cast.phase !== 'idle';
}

function castBallot() {
  if (S.cast.phase !== 'sealed') return;
  S.sealed = { ballot: S.sealed.ballot }; // the randomness goes with this step (caststate drops it)
  dispatch({ type: 'CAST' });
}

function checkNow() {
  if (S.cast.phase === 'unknown' && !S.cast.looking) dispatch({ type: 'TICK', seq: S.cast.seq });
}

/** What the ballot really encrypts, read back with its randomness (independent of the UI state). */
function revealed(ballot, secrets) {
  const { ctx } = S.election;
  return ctx.manifest.questions.map((q, qi) => ballot.answers[qi].choices.map((ct, o) => {
    for (let m = 0; m <= q.maxScore; m++) {
      const again = encrypt(ctx.jointKey, m, secrets.randomness[qi][o]);
      if (again.alpha.equals(ct.alpha) && again.beta.equals(ct.beta)) return m;
    }
    return -1;
  }));
}

function auditBallot() {
  if (!canAudit(S.cast)) return; // a ballot that was sent is never opened
  dispatch({ type: 'AUDIT' });
}

async function postAudit({ seq, secrets }) {
  const { ballot } = S.sealed;
  const audited = auditedBallotJson(ballot, secrets);
  const content = revealed(ballot, secrets);
  const match = content.every((row, qi) => row.every((m, o) => m === S.selections[qi][o]));
  try {
    const json = await busy('sealed.auditing', () => S.api.audit(S.token, audited));
    const receipt = checkedReceipt(json, ballot.trackingCode);
    S.audited = { ballot, revealed: content.map((row) => row.map((m) => Math.max(m, 0))), match, receipt, json: audited };
  } catch (exc) {
    if (!(exc instanceof ApiError || exc instanceof NetworkError || exc instanceof EvoteError)) throw exc;
    dispatch({ type: 'AUDIT_FAILED', seq });
    S.sealed = null; // its randomness may have reached the server: it can never be cast
    S.error = { field: 'audit', ...failureMessage(exc) };
    go('audit_failed');
    return;
  }
  dispatch({ type: 'AUDITED', seq });
  S.sealed = null; // its randomness is public now: it can never be cast
  go('audited');
}

function voteAgain() {
  dispatch({ type: 'RESET' });
  S.attempted = false;
  S.check = null;
  S.receipt = null;
  S.audited = null;
  // After a reload the credential is no longer in memory: ask for it again.
  if (!S.token) go('login');
  else if (!S.seed) go('credential');
  else go('ballot');
}

async function runCheck({ again = false } = {}) {
  const code = S.drafts.check.trim().toUpperCase();
  if (!code) return;
  if (!again) S.recheckCount = 0;
  const steps = [];
  let failure = null;
  try {
    await busy('check.running', async () => {
      const proof = await S.api.inclusion(code);
      const sth = signedTreeHeadFromJson(proof.tree_head);
      verifySignedTreeHead(sth, S.election.boardKey);
      steps.push({ key: 'check.step.head', params: { size: sth.head.size } });
      const entryHash = b64decode(proof.entry_hash, { length: 32 });
      const path = proof.proof.map((p) => b64decode(p, { length: 32 }));
      verifyInclusion(proof.index, sth.head.size, entryHash, path, sth.head.root);
      steps.push({ key: 'check.step.inclusion', params: { index: proof.index } });
      const entry = await S.api.ballotEntry(code);
      const payload = entry.kind === 'ballot_cast' ? entry.payload.ballot : entry.payload?.audited?.ballot;
      const ballot = Ballot.fromJson(payload, S.election.manifest);
      if (entry.index !== proof.index || !bytesEqual(leafHash(canonicalJson(entry)), entryHash) || ballot.trackingCode !== code) {
        failure = 'check.reason.entry';
        return;
      }
      if (S.receipt?.ballotHash && S.receipt.trackingCode === code && !bytesEqual(ballot.ballotHash(), S.receipt.ballotHash)) {
        failure = 'check.reason.entry';
        return;
      }
      steps.push({ key: 'check.step.entry', params: { index: entry.index } });
      if (S.receipt && S.receipt.trackingCode === code) {
        verifyReceipt(receiptFromJson(S.receipt.json), S.election.boardKey);
        steps.push({ key: 'check.step.receipt' });
      }
      const policy = S.election.manifest.witnesses;
      if (policy !== null) failure = await checkWitnessed(policy, code, proof.index, entryHash, steps);
    });
  } catch (exc) {
    if (exc instanceof ApiError && exc.code === 'not_found') failure = 'check.not_found';
    else if (exc instanceof ApiError || exc instanceof NetworkError) {
      S.error = { field: 'check', ...failureMessage(exc) };
    } else if (exc instanceof EvoteError) {
      const byCode = {
        invalid_signature: 'check.reason.signature',
        root_mismatch: 'check.reason.proof',
        merkle: 'check.reason.proof',
        witness_policy: 'check.reason.witnesses',
      };
      failure = byCode[exc.code] ?? 'check.reason.format';
    } else {
      throw exc;
    }
  }
  // Witnesses cosign checkpoints every few seconds: not yet cosigned is
  // pending, not a failure, and the check runs again by itself.
  const pending = failure === 'check.reason.not_witnessed';
  S.check = { steps, failure: pending ? null : failure, pending };
  if (S.screen !== 'check') return;
  render({ focus: false });
  frame.main.querySelector('[data-testid="check-verdict"]')?.focus();
  stopRecheck();
  if (pending && S.recheckCount < RECHECK_LIMIT) {
    S.recheckCount += 1;
    S.checkTimer = setTimeout(() => { S.checkTimer = null; if (S.screen === 'check') runCheck({ again: true }); }, RECHECK_MS);
  }
}

const RECHECK_MS = 4000;
const RECHECK_LIMIT = 45; // three minutes; then the voter presses Check again

function stopRecheck() {
  if (S.checkTimer !== null) clearTimeout(S.checkTimer);
  S.checkTimer = null;
}

/**
 * The election has witnesses: the ballot must be in a checkpoint that enough of
 * them cosigned (evote.witness.verify_cosigned_inclusion, docs/witness.md §6):
 * the latest cosigned checkpoint, once it covers the ballot's index, and the
 * inclusion proof of the same entry hash to its size.  Returns a failure key
 * (not cosigned yet) or null, and adds the step naming the witnesses.
 */
async function checkWitnessed(policy, code, index, entryHash, steps) {
  let cosigned;
  try {
    cosigned = await S.api.cosigned();
  } catch (exc) {
    if (exc instanceof ApiError && exc.code === 'not_found') return 'check.reason.not_witnessed';
    throw exc;
  }
  if (typeof cosigned?.checkpoint !== 'string') return 'check.reason.format';
  const { size } = parseCheckpoint(parseNote(cosigned.checkpoint).text);
  if (size <= index) return 'check.reason.not_witnessed';
  const answer = await S.api.inclusionAt(code, size);
  if (answer.index !== index || !Array.isArray(answer.proof)) return 'check.reason.entry';
  const names = verifyCosignedInclusion(cosigned.checkpoint, {
    boardKey: S.election.boardKey,
    election: S.electionId,
    index,
    entryHash,
    proof: answer.proof.map((p) => b64decode(p, { length: 32 })),
    policy,
  });
  steps.push({
    key: 'check.step.witnesses',
    params: { size, names: names.join(', '), k: policy.threshold, n: policy.keys.length },
  });
  return null;
}

// --- files and QR codes ------------------------------------------------------------

function download(filename, json, key) {
  const blob = new Blob([`${JSON.stringify(json, null, 1)}\n`], { type: 'application/json' });
  return h('p', {}, h('a', { href: URL.createObjectURL(blob), download: filename, class: 'download', text: t(key) }));
}

function qrFigure(text, altKey, captionKey) {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const captionId = uid('qr');
  return h('figure', { class: 'qr' },
    h('img', { src: qr.createDataURL(4, 4), alt: t(altKey), 'aria-describedby': captionId }),
    h('figcaption', { id: captionId }, t(captionKey), h('br'), h('code', { class: 'link', text })),
  );
}

load().catch((exc) => {
  // A bug, not a verdict: show the generic error rather than a dead page.
  console.error(exc);
  S.fatal = { key: 'error.server', params: { code: 'internal' } };
  go('fatal');
});

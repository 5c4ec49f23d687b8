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
  auditedBallotJson, Ballot, ElectionContext, encryptBallot,
} from './ballot.js';
import { parseCredentialCode, parseCredentialFile } from './credentials.js';
import { encrypt } from './elgamal.js';
import { b64decode, b64encode, bytesEqual, bytesToHex, canonicalJson, parseJson } from './encoding.js';
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
  sealed: null, // {ballot, secrets}
  audited: null, // {ballot, revealed, match, receipt, json}
  receipt: null, // the last cast ballot's receipt (parsed and raw)
  drafts: { login: '', code: '', check: '' },
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
  frame.footer.replaceChildren(
    h('p', { text: t('footer.private') }),
    fp && h('p', {}, `${t('footer.fingerprint')}: `, h('code', { class: 'digest', text: fp })),
    S.boothSha256 && h('p', {}, `${t('footer.booth')}: `, h('code', { class: 'digest', text: S.boothSha256 }),
      S.boothOnBoard === null ? null : ` (${t(`footer.booth_${S.boothOnBoard}`)})`),
  );
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
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.has('check')) {
    S.drafts.check = hash.get('check');
    go('check');
    return;
  }
  if (S.election.phase !== 'open') {
    S.fatal = { key: 'error.not_open', params: { phase: t(`phase.${S.election.phase}`) } };
    go('fatal');
    return;
  }
  go('login');
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
    const input = h('input', {
      id: inputId, type: 'password', autocomplete: 'off', spellcheck: 'false',
      'aria-describedby': errId, 'aria-invalid': String(S.error?.field === 'login'),
      value: S.drafts.login, 'data-autofocus': true,
      oninput: (ev) => { S.drafts.login = ev.target.value; },
    });
    return h('section', {},
      heading('login.heading'),
      h('p', { text: t('login.intro') }),
      h('form', { novalidate: true, onsubmit: (ev) => { ev.preventDefault(); signIn(); } },
        h('label', { for: inputId, text: t('login.label') }),
        input,
        errorBox(errId, 'login'),
        submitButton('login.submit'),
      ),
    );
  },

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
        button('cast.vote_again', voteAgain),
        button('cast.check', () => { S.drafts.check = r.trackingCode; S.check = null; go('check'); }, { primary: true }),
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
        results.failure
          ? h('p', { class: 'error', role: 'alert', 'data-testid': 'check-verdict', text: t('check.fail', { reason: t(results.failure) }) })
          : h('p', { class: 'ok', role: 'status', 'data-testid': 'check-verdict', text: t('check.ok') }),
      ),
      h('p', { class: 'small' }, `${t('check.board_key')}: `, h('code', { class: 'digest', text: b64encode(S.election.boardKey) })),
      S.receipt ? h('div', { class: 'actions' }, button('check.back', () => go('cast'))) : null,
    );
  },
};

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

async function signIn() {
  const token = S.drafts.login.trim();
  if (!token) {
    S.error = { field: 'login', key: 'login.error.empty' };
    render();
    return;
  }
  try {
    await busy('status.working', () => S.api.login(token));
  } catch (exc) {
    S.error = exc instanceof ApiError && exc.code === 'unauthenticated'
      ? { field: 'login', key: 'login.error.wrong' }
      : { field: 'login', ...failureMessage(exc) };
    render();
    return;
  }
  S.token = token;
  go('credential');
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
  S.sealed = await busy('review.encrypting', () => encryptBallot(S.election.ctx, S.seed, S.selections, systemRng));
  go('sealed');
}

async function sealAgain() {
  S.sealed = await busy('review.encrypting', () => encryptBallot(S.election.ctx, S.seed, S.selections, systemRng));
  S.audited = null;
  go('sealed');
}

/** The receipt, checked here before it is shown: signed by the board key, proof valid, for this ballot. */
function checkedReceipt(json, ballot) {
  const receipt = receiptFromJson(json);
  verifyReceipt(receipt, S.election.boardKey);
  if (receipt.trackingCode !== ballot.trackingCode || receipt.election !== S.electionId) {
    throw new EvoteError('the receipt is for another ballot');
  }
  return receipt;
}

async function castBallot() {
  const { ballot } = S.sealed;
  let json;
  try {
    json = await busy('sealed.casting', () => S.api.cast(S.token, ballot.toJson()));
    const receipt = checkedReceipt(json, ballot);
    S.receipt = { ...receipt, json, ballotHash: ballot.ballotHash() };
  } catch (exc) {
    S.error = { field: 'sealed', ...failureMessage(exc) };
    render();
    return;
  }
  S.sealed = null;
  go('cast');
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

async function auditBallot() {
  const { ballot, secrets } = S.sealed;
  const audited = auditedBallotJson(ballot, secrets);
  const content = revealed(ballot, secrets);
  const match = content.every((row, qi) => row.every((m, o) => m === S.selections[qi][o]));
  try {
    const json = await busy('sealed.auditing', () => S.api.audit(S.token, audited));
    const receipt = checkedReceipt(json, ballot);
    S.audited = { ballot, revealed: content.map((row) => row.map((m) => Math.max(m, 0))), match, receipt, json: audited };
  } catch (exc) {
    S.error = { field: 'sealed', ...failureMessage(exc) };
    render();
    return;
  }
  S.sealed = null; // its randomness is public now: it can never be cast
  go('audited');
}

function voteAgain() {
  S.attempted = false;
  S.check = null;
  go('ballot');
}

async function runCheck() {
  const code = S.drafts.check.trim().toUpperCase();
  if (!code) return;
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
      if (S.receipt && S.receipt.trackingCode === code && !bytesEqual(ballot.ballotHash(), S.receipt.ballotHash)) {
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
  S.check = { steps, failure };
  render({ focus: false });
  frame.main.querySelector('[data-testid="check-verdict"]')?.focus();
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

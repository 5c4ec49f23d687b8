// The driver of the cast state machine (caststate.js): it feeds the machine
// events, performs the effects it asks for (send, look up, wait, persist,
// audit) and shows the screen of each phase.  Also sealing (encrypt, prove,
// sign) and the audit, whose verdict checks.auditVerdict gives.

import { ApiError, NetworkError } from './api.js';
import { encryptBallot } from './ballot.js';
import { FINAL_REFUSALS, canAudit, step as castStep, validRecord } from './caststate.js';
import { auditVerdict, ballotHashOf, castScreen, checkedReceipt, firstBreach, lookedUpReceipt } from './checks.js';
import { fromUtf8 } from './encoding.js';
import { EvoteError } from './errors.js';
import { systemRng } from './group.js';
import { t } from './i18n.js';
import { busy, failure, frame, go, S } from './shell.js';

const receiptFor = (json, trackingCode) => checkedReceipt(json, {
  trackingCode, boardKey: S.election.boardKey, electionId: S.electionId,
});

// --- what survives a reload (sessionStorage) -----------------------------------

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

// --- the machine ------------------------------------------------------------------

/** Feed one event to the cast machine, perform its effects, show the screen of its phase. */
export function dispatch(event) {
  const before = S.cast;
  const { state, effects } = castStep(S.cast, event);
  S.cast = state;
  for (const effect of effects) perform(effect);
  if (state === before) return;
  // Focus moves only when the screen really changes.
  const screen = castScreen(state);
  if (state.phase === 'cast') {
    S.receipt = { ...state.receipt, json: state.receipt.json, ballotHash: ballotHashOf(state.bytes ?? before.bytes, S.election.manifest) };
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

export function unknownStatusKey() {
  return S.cast.phase === 'sending' || S.cast.looking ? 'unknown.looking' : 'unknown.waiting';
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
    receipt = receiptFor(json, code);
  } catch (exc) {
    if (!(exc instanceof EvoteError)) throw exc;
    return dispatch({ type: 'LOST', seq }); // an answer that does not check out proves nothing: look it up
  }
  return dispatch({ type: 'ANSWER', seq, receipt });
}

/** Look the tracking code up on the board (api.md §5.2), checked by checks.lookedUpReceipt. */
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
    const receipt = lookedUpReceipt(answer, {
      trackingCode: code, sentBytes: S.cast.bytes, boardKey: S.election.boardKey, electionId: S.electionId,
    });
    return dispatch({ type: 'FOUND', seq, receipt });
  } catch (exc) {
    if (!(exc instanceof EvoteError) && !(exc instanceof TypeError)) throw exc;
    return dispatch({ type: 'LOOKUP_LOST', seq });
  }
}

/** After a reload: finish the cast that was in doubt, or show the receipt it got. */
export function resumeCast() {
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
      receipt = receiptFor(record.receipt, record.code);
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

// --- the voter's actions -----------------------------------------------------------

export async function seal() {
  // The review is reached only through the ballot's rules, but a restored or
  // altered state could skip them: a ranking with a repeat or a gap (or any
  // other breach) goes back to the ballot, with its messages, not into a ballot.
  if (firstBreach(S.election.manifest, S.selections) !== null) {
    S.attempted = true;
    go('ballot');
    return;
  }
  const sealed = await busy('review.encrypting', () => encryptBallot(S.election.ctx, S.seed, S.selections, systemRng));
  sealBallot(sealed);
}

export async function sealAgain() {
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

export function castBallot() {
  if (S.cast.phase !== 'sealed') return;
  S.sealed = { ballot: S.sealed.ballot }; // the randomness goes with this step (caststate drops it)
  dispatch({ type: 'CAST' });
}

export function checkNow() {
  if (S.cast.phase === 'unknown' && !S.cast.looking) dispatch({ type: 'TICK', seq: S.cast.seq });
}

export function auditBallot() {
  if (!canAudit(S.cast)) return; // a ballot that was sent is never opened
  dispatch({ type: 'AUDIT' });
}

async function postAudit({ seq, secrets }) {
  const { ballot } = S.sealed;
  const { json: audited, content, match } = auditVerdict(S.election.ctx, ballot, secrets, S.selections);
  try {
    const json = await busy('sealed.auditing', () => S.api.audit(S.token, audited));
    const receipt = receiptFor(json, ballot.trackingCode);
    S.audited = { ballot, revealed: content, match, receipt, json: audited };
  } catch (exc) {
    if (!(exc instanceof ApiError || exc instanceof NetworkError || exc instanceof EvoteError)) throw exc;
    dispatch({ type: 'AUDIT_FAILED', seq });
    S.sealed = null; // its randomness may have reached the server: it can never be cast
    S.error = { field: 'audit', ...failure(exc) };
    go('audit_failed');
    return;
  }
  dispatch({ type: 'AUDITED', seq });
  S.sealed = null; // its randomness is public now: it can never be cast
  go('audited');
}

export function voteAgain() {
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

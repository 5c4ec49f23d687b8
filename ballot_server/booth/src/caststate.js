// The booth's cast state machine: pure, no DOM, no network, no clock.
//
// Why a machine of its own: the network between a phone and the board loses
// answers.  A ballot whose answer was lost may or may not be on the board, and
// the two wrong reactions are both dangerous: a fresh encryption of the same
// choices would be a second ballot, and auditing it would publish the
// randomness of a ballot that may be counted (ballot secrecy gone).  So the
// outcome-unknown state is explicit here, and the rules that keep the voter
// safe are transitions that anyone can read and a test can drive:
//
// * a ballot's randomness (`secrets`) exists only in `sealed`, the state of a
//   ballot that never left the device; CAST drops it in the same step that
//   produces the send, and no later state has it;
// * AUDIT is accepted only in `sealed`; once AUDIT is accepted the ballot can
//   never be cast (its randomness went to the server);
// * every send of a ballot carries the bytes of its first send;
// * after a lost answer the machine looks the tracking code up on the board and
//   resends the same bytes with back-off, until one of them yields a receipt,
//   or the server refused the ballot for sure and it is not on the board
//   (`refused`: nothing was cast; the voter may encrypt and cast again);
// * 409 duplicate_ciphertext means "it may already be there": look it up;
// * what survives a reload (`persisted`) is the sent ballot's bytes and
//   tracking code, or the receipt; never the secrets, never the login.
//
// `step(state, event)` returns `{ state, effects }`.  The driver (main.js)
// performs the effects and feeds their outcome back as events tagged with the
// `seq` of the effect, so a late answer of an abandoned request is ignored.
//
// Effects: {type: 'send', seq, bytes} · {type: 'lookup', seq, code} ·
// {type: 'wait', seq, ms} · {type: 'audit', seq, ballot, secrets} ·
// {type: 'persist', record} · {type: 'forget'}.

export const PHASES = Object.freeze([
  'idle', // no ballot encrypted yet (the voter may be marking)
  'sealed', // encrypted and signed here, never sent: cast or audit
  'auditing', // audit posted (answer pending); this ballot is burnt
  'sending', // a cast of `bytes` is in flight
  'unknown', // an answer was lost: looking up / waiting to resend the same bytes
  'need_login', // not on the board, and the login is needed to resend (after a reload)
  'cast', // a receipt checked by the driver
  'refused', // the server refused it for sure and it is not on the board
]);

/** Server refusals after which the same bytes will never be accepted (api.md §5). */
export const FINAL_REFUSALS = Object.freeze([
  'wrong_phase', 'binding', 'bad_credential', 'invalid_signature', 'invalid_proof',
  'invalid_ballot', 'bad_schema', 'bad_encoding', 'invalid_point', 'invalid_scalar', 'unauthenticated',
]);

export const BACKOFF_MS = Object.freeze([500, 1000, 2000, 4000, 8000, 15000]);

/** The wait before the attempt after `attempt` lost answers (1-based), capped. */
export const backoff = (attempt) => BACKOFF_MS[Math.min(Math.max(attempt, 1), BACKOFF_MS.length) - 1];

export const RECORD_VERSION = 1;

/** The state of a booth that has not encrypted anything. */
export function initial() {
  return Object.freeze({ phase: 'idle', seq: 0, hasToken: false });
}

const freeze = (s) => Object.freeze(s);
const same = (state) => ({ state, effects: [] });

/** What a lost-answer state keeps: enough to resend and to look up, nothing secret. */
function sentPart(state) {
  return { code: state.code, bytes: state.bytes, attempt: state.attempt, duplicate: Boolean(state.duplicate) };
}

function sentRecord(election, code, bytes) {
  return { v: RECORD_VERSION, kind: 'sent', election, code, bytes };
}

/**
 * One transition.  Events:
 * TOKEN {has} · SEAL {code, bytes, secrets} · CAST · AUDIT · AUDITED {seq} ·
 * AUDIT_FAILED {seq} · ANSWER {seq, receipt} · LOST {seq} · DUPLICATE {seq} ·
 * REFUSED {seq, code} · FOUND {seq, receipt} · MISSING {seq} · LOOKUP_LOST {seq} ·
 * TICK {seq} · RELOAD {record} · RESET.
 * `receipt` is whatever the driver checked (its `trackingCode` must match).
 */
export function step(state, event) {
  const seq = state.seq + 1;
  const stale = event.seq !== undefined && event.seq !== state.seq;
  switch (event.type) {
    case 'TOKEN': {
      const next = freeze({ ...state, hasToken: Boolean(event.has) });
      if (state.phase === 'need_login' && next.hasToken) {
        return {
          state: freeze({ ...next, phase: 'sending', seq, attempt: state.attempt + 1 }),
          effects: [{ type: 'send', seq, bytes: state.bytes }],
        };
      }
      return same(next);
    }
    case 'SEAL':
      // A new encryption replaces a never-sent one, or starts after a receipt,
      // an audit or a refusal; never while a sent ballot's fate is open.
      if (!['idle', 'sealed', 'cast', 'refused'].includes(state.phase)) return same(state);
      return same(freeze({
        phase: 'sealed', seq, hasToken: state.hasToken, election: event.election,
        code: event.code, bytes: event.bytes, secrets: event.secrets,
      }));
    case 'AUDIT':
      if (state.phase !== 'sealed') return same(state);
      return {
        state: freeze({ phase: 'auditing', seq, hasToken: state.hasToken, election: state.election, code: state.code }),
        effects: [{ type: 'audit', seq, bytes: state.bytes, secrets: state.secrets }],
      };
    case 'AUDITED':
    case 'AUDIT_FAILED':
      // Either way the randomness was (or may have been) posted: the ballot is burnt.
      if (state.phase !== 'auditing' || stale) return same(state);
      return same(freeze({ phase: 'idle', seq, hasToken: state.hasToken, audited: event.type === 'AUDITED' }));
    case 'CAST':
      if (state.phase !== 'sealed' || !state.hasToken) return same(state);
      return {
        state: freeze({
          phase: 'sending', seq, hasToken: true, election: state.election,
          code: state.code, bytes: state.bytes, attempt: 1,
        }),
        effects: [
          { type: 'persist', record: sentRecord(state.election, state.code, state.bytes) },
          { type: 'send', seq, bytes: state.bytes },
        ],
      };
    case 'ANSWER':
    case 'FOUND': {
      const from = event.type === 'ANSWER' ? 'sending' : 'unknown';
      if (state.phase !== from || stale || (from === 'unknown' && !state.looking)) return same(state);
      if (!event.receipt || event.receipt.trackingCode !== state.code) return same(state);
      return {
        state: freeze({ phase: 'cast', seq, hasToken: state.hasToken, election: state.election, code: state.code, receipt: event.receipt }),
        effects: [{ type: 'persist', record: { v: RECORD_VERSION, kind: 'cast', election: state.election, code: state.code, receipt: event.receipt.json } }],
      };
    }
    case 'LOST':
      if (state.phase !== 'sending' || stale) return same(state);
      return {
        state: freeze({ phase: 'unknown', seq, hasToken: state.hasToken, election: state.election, ...sentPart(state), looking: false, refusal: null }),
        effects: [{ type: 'wait', seq, ms: backoff(state.attempt) }],
      };
    case 'DUPLICATE':
    case 'REFUSED': {
      if (state.phase !== 'sending' || stale) return same(state);
      // A final refusal of a first send means it is not there; but an earlier
      // send may have landed (and a resend after closing is refused), so look first.
      const refusal = event.type === 'REFUSED' ? (event.code || 'refused') : null;
      // After a duplicate the same bytes are refused again (an idempotent
      // server answers our own resend with 200): from now on only look.
      const duplicate = event.type === 'DUPLICATE' || Boolean(state.duplicate);
      return {
        state: freeze({ phase: 'unknown', seq, hasToken: state.hasToken, election: state.election, ...sentPart(state), looking: true, refusal, duplicate }),
        effects: [{ type: 'lookup', seq, code: state.code }],
      };
    }
    case 'TICK':
      if (state.phase !== 'unknown' || state.looking || stale) return same(state);
      return {
        state: freeze({ ...state, seq, looking: true }),
        effects: [{ type: 'lookup', seq, code: state.code }],
      };
    case 'MISSING':
      if (state.phase !== 'unknown' || !state.looking || stale) return same(state);
      if (state.refusal !== null) {
        return {
          state: freeze({ phase: 'refused', seq, hasToken: state.hasToken, refusal: state.refusal }),
          effects: [{ type: 'forget' }],
        };
      }
      if (state.duplicate) {
        return {
          state: freeze({ ...state, seq, looking: false, attempt: state.attempt + 1 }),
          effects: [{ type: 'wait', seq, ms: backoff(state.attempt + 1) }],
        };
      }
      if (!state.hasToken) {
        return same(freeze({ phase: 'need_login', seq, hasToken: false, election: state.election, ...sentPart(state) }));
      }
      return {
        state: freeze({ phase: 'sending', seq, hasToken: true, election: state.election, code: state.code, bytes: state.bytes, attempt: state.attempt + 1 }),
        effects: [{ type: 'send', seq, bytes: state.bytes }],
      };
    case 'LOOKUP_LOST':
      if (state.phase !== 'unknown' || !state.looking || stale) return same(state);
      // The board cannot be asked: resending the same bytes is as good a
      // question (the server answers its own ballot with its receipt).
      if (state.hasToken && !state.duplicate && state.refusal === null) {
        return {
          state: freeze({ phase: 'sending', seq, hasToken: true, election: state.election, code: state.code, bytes: state.bytes, attempt: state.attempt + 1 }),
          effects: [{ type: 'send', seq, bytes: state.bytes }],
        };
      }
      return {
        state: freeze({ ...state, seq, looking: false, attempt: state.attempt + 1 }),
        effects: [{ type: 'wait', seq, ms: backoff(state.attempt + 1) }],
      };
    case 'RELOAD': {
      // A fresh page: nothing in memory, maybe a record from before the reload.
      const r = event.record;
      if (!validRecord(r)) return same(freeze({ phase: 'idle', seq, hasToken: false }));
      if (r.kind === 'cast') {
        return same(freeze({ phase: 'cast', seq, hasToken: false, election: r.election, code: r.code, receipt: event.receipt ?? null, restored: true }));
      }
      return {
        state: freeze({ phase: 'unknown', seq, hasToken: false, election: r.election, code: r.code, bytes: r.bytes, attempt: 1, looking: true, refusal: null }),
        effects: [{ type: 'lookup', seq, code: r.code }],
      };
    }
    case 'RESET':
      // "Vote again" or "start over": allowed only when no sent ballot is in doubt.
      if (!['idle', 'sealed', 'cast', 'refused'].includes(state.phase)) return same(state);
      return { state: freeze({ phase: 'idle', seq, hasToken: state.hasToken }), effects: [{ type: 'forget' }] };
    default:
      throw new RangeError(`unknown cast event ${event.type}`);
  }
}

/** Whether `r` is a record this version wrote (anything else is ignored, not trusted). */
export function validRecord(r) {
  if (r === null || typeof r !== 'object' || r.v !== RECORD_VERSION) return false;
  if (typeof r.election !== 'string' || typeof r.code !== 'string') return false;
  if (r.kind === 'sent') return typeof r.bytes === 'string' && r.bytes.length > 0;
  if (r.kind === 'cast') return r.receipt !== null && typeof r.receipt === 'object';
  return false;
}

/** Whether leaving the page now would lose something (unsent marks are the driver's to add). */
export const inDoubt = (state) => ['sending', 'unknown', 'need_login', 'auditing'].includes(state.phase);

/** Whether the voter may still audit this ballot: it never left the device. */
export const canAudit = (state) => state.phase === 'sealed';

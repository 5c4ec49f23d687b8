// The cast state machine (src/caststate.js): every transition by name, then
// random sequences of send / timeout / answer / duplicate / refusal / lookup /
// reload / clicks (fast-check), with the safety rules checked after every step.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import fc from 'fast-check';

import {
  BACKOFF_MS, PHASES, backoff, canAudit, inDoubt, initial, step, validRecord,
} from '../src/caststate.js';

const SECRET = 'SECRET-RANDOMNESS';
const TOKEN = 'LOGIN-TOKEN';

const ballot = (n = 1) => ({ type: 'SEAL', election: 'e1', code: `CODE-${n}`, bytes: `{"ballot":${n}}`, secrets: { r: `${SECRET}-${n}` } });
const receiptFor = (code) => ({ trackingCode: code, json: { tracking_code: code } });

/** Run events from `state`; return the final state and every effect in order. */
function run(events, state = initial()) {
  const effects = [];
  for (const ev of events) {
    const out = step(state, typeof ev === 'function' ? ev(state) : ev);
    state = out.state;
    effects.push(...out.effects);
  }
  return { state, effects };
}

const cur = (type, extra = {}) => (s) => ({ type, seq: s.seq, ...extra });
const signedIn = { type: 'TOKEN', has: true };

test('the phases are the documented ones', () => {
  assert.deepEqual([...PHASES], ['idle', 'sealed', 'auditing', 'sending', 'unknown', 'need_login', 'cast', 'refused']);
  assert.equal(initial().phase, 'idle');
});

test('idle → sealed → sending → cast: the happy path persists the sent bytes first, then the receipt', () => {
  const { state, effects } = run([signedIn, ballot(), { type: 'CAST' }, cur('ANSWER', { receipt: receiptFor('CODE-1') })]);
  assert.equal(state.phase, 'cast');
  assert.deepEqual(effects.map((e) => e.type), ['persist', 'send', 'persist']);
  assert.deepEqual(effects[0].record, { v: 1, kind: 'sent', election: 'e1', code: 'CODE-1', bytes: '{"ballot":1}' });
  assert.equal(effects[1].bytes, '{"ballot":1}');
  assert.equal(effects[2].record.kind, 'cast');
  assert.equal(state.secrets, undefined);
});

test('CAST drops the randomness in the same step; no later state holds it', () => {
  const sealed = run([signedIn, ballot()]).state;
  assert.equal(sealed.secrets.r, `${SECRET}-1`);
  assert.ok(canAudit(sealed));
  const sending = step(sealed, { type: 'CAST' }).state;
  assert.equal(sending.phase, 'sending');
  assert.ok(!JSON.stringify(sending).includes(SECRET));
  assert.ok(!canAudit(sending));
});

test('CAST without a login, or outside sealed, does nothing', () => {
  assert.deepEqual(run([ballot(), { type: 'CAST' }]).state.phase, 'sealed');
  for (const phase of ['idle', 'cast', 'refused']) {
    const s = phase === 'idle' ? initial() : null;
    if (s) assert.deepEqual(step(s, { type: 'CAST' }).effects, []);
  }
});

test('AUDIT only from sealed; the audited ballot is burnt whatever the answer', () => {
  const sealed = run([signedIn, ballot()]).state;
  const auditing = step(sealed, { type: 'AUDIT' });
  assert.equal(auditing.state.phase, 'auditing');
  assert.deepEqual(auditing.effects.map((e) => e.type), ['audit']);
  assert.equal(step(auditing.state, { type: 'CAST' }).effects.length, 0, 'an audited ballot is never cast');
  for (const type of ['AUDITED', 'AUDIT_FAILED']) {
    const after = step(auditing.state, { type, seq: auditing.state.seq }).state;
    assert.equal(after.phase, 'idle');
    assert.equal(step(after, { type: 'CAST' }).effects.length, 0);
  }
  const sending = step(sealed, { type: 'CAST' }).state;
  for (const s of [sending, step(sending, { type: 'LOST', seq: sending.seq }).state]) {
    assert.deepEqual(step(s, { type: 'AUDIT' }), { state: s, effects: [] }, `no audit in ${s.phase}`);
  }
});

test('sending → unknown on a lost answer: wait, look up, resend the same bytes with back-off', () => {
  let { state, effects } = run([signedIn, ballot(), { type: 'CAST' }, cur('LOST')]);
  assert.equal(state.phase, 'unknown');
  assert.deepEqual(effects.at(-1), { type: 'wait', seq: state.seq, ms: BACKOFF_MS[0] });
  ({ state, effects } = run([cur('TICK')], state));
  assert.deepEqual(effects, [{ type: 'lookup', seq: state.seq, code: 'CODE-1' }]);
  ({ state, effects } = run([cur('MISSING')], state));
  assert.equal(state.phase, 'sending');
  assert.equal(state.attempt, 2);
  assert.deepEqual(effects, [{ type: 'send', seq: state.seq, bytes: '{"ballot":1}' }]);
  ({ state, effects } = run([cur('LOST')], state));
  assert.equal(effects[0].ms, BACKOFF_MS[1]);
  ({ state } = run([cur('TICK'), cur('FOUND', { receipt: receiptFor('CODE-1') })], state));
  assert.equal(state.phase, 'cast');
});

test('a lookup that is itself lost: resend the same bytes, or (no login, or after a duplicate) wait longer', () => {
  const resent = run([signedIn, ballot(), { type: 'CAST' }, cur('LOST'), cur('TICK'), cur('LOOKUP_LOST')]);
  assert.equal(resent.state.phase, 'sending');
  assert.deepEqual(resent.effects.at(-1), { type: 'send', seq: resent.state.seq, bytes: '{"ballot":1}' });
  const record = { v: 1, kind: 'sent', election: 'e1', code: 'CODE-1', bytes: '{"ballot":1}' };
  const { state, effects } = run([{ type: 'RELOAD', record }, cur('LOOKUP_LOST')]);
  assert.equal(state.phase, 'unknown');
  assert.equal(state.looking, false);
  assert.deepEqual(effects.at(-1), { type: 'wait', seq: state.seq, ms: BACKOFF_MS[1] });
  const dup = run([signedIn, ballot(), { type: 'CAST' }, cur('DUPLICATE'), cur('LOOKUP_LOST')]);
  assert.equal(dup.effects.at(-1).type, 'wait');
});

test('duplicate_ciphertext is "look it up", never a failure', () => {
  const { state, effects } = run([signedIn, ballot(), { type: 'CAST' }, cur('DUPLICATE')]);
  assert.equal(state.phase, 'unknown');
  assert.equal(state.refusal, null);
  assert.deepEqual(effects.at(-1), { type: 'lookup', seq: state.seq, code: 'CODE-1' });
  assert.equal(step(state, { type: 'FOUND', seq: state.seq, receipt: receiptFor('CODE-1') }).state.phase, 'cast');
  // not found yet (not committed, or a board that lies): keep looking with back-off, never resend
  const missing = step(state, { type: 'MISSING', seq: state.seq });
  assert.equal(missing.state.phase, 'unknown');
  assert.deepEqual(missing.effects, [{ type: 'wait', seq: missing.state.seq, ms: BACKOFF_MS[1] }]);
  const again = run([cur('TICK'), cur('MISSING'), cur('TICK'), cur('MISSING')], missing.state);
  assert.ok(again.effects.every((e) => e.type !== 'send'));
});

test('a final refusal is confirmed by a lookup: refused (not sent) only when it is not on the board', () => {
  const looked = run([signedIn, ballot(), { type: 'CAST' }, cur('REFUSED', { code: 'wrong_phase' })]);
  assert.equal(looked.state.phase, 'unknown');
  assert.equal(looked.effects.at(-1).type, 'lookup');
  const refused = run([cur('MISSING')], looked.state);
  assert.equal(refused.state.phase, 'refused');
  assert.equal(refused.state.refusal, 'wrong_phase');
  assert.deepEqual(refused.effects, [{ type: 'forget' }]);
  // a resend refused after closing, of a ballot that did land: the receipt
  assert.equal(run([cur('FOUND', { receipt: receiptFor('CODE-1') })], looked.state).state.phase, 'cast');
  // from refused, casting again works: a fresh encryption
  assert.equal(run([ballot(2), { type: 'CAST' }], refused.state).state.phase, 'sending');
});

test('a receipt for another tracking code is not accepted', () => {
  const { state } = run([signedIn, ballot(), { type: 'CAST' }, cur('ANSWER', { receipt: receiptFor('OTHER') })]);
  assert.equal(state.phase, 'sending');
});

test('stale answers (an abandoned request) are ignored', () => {
  const { state } = run([signedIn, ballot(), { type: 'CAST' }]);
  const old = state.seq;
  const lost = step(state, { type: 'LOST', seq: old }).state;
  for (const type of ['ANSWER', 'LOST', 'DUPLICATE', 'REFUSED', 'FOUND', 'MISSING', 'TICK', 'LOOKUP_LOST']) {
    assert.deepEqual(step(lost, { type, seq: old, receipt: receiptFor('CODE-1') }).effects, [], type);
    assert.equal(step(lost, { type, seq: old, receipt: receiptFor('CODE-1') }).state, lost, type);
  }
});

test('double and quadruple clicks send once', () => {
  const { effects } = run([signedIn, ballot(), { type: 'CAST' }, { type: 'CAST' }, { type: 'CAST' }, { type: 'CAST' }]);
  assert.equal(effects.filter((e) => e.type === 'send').length, 1);
});

test('reload: a sent record resumes into looking it up; missing → the login is asked, then the same bytes go', () => {
  const record = { v: 1, kind: 'sent', election: 'e1', code: 'CODE-1', bytes: '{"ballot":1}' };
  let { state, effects } = run([{ type: 'RELOAD', record }]);
  assert.equal(state.phase, 'unknown');
  assert.equal(state.hasToken, false);
  assert.deepEqual(effects, [{ type: 'lookup', seq: state.seq, code: 'CODE-1' }]);
  ({ state, effects } = run([cur('MISSING')], state));
  assert.equal(state.phase, 'need_login');
  assert.deepEqual(effects, []);
  ({ state, effects } = run([signedIn], state));
  assert.equal(state.phase, 'sending');
  assert.deepEqual(effects, [{ type: 'send', seq: state.seq, bytes: '{"ballot":1}' }]);
  // found at once after the reload
  const found = run([{ type: 'RELOAD', record }, cur('FOUND', { receipt: receiptFor('CODE-1') })]);
  assert.equal(found.state.phase, 'cast');
});

test('reload: a cast record shows the receipt; anything else starts afresh', () => {
  const r = { v: 1, kind: 'cast', election: 'e1', code: 'CODE-1', receipt: { x: 1 } };
  assert.equal(run([{ type: 'RELOAD', record: r, receipt: receiptFor('CODE-1') }]).state.phase, 'cast');
  for (const bad of [null, 7, {}, { ...r, v: 2 }, { ...r, kind: 'sealed' }, { v: 1, kind: 'sent', election: 'e1', code: 'C', bytes: '' }]) {
    assert.equal(validRecord(bad), false);
    assert.equal(run([{ type: 'RELOAD', record: bad }]).state.phase, 'idle');
  }
});

test('RESET and SEAL are refused while a sent ballot is in doubt', () => {
  for (const events of [
    [signedIn, ballot(), { type: 'CAST' }],
    [signedIn, ballot(), { type: 'CAST' }, cur('LOST')],
    [{ type: 'RELOAD', record: { v: 1, kind: 'sent', election: 'e1', code: 'C', bytes: 'b' } }, cur('MISSING')],
  ]) {
    const { state } = run(events);
    assert.ok(inDoubt(state));
    assert.equal(step(state, { type: 'RESET' }).state, state);
    assert.equal(step(state, ballot(9)).state, state);
  }
});

test('vote again after a receipt: RESET forgets the record, a new ballot can be sealed', () => {
  const { state, effects } = run([signedIn, ballot(), { type: 'CAST' }, cur('ANSWER', { receipt: receiptFor('CODE-1') }), { type: 'RESET' }, ballot(2)]);
  assert.equal(state.phase, 'sealed');
  assert.equal(state.code, 'CODE-2');
  assert.ok(effects.some((e) => e.type === 'forget'));
});

test('back-off grows and is capped', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 50].map(backoff), [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  assert.equal(backoff(0), 500);
});

test('unknown events are a bug', () => {
  assert.throws(() => step(initial(), { type: 'NOPE' }), RangeError);
});

// --- random sequences ----------------------------------------------------------------

// An event generator: network answers are tagged with the current seq most of
// the time and with a stale one otherwise; RELOAD replaces the machine by a
// fresh page that reads the simulated sessionStorage.
const EVENT = fc.oneof(
  { arbitrary: fc.constant({ type: 'TOKEN', has: true }), weight: 3 },
  { arbitrary: fc.constant({ type: 'TOKEN', has: false }), weight: 1 },
  { arbitrary: fc.integer({ min: 1, max: 3 }).map((n) => ballot(n)), weight: 3 },
  { arbitrary: fc.constant({ type: 'CAST' }), weight: 5 },
  { arbitrary: fc.constant({ type: 'AUDIT' }), weight: 2 },
  { arbitrary: fc.constantFrom('AUDITED', 'AUDIT_FAILED', 'LOST', 'DUPLICATE', 'MISSING', 'LOOKUP_LOST', 'TICK').map((type) => ({ type })), weight: 12 },
  { arbitrary: fc.constantFrom('wrong_phase', 'binding', 'unauthenticated').map((code) => ({ type: 'REFUSED', code })), weight: 1 },
  { arbitrary: fc.constantFrom('ANSWER', 'FOUND').map((type) => ({ type, rightCode: true })), weight: 3 },
  { arbitrary: fc.constantFrom('ANSWER', 'FOUND').map((type) => ({ type, rightCode: false })), weight: 1 },
  { arbitrary: fc.constant({ type: 'RELOAD' }), weight: 1 },
  { arbitrary: fc.constant({ type: 'RESET' }), weight: 1 },
);

function simulate(script) {
  let state = initial();
  let storage = null; // sessionStorage's record
  const sentBytes = new Map(); // code → the bytes of its first send
  const audited = new Set();
  const sentCodes = new Set();
  const trace = [];
  let sealed = 0;
  for (const { ev: raw, stale } of script) {
    let ev = { ...raw };
    if (ev.type === 'SEAL') {
      ev = ballot(++sealed); // every encryption has its own tracking code
    } else if (ev.type === 'RELOAD') {
      ev = { type: 'RELOAD', record: storage, receipt: storage?.kind === 'cast' ? receiptFor(storage.code) : undefined };
      state = initial();
    } else if (!['TOKEN', 'SEAL', 'CAST', 'AUDIT', 'RESET'].includes(ev.type)) {
      ev.seq = stale ? state.seq - 1 : state.seq;
      if (ev.type === 'ANSWER' || ev.type === 'FOUND') {
        ev.receipt = receiptFor(raw.rightCode ? state.code : 'SOMETHING-ELSE');
      }
    }
    const before = state;
    const out = step(state, ev);
    state = out.state;
    trace.push(`${before.phase} --${ev.type}--> ${state.phase}`);
    const net = out.effects.filter((e) => ['send', 'lookup', 'wait', 'audit'].includes(e.type));
    assert.ok(net.length <= 1, 'at most one request or wait per step');
    for (const e of out.effects) {
      if (e.type === 'persist') storage = JSON.parse(JSON.stringify(e.record));
      if (e.type === 'forget') storage = null;
      if (e.type === 'send') {
        const code = state.code;
        if (!sentBytes.has(code)) sentBytes.set(code, e.bytes);
        assert.equal(e.bytes, sentBytes.get(code), 'a resend carries the first send\'s bytes');
        assert.ok(!audited.has(code), 'an audited ballot is never sent');
        assert.ok(state.hasToken, 'a send needs the login');
        assert.ok(!before.duplicate, 'no resend after duplicate_ciphertext');
        sentCodes.add(code);
      }
      if (e.type === 'audit') {
        assert.ok(!sentCodes.has(before.code), 'a sent ballot is never audited');
        audited.add(before.code);
      }
      if (e.type === 'send' || e.type === 'persist') {
        assert.ok(!JSON.stringify(e).includes(SECRET), 'no randomness in a send or the storage');
        assert.ok(!JSON.stringify(e).includes(TOKEN), 'no login in the storage');
      }
    }
    // Only a never-sent ballot has its randomness.
    if (state.secrets !== undefined) {
      assert.equal(state.phase, 'sealed');
      assert.ok(!sentCodes.has(state.code));
    }
    if (state.phase !== 'sealed') assert.ok(!JSON.stringify(state).includes(SECRET), trace.join('\n'));
    // A receipt only for the ballot that was sent.
    if (state.phase === 'cast' && before.phase !== 'cast') {
      assert.equal(state.receipt.trackingCode, state.code);
      assert.ok(sentCodes.has(state.code) || ev.type === 'RELOAD' || sentBytes.size === 0 || storage !== null);
    }
    // A ballot in doubt is left only for a receipt or a confirmed refusal.
    if (inDoubt(before) && before.phase !== 'auditing' && !inDoubt(state) && ev.type !== 'RELOAD') {
      assert.ok(['cast', 'refused'].includes(state.phase), trace.join('\n'));
      if (state.phase === 'refused') assert.equal(ev.type, 'MISSING');
    }
    // While a sent ballot is in doubt the storage holds it (so a reload can finish it).
    if (['sending', 'unknown', 'need_login'].includes(state.phase)) {
      assert.equal(storage?.kind, 'sent', trace.join('\n'));
      assert.equal(storage.code, state.code);
      assert.equal(storage.bytes, sentBytes.get(state.code) ?? storage.bytes);
    }
    assert.ok(PHASES.includes(state.phase));
  }
  return trace;
}

test('random sequences of send / timeout / answer / reload keep every safety rule', () => {
  const seen = new Set();
  fc.assert(
    fc.property(fc.array(fc.record({ ev: EVENT, stale: fc.integer({ min: 0, max: 4 }).map((n) => n === 0) }), { minLength: 10, maxLength: 80 }), (script) => {
      for (const line of simulate(script)) seen.add(line);
    }),
    { numRuns: 2000, seed: 1313 },
  );
  // The random walk really went through the states that matter.
  for (const edge of [
    'sealed --CAST--> sending', 'sending --LOST--> unknown', 'unknown --TICK--> unknown',
    'unknown --MISSING--> sending', 'unknown --MISSING--> need_login', 'unknown --LOOKUP_LOST--> sending',
    'unknown --LOOKUP_LOST--> unknown', 'need_login --TOKEN--> sending',
    'sending --ANSWER--> cast', 'unknown --FOUND--> cast', 'sending --DUPLICATE--> unknown',
    'unknown --MISSING--> refused', 'sealed --AUDIT--> auditing', 'auditing --AUDITED--> idle',
    'idle --RELOAD--> unknown', 'idle --RELOAD--> cast', 'cast --RESET--> idle',
  ]) {
    assert.ok(seen.has(edge), `never walked ${edge}`);
  }
});

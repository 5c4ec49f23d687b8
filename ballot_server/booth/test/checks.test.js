// The booth's pure decisions (src/checks.js, src/messages.js, src/state.js),
// fed real artefacts: the ballot vector of tests/vectors/ballot.json, a small
// board built and signed here (RFC 9162 tree, signed tree head, receipts),
// and the checkpoint of docs/witness.md.  Each honest case has tampered
// twins that must fail with the exact reason the booth shows.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { ed25519 } from '@noble/curves/ed25519.js';

import { ApiError, NetworkError } from '../src/api.js';
import { Ballot, ElectionContext } from '../src/ballot.js';
import { initial as castInitial } from '../src/caststate.js';
import {
  auditVerdict, ballotHashOf, boothDigestVerdict, breach, castScreen, checkOnBoard, checkWitnessed, checkedReceipt,
  fingerprintGate, firstBreach, hasUnsentMarks, homeScreen, lookedUpReceipt,
} from '../src/checks.js';
import { b64encode, canonicalJson, fromUtf8, hexToBytes } from '../src/encoding.js';
import { EvoteError, InvalidSignature, MerkleError, RootMismatchError } from '../src/errors.js';
import { pointFromJson, scalarFromJson } from '../src/group.js';
import { TAG_RECEIPT, TAG_TREE_HEAD } from '../src/hashing.js';
import { Manifest } from '../src/manifest.js';
import { leafHash, nodeHash } from '../src/merkle.js';
import { API_ERRORS, checkReason, credentialError, failureMessage } from '../src/messages.js';
import { publicKeyOf, signTagged } from '../src/signing.js';
import { createState } from '../src/state.js';
import { witnessPolicyFromJson } from '../src/witness.js';
import { loadVector, REPO } from './helpers.js';

const v = loadVector('ballot.json');
const manifest = Manifest.fromJson(v.manifest);
const commitments = v.trustee_commitments.map((row) => row.map((c) => pointFromJson(c)));
const ctx = ElectionContext.build(manifest, pointFromJson(v.joint_key), commitments, hexToBytes(v.credentials_digest_hex));
const ELECTION = manifest.electionId;
const ballot = Ballot.fromJson(v.ballot, manifest);
const CODE = v.tracking_code;
const BOARD_SEED = new Uint8Array(32).fill(7);
const BOARD_KEY = publicKeyOf(BOARD_SEED);
const OTHER_SEED = new Uint8Array(32).fill(8);

const clone = (x) => structuredClone(x);

// --- the fingerprint gate ----------------------------------------------------------

const boothData = (over = {}) => ({
  manifest: clone(v.manifest),
  joint_key: v.joint_key,
  trustee_commitments: clone(v.trustee_commitments),
  credentials_digest: b64encode(hexToBytes(v.credentials_digest_hex)),
  fingerprint: b64encode(hexToBytes(v.fingerprint_hex)),
  board_key: b64encode(BOARD_KEY),
  phase: 'open',
  ...over,
});

test('the fingerprint gate lets the published election through, with its context', () => {
  const gate = fingerprintGate(boothData(), ELECTION);
  assert.equal(gate.verdict, 'ok');
  assert.equal(b64encode(gate.election.fingerprint), b64encode(hexToBytes(v.fingerprint_hex)));
  assert.deepEqual(gate.election.boardKey, BOARD_KEY);
  assert.equal(gate.election.phase, 'open');
  assert.equal(gate.election.ctx.electionId, ELECTION);
});

test('the fingerprint gate refuses a changed manifest, key, commitment, credential list, fingerprint or election', () => {
  const flipped = hexToBytes(v.fingerprint_hex);
  flipped[0] ^= 1;
  const retitled = clone(v.manifest);
  retitled.questions[0].title = 'Choose someone else';
  const otherCommitments = clone(v.trustee_commitments);
  otherCommitments[0] = [otherCommitments[1][0], otherCommitments[0][1]];
  const otherDigest = hexToBytes(v.credentials_digest_hex);
  otherDigest[31] ^= 1;
  const cases = {
    fingerprint: { fingerprint: b64encode(flipped) },
    manifest: { manifest: retitled },
    joint_key: { joint_key: v.trustee_commitments[0][0] },
    commitments: { trustee_commitments: otherCommitments },
    credentials: { credentials_digest: b64encode(otherDigest) },
    unsigned_but_open: { fingerprint: null },
    malformed_key: { joint_key: 'not-a-point' },
    short_board_key: { board_key: b64encode(new Uint8Array(31)) },
  };
  for (const [name, over] of Object.entries(cases)) {
    assert.deepEqual(fingerprintGate(boothData(over), ELECTION), { verdict: 'fingerprint' }, name);
  }
  assert.deepEqual(fingerprintGate(boothData(), 'another-poll'), { verdict: 'fingerprint' });
});

test('an election set up but not opened is "not open yet", only for this page\'s election', () => {
  const gate = fingerprintGate(boothData({ fingerprint: null, phase: 'setup' }), ELECTION);
  assert.equal(gate.verdict, 'setup');
  assert.equal(gate.manifest.electionId, ELECTION);
  assert.deepEqual(fingerprintGate(boothData({ fingerprint: null, phase: 'setup' }), 'another-poll'), { verdict: 'fingerprint' });
});

test("the bundle's digest against the board's", () => {
  const own = new Uint8Array(32).fill(5);
  const other = new Uint8Array(32).fill(6);
  assert.equal(boothDigestVerdict(null, own), 'unpublished');
  assert.equal(boothDigestVerdict(undefined, null), 'unpublished');
  assert.equal(boothDigestVerdict(b64encode(own), own), 'match');
  assert.equal(boothDigestVerdict(b64encode(other), own), 'mismatch');
  assert.equal(boothDigestVerdict(b64encode(own), null), null);
  assert.throws(() => boothDigestVerdict(b64encode(own.slice(1)), own), EvoteError);
});

// --- a board built here ------------------------------------------------------------

/** RFC 9162 §2.1.1 tree hash, and §2.1.3.1 inclusion path, over leaf hashes. */
function treeHash(leaves) {
  if (leaves.length === 1) return leaves[0];
  const k = 2 ** Math.floor(Math.log2(leaves.length - 1));
  return nodeHash(treeHash(leaves.slice(0, k)), treeHash(leaves.slice(k)));
}

function inclusionPath(index, leaves) {
  if (leaves.length === 1) return [];
  const k = 2 ** Math.floor(Math.log2(leaves.length - 1));
  if (index < k) return [...inclusionPath(index, leaves.slice(0, k)), treeHash(leaves.slice(k))];
  return [...inclusionPath(index - k, leaves.slice(k)), treeHash(leaves.slice(0, k))];
}

function signedHead(size, root, seed = BOARD_SEED) {
  const head = { v: 1, election: ELECTION, size, root: b64encode(root), time: 1700000000 };
  return {
    head,
    signature: b64encode(signTagged(seed, TAG_TREE_HEAD, [canonicalJson(head)])),
    board_key: b64encode(publicKeyOf(seed)),
  };
}

/** A board of three entries, the vector ballot at index 1: its entries, tree head, and what the API returns. */
function board({ seed = BOARD_SEED, kind = 'ballot_cast', entryIndex = 1 } = {}) {
  const entries = [
    { index: 0, kind: 'election_opened', payload: { election: ELECTION } },
    { index: entryIndex, kind, payload: { ballot: clone(v.ballot) } },
    { index: 2, kind: 'election_closed', payload: {} },
  ];
  const leaves = entries.map((e) => leafHash(canonicalJson(e)));
  const sth = signedHead(entries.length, treeHash(leaves), seed);
  const proof = inclusionPath(1, leaves).map(b64encode);
  const statement = {
    v: 1, election: ELECTION, index: 1, tracking_code: CODE, entry_hash: b64encode(leaves[1]), tree_head: sth,
  };
  const receipt = { ...statement, inclusion_proof: proof, signature: b64encode(signTagged(seed, TAG_RECEIPT, [canonicalJson(statement)])) };
  const inclusion = { index: 1, entry_hash: b64encode(leaves[1]), tree_head: sth, proof };
  return { entries, leaves, sth, receipt, inclusion };
}

const who = { trackingCode: CODE, boardKey: BOARD_KEY, electionId: ELECTION };

test("a receipt is accepted only when the board signed it, for this ballot and election", () => {
  const b = board();
  const receipt = checkedReceipt(b.receipt, who);
  assert.equal(receipt.index, 1);
  assert.throws(() => checkedReceipt(b.receipt, { ...who, trackingCode: 'AAAA-BBBB-CCCC-DDDD' }), /another ballot/);
  assert.throws(() => checkedReceipt(b.receipt, { ...who, electionId: 'another-poll' }), /another ballot/);
  assert.throws(() => checkedReceipt(board({ seed: OTHER_SEED }).receipt, who), InvalidSignature);
  const moved = clone(b.receipt);
  moved.index = 2; // the board's signature covers the index
  assert.throws(() => checkedReceipt(moved, who), InvalidSignature);
});

test("a looked-up entry must be the very bytes this device sent", () => {
  const b = board();
  const sentBytes = fromUtf8(ballot.canonical());
  const answer = { entry: b.entries[1], receipt: b.receipt };
  assert.equal(lookedUpReceipt(answer, { ...who, sentBytes }).index, 1);
  const otherBytes = fromUtf8(canonicalJson({ ...v.ballot, election: 'x' }));
  assert.throws(() => lookedUpReceipt(answer, { ...who, sentBytes: otherBytes }), /not the ballot this device sent/);
  const swapped = { entry: b.entries[2], receipt: b.receipt };
  assert.throws(() => lookedUpReceipt(swapped, { ...who, sentBytes }), /not the ballot this device sent/);
  // Signed, included, the same ballot bytes, but not a cast (the board's own entry says so).
  const notCast = board({ kind: 'ballot_audited' });
  assert.throws(() => lookedUpReceipt({ entry: notCast.entries[1], receipt: notCast.receipt }, { ...who, sentBytes }), /not the ballot this device sent/);
  assert.throws(() => lookedUpReceipt({ entry: b.entries[1], receipt: null }, { ...who, sentBytes }), EvoteError);
});

test('the ballot hash of sent bytes, null for none or garbage', () => {
  assert.equal(b64encode(ballotHashOf(fromUtf8(ballot.canonical()), manifest)), b64encode(hexToBytes(v.ballot_hash_hex)));
  assert.equal(ballotHashOf(null, manifest), null);
  assert.equal(ballotHashOf('{"not": "a ballot"}', manifest), null);
});

// --- check my ballot ---------------------------------------------------------------

function fetcher(b, over = {}) {
  return {
    inclusion: async () => clone(b.inclusion),
    ballotEntry: async () => clone(b.entries[1]),
    cosigned: async () => { throw new ApiError(404, 'not_found', 'none'); },
    inclusionAt: async () => { throw new Error('not asked without witnesses'); },
    ...over,
  };
}

const heldReceipt = (b, ballotHash = ballot.ballotHash()) => ({ trackingCode: CODE, json: b.receipt, ballotHash });

const check = (b, { receipt = null, ...over } = {}) => checkOnBoard(CODE, {
  boardKey: BOARD_KEY, electionId: ELECTION, manifest, receipt, fetch: fetcher(b, over),
});

const stepKeys = (r) => r.steps.map((s) => s.key);

test('check my ballot: head, inclusion, entry and receipt all pass', async () => {
  const b = board();
  const r = await check(b, { receipt: heldReceipt(b) });
  assert.deepEqual({ failure: r.failure, error: r.error }, { failure: null, error: null });
  assert.deepEqual(stepKeys(r), ['check.step.head', 'check.step.inclusion', 'check.step.entry', 'check.step.receipt']);
  assert.deepEqual(r.steps[0].params, { size: 3 });
  // Without a receipt of this code (another device's ballot), no receipt step.
  assert.deepEqual(stepKeys(await check(b)), ['check.step.head', 'check.step.inclusion', 'check.step.entry']);
});

test('check my ballot: a tampered proof, head, entry or receipt fails with its reason', async () => {
  const b = board();
  const badPath = clone(b.inclusion);
  badPath.proof[0] = b64encode(new Uint8Array(32));
  let r = await check(b, { inclusion: async () => badPath });
  assert.deepEqual([r.failure, stepKeys(r)], ['check.reason.proof', ['check.step.head']]);

  const foreignHead = clone(b.inclusion);
  foreignHead.tree_head = board({ seed: OTHER_SEED }).sth;
  r = await check(b, { inclusion: async () => foreignHead });
  assert.deepEqual([r.failure, stepKeys(r)], ['check.reason.signature', []]);

  const resized = clone(b.inclusion);
  resized.tree_head.head.size = 4; // the signature covers the size
  r = await check(b, { inclusion: async () => resized });
  assert.equal(r.failure, 'check.reason.signature');

  const otherEntry = clone(b.entries[1]);
  otherEntry.index = 2;
  r = await check(b, { ballotEntry: async () => otherEntry });
  assert.deepEqual([r.failure, stepKeys(r)], ['check.reason.entry', ['check.step.head', 'check.step.inclusion']]);

  // The entry at position 1 of the tree that calls itself entry 7: hash and proof hold, the index does not.
  const misnumbered = board({ entryIndex: 7 });
  r = await check(misnumbered, {});
  assert.deepEqual([r.failure, stepKeys(r)], ['check.reason.entry', ['check.step.head', 'check.step.inclusion']]);

  // Asked for another code, the server answers with this ballot: its tracking code gives it away.
  r = await checkOnBoard('AAAA-BBBB-CCCC-DDDD', { boardKey: BOARD_KEY, electionId: ELECTION, manifest, receipt: null, fetch: fetcher(b) });
  assert.deepEqual([r.failure, stepKeys(r)], ['check.reason.entry', ['check.step.head', 'check.step.inclusion']]);

  const wrongHash = new Uint8Array(32).fill(1);
  r = await check(b, { receipt: heldReceipt(b, wrongHash) });
  assert.equal(r.failure, 'check.reason.entry');

  const forged = heldReceipt(b);
  forged.json = board({ seed: OTHER_SEED }).receipt;
  r = await check(b, { receipt: forged });
  assert.deepEqual([r.failure, stepKeys(r).at(-1)], ['check.reason.signature', 'check.step.entry']);

  const garbled = clone(b.inclusion);
  garbled.entry_hash = 'short';
  r = await check(b, { inclusion: async () => garbled });
  assert.equal(r.failure, 'check.reason.format');
});

test('check my ballot: an unknown code, and a connection lost half-way', async () => {
  const b = board();
  let r = await check(b, { inclusion: async () => { throw new ApiError(404, 'not_found', 'no such code'); } });
  assert.deepEqual([r.failure, r.error, r.steps], ['check.not_found', null, []]);
  const lost = new NetworkError('offline');
  r = await check(b, { ballotEntry: async () => { throw lost; } });
  assert.deepEqual([r.failure, r.error, stepKeys(r)], [null, lost, ['check.step.head', 'check.step.inclusion']]);
  const bug = new RangeError('a bug');
  await assert.rejects(check(b, { ballotEntry: async () => { throw bug; } }), RangeError);
});

// --- witnesses: the checkpoint of docs/witness.md (city-poll, size 5) -----------------

const DOC = readFileSync(join(REPO, 'docs', 'witness.md'), 'utf8');
const NOTE = DOC.match(/```\n(evote\/gTl3[^`]*?)```/)[1];
const DOC_BOARD = ed25519.getPublicKey(new Uint8Array(32).fill(2));
const WITNESS = ed25519.getPublicKey(new Uint8Array(32).fill(3));
const policy = witnessPolicyFromJson({ keys: [{ name: 'w1.witness.example/evote', key: b64encode(WITNESS) }], threshold: 1 });

const witnessed = (index, over = {}, steps = []) => checkWitnessed('CODE', {
  boardKey: DOC_BOARD, electionId: 'city-poll', policy, index, entryHash: new Uint8Array(32), fetch: {
    cosigned: async () => ({ checkpoint: NOTE }),
    inclusionAt: async () => ({ index, proof: [] }),
    ...over,
  },
}, steps);

test('witnesses: not cosigned yet is pending; a malformed or other answer is not', async () => {
  assert.equal(await witnessed(0, { cosigned: async () => { throw new ApiError(404, 'not_found', 'none'); } }), 'check.reason.not_witnessed');
  assert.equal(await witnessed(5), 'check.reason.not_witnessed'); // the checkpoint covers entries 0..4
  assert.equal(await witnessed(0, { cosigned: async () => ({ checkpoint: 5 }) }), 'check.reason.format');
  assert.equal(await witnessed(0, { cosigned: async () => null }), 'check.reason.format');
  assert.equal(await witnessed(3, { inclusionAt: async () => ({ index: 2, proof: [] }) }), 'check.reason.entry');
  assert.equal(await witnessed(3, { inclusionAt: async () => ({ index: 3, proof: 'x' }) }), 'check.reason.entry');
  await assert.rejects(witnessed(0, { cosigned: async () => { throw new ApiError(500, 'internal', 'down'); } }), ApiError);
});

test('witnesses: a proof that does not lead to the cosigned root, or another board, throws', async () => {
  const steps = [];
  const proof = [b64encode(new Uint8Array(32)), b64encode(new Uint8Array(32)), b64encode(new Uint8Array(32))];
  await assert.rejects(witnessed(3, { inclusionAt: async () => ({ index: 3, proof }) }, steps), RootMismatchError);
  await assert.rejects(witnessed(3, { inclusionAt: async () => ({ index: 3, proof: [] }) }, steps), MerkleError);
  await assert.rejects(checkWitnessed('CODE', {
    boardKey: BOARD_KEY, electionId: 'city-poll', policy, index: 3, entryHash: new Uint8Array(32),
    fetch: { cosigned: async () => ({ checkpoint: NOTE }), inclusionAt: async () => ({ index: 3, proof }) },
  }, steps), InvalidSignature);
  assert.deepEqual(steps, []);
  assert.equal(checkReason(new RootMismatchError('x')), 'check.reason.proof');
  assert.equal(checkReason(new InvalidSignature('x')), 'check.reason.signature');
});

// --- cast or audit: verifyAudit -----------------------------------------------------

const secretsOf = (audited) => ({
  selections: audited.selections,
  randomness: audited.randomness.map((row) => row.map((r) => scalarFromJson(r))),
});

test('an honest audit shows what the encryption holds, and that it is what the voter chose', () => {
  const verdict = auditVerdict(ctx, ballot, secretsOf(v.audited), v.selections);
  assert.deepEqual(verdict.content, v.selections);
  assert.equal(verdict.match, true);
  assert.deepEqual(verdict.json, v.audited);
  // The same honest ballot against other marks on screen: proven content, no match.
  const shown = clone(v.selections);
  shown[0] = [1, 0, 0];
  const other = auditVerdict(ctx, ballot, secretsOf(v.audited), shown);
  assert.deepEqual([other.content, other.match], [v.selections, false]);
});

test('a lying booth is caught: claimed choices or randomness that do not re-encrypt give no content and no match', () => {
  // It encrypted [0,1,0] for question 0 and claims the voter's [1,0,0].
  const lie = clone(v.audited);
  lie.selections[0] = [1, 0, 0];
  const shown = clone(v.selections);
  shown[0] = [1, 0, 0];
  assert.deepEqual(auditVerdict(ctx, ballot, secretsOf(lie), shown).content, null);
  assert.equal(auditVerdict(ctx, ballot, secretsOf(lie), shown).match, false);
  const wrongRandomness = clone(v.audited);
  [wrongRandomness.randomness[0][0], wrongRandomness.randomness[0][1]] = [wrongRandomness.randomness[0][1], wrongRandomness.randomness[0][0]];
  const swapped = auditVerdict(ctx, ballot, secretsOf(wrongRandomness), v.selections);
  assert.deepEqual([swapped.content, swapped.match], [null, false]);
  // A ballot whose signature no longer holds fails verifyAudit too.
  const doc = clone(v.ballot);
  doc.signature = b64encode(new Uint8Array(64));
  const unsigned = Ballot.fromJson(doc, manifest);
  assert.equal(auditVerdict(ctx, unsigned, secretsOf(v.audited), v.selections).match, false);
});

// --- rules and where the booth stands -----------------------------------------------

test('rule breaches: too many always, too few only once the voter pressed Review', () => {
  const q = manifest.questions[0]; // choose exactly 1
  assert.equal(breach(q, [1, 1, 0], { final: false }).key, `q.error.too_many.${q.kind}`);
  assert.equal(breach(q, [0, 0, 0], { final: false }), null);
  assert.deepEqual(breach(q, [0, 0, 0], { final: true }), { key: `q.error.too_few.${q.kind}`, params: { total: 0, min: q.min } });
  assert.equal(firstBreach(manifest, v.selections), null);
  const bad = clone(v.selections);
  bad[1] = bad[1].map(() => 9);
  assert.equal(firstBreach(manifest, bad), 1);
});

test('home screens, unsent marks, and the screen of each cast phase', () => {
  assert.deepEqual(['open', 'closed', 'tallied', 'setup'].map(homeScreen), ['login', 'closed', 'tallied', 'notopen']);
  const idle = castInitial();
  const blank = [[0, 0], [0]];
  const marked = [[0, 1], [0]];
  assert.equal(hasUnsentMarks({ screen: 'ballot', backTo: null, cast: idle, selections: blank }), false);
  assert.equal(hasUnsentMarks({ screen: 'ballot', backTo: null, cast: idle, selections: marked }), true);
  assert.equal(hasUnsentMarks({ screen: 'check', backTo: 'review', cast: idle, selections: marked }), true);
  assert.equal(hasUnsentMarks({ screen: 'check', backTo: 'cast', cast: idle, selections: marked }), false);
  assert.equal(hasUnsentMarks({ screen: 'cast', backTo: null, cast: idle, selections: marked }), false);
  assert.equal(hasUnsentMarks({ screen: 'sealed', backTo: null, cast: { phase: 'sealed' }, selections: blank }), true);
  assert.equal(castScreen({ phase: 'sending', attempt: 1 }), 'sending');
  assert.equal(castScreen({ phase: 'sending', attempt: 2 }), 'unknown');
  assert.equal(castScreen({ phase: 'refused' }), 'refused');
  assert.equal(castScreen({ phase: 'sealed' }), null);
  assert.equal(castScreen({ phase: 'idle' }), null);
});

// --- messages -----------------------------------------------------------------------

test('error codes map to their catalogue keys; a bug is thrown again', () => {
  const t = (key) => `<${key}>`;
  assert.deepEqual(failureMessage(new NetworkError('x'), t), { key: 'error.network' });
  for (const [code, key] of Object.entries(API_ERRORS)) assert.deepEqual(failureMessage(new ApiError(400, code, code), t), { key });
  assert.deepEqual(failureMessage(new ApiError(409, 'wrong_phase', 'x'), t), { key: 'error.not_open', params: { phase: '<phase.closed>' } });
  assert.deepEqual(failureMessage(new ApiError(409, 'already_voted_elsewhere', 'x'), t), { key: 'error.server', params: { code: 'already_voted_elsewhere' } });
  assert.deepEqual(failureMessage(new InvalidSignature('x'), t), { key: 'error.server', params: { code: 'invalid_signature' } });
  assert.throws(() => failureMessage(new TypeError('bug'), t), TypeError);
  assert.deepEqual(credentialError({ detail: { reason: 'length', count: 3, expected: 52 } }), { key: 'cred.error.length', params: { n: 3, expected: 52 } });
  assert.deepEqual(credentialError({ detail: {} }), { key: 'cred.error.checksum' });
  // Every key named here exists in both catalogues.
  const catalogues = ['en', 'ru'].map((lang) => JSON.parse(readFileSync(join(REPO, 'ballot_server', 'static', 'i18n', `${lang}.json`), 'utf8')));
  const keys = [...Object.values(API_ERRORS), 'error.network', 'error.not_open', 'error.server', 'cred.error.length', 'cred.error.character', 'cred.error.checksum',
    'check.reason.signature', 'check.reason.proof', 'check.reason.witnesses', 'check.reason.format', 'check.reason.entry', 'check.reason.not_witnessed', 'check.not_found'];
  for (const cat of catalogues) for (const key of keys) assert.ok(key in cat, key);
});

// --- the state --------------------------------------------------------------------

test('the state is sealed: a field not declared in state.js cannot be set', () => {
  const S = createState({ electionId: 'e1' });
  S.screen = 'login';
  S.drafts.login = 'x';
  assert.throws(() => { S.undeclared = 1; }, TypeError);
  assert.throws(() => { S.drafts.other = 1; }, TypeError);
});

test('every S.field the booth assigns is declared in state.js', () => {
  const declared = new Set(Object.keys(createState({ electionId: 'e1' })));
  const dir = join(REPO, 'ballot_server', 'booth', 'src');
  const files = [...readdirSync(dir).filter((f) => f.endsWith('.js')), ...readdirSync(join(dir, 'screens')).map((f) => `screens/${f}`)];
  const assigned = new Set();
  for (const file of files) {
    for (const m of readFileSync(join(dir, file), 'utf8').matchAll(/\bS\.([A-Za-z_]\w*)\s*(?:=(?!=)|\+=|-=)/g)) assigned.add(m[1]);
  }
  assert.ok(assigned.has('fatal') && assigned.has('screen'), [...assigned].join(' '));
  for (const field of assigned) assert.ok(declared.has(field), `S.${field} is assigned but not declared in state.js`);
});

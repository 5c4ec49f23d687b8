// Ranked and graded questions (issue 16): the manifest's canonical form and
// the ballot are Python's byte for byte (tests/vectors/ballot_ranked.json,
// made by tools/ballot_vectors.py), and the booth's own rule for a
// well-formed ranking (ranking.js, checks.js breach) refuses what it must.
// Hostile and ill-formed input first.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  auditedBallotFromJson, auditedBallotJson, Ballot, ElectionContext, encryptBallot, verifyAudit, verifyBallot,
} from '../src/ballot.js';
import { breach, firstBreach } from '../src/checks.js';
import { seededRng } from '../src/drbg.js';
import { bytesToHex, hexToBytes } from '../src/encoding.js';
import { AuditMismatch, InvalidBallot, InvalidSignature, ManifestError } from '../src/errors.js';
import { pointFromJson, scalarToJson } from '../src/group.js';
import { Manifest } from '../src/manifest.js';
import { gradingProblem, rankedOrder, rankingProblem } from '../src/ranking.js';
import { loadVector } from './helpers.js';

const v = loadVector('ballot_ranked.json');

function context() {
  const manifest = Manifest.fromJson(v.manifest);
  const commitments = v.trustee_commitments.map((row) => row.map((c) => pointFromJson(c)));
  return ElectionContext.build(manifest, pointFromJson(v.joint_key), commitments, hexToBytes(v.credentials_digest_hex));
}

const withQuestion = (i, change) => {
  const doc = structuredClone(v.manifest);
  change(doc.questions[i], doc);
  return doc;
};

// --- the manifest: hostile and ill-formed first ---------------------------------------------

test('ill-formed ranked and graded questions are refused, naming the field', () => {
  const bad = [
    [withQuestion(0, (q) => { q.method = 'plurality'; }), /questions\[0\]\.method/],
    [withQuestion(0, (q) => { delete q.seats; }), /questions\[0\]\.seats: required for method stv/],
    [withQuestion(0, (q) => { q.seats = 4; }), /questions\[0\]\.seats: must be between 1 and 3/],
    [withQuestion(0, (q) => { q.seats = 0; }), /questions\[0\]\.seats/],
    [withQuestion(1, (q) => { q.seats = 1; }), /questions\[1\]\.seats: only for method stv/],
    [withQuestion(1, (q) => { q.min = 0; }), /questions\[1\]: unknown field 'min'/],
    [withQuestion(1, (q) => { q.max_score = 3; }), /unknown field 'max_score'/],
    [withQuestion(1, (q) => { delete q.method; }), /missing field 'method'/],
    [withQuestion(1, (q) => { q.grades = v.manifest.questions[2].grades; }), /unknown field 'grades'/],
    [withQuestion(1, (q) => { q.options = Array.from({ length: 33 }, (_, i) => `c${i}`); }), /at most 32 options/],
    [withQuestion(2, (q) => { q.method = 'irv'; }), /questions\[2\]\.method: a grades question is counted by "majority_judgment"/],
    [withQuestion(2, (q) => { q.grades = ['Bad', 'Good']; }), /grades\[0\]: a grade name must be given in en and ru/],
    [withQuestion(2, (q) => { q.grades = [{ en: 'Bad' }, { en: 'Good', ru: 'Хорошо' }]; }), /grades\[0\]: missing the grade name in ru/],
    [withQuestion(2, (q) => { q.grades = [q.grades[0]]; }), /between 2 and 20 grades/],
    [withQuestion(2, (q) => { q.grades = Array.from({ length: 21 }, (_, i) => ({ en: `g${i}`, ru: `о${i}` })); }), /between 2 and 20 grades/],
    [withQuestion(2, (q) => { q.grades = [{ en: 'Good', ru: 'а' }, { en: ' good ', ru: 'б' }]; }), /duplicate grade/],
    [withQuestion(2, (q) => { delete q.grades; }), /missing field 'grades'/],
    [withQuestion(0, (q, doc) => { doc.mixers[1].index = 3; }), /numbered 1\.\.2 in order/],
    [withQuestion(0, (q, doc) => { doc.mixers[1].verify_key = doc.mixers[0].verify_key; }), /two mixers share a key/],
    [withQuestion(0, (q, doc) => { doc.mixers = []; }), /1\.\.64 mixers/],
    [withQuestion(0, (q, doc) => { doc.mixers[0].verify_key = 'AAAA'; }), /mixers\[0\]\.verify_key/],
    [withQuestion(0, (q, doc) => { doc.mixers[0].extra = 1; }), /unknown field 'extra'/],
    [withQuestion(0, (q, doc) => { doc.questions = [doc.questions[3]]; }), /mixers: only for an election with a ranked or grades question/],
  ];
  for (const [doc, message] of bad) {
    assert.throws(() => Manifest.fromJson(doc), (exc) => exc instanceof ManifestError && message.test(exc.message), String(message));
  }
});

test('a changed method, seat count, grade name or mixer changes the digest', () => {
  const digest = (doc) => bytesToHex(Manifest.fromJson(doc).digest());
  const base = digest(v.manifest);
  const variants = [
    withQuestion(0, (q) => { q.seats = 3; }),
    withQuestion(0, (q) => { q.method = 'schulze'; delete q.seats; }),
    withQuestion(2, (q) => { q.grades[1].ru = 'Сносно'; }),
    withQuestion(0, (q, doc) => { doc.mixers = doc.mixers.slice(0, 1); }),
  ];
  const digests = variants.map(digest);
  assert.equal(new Set([base, ...digests]).size, variants.length + 1);
});

// --- the canonical form and the ballot: Python's bytes ---------------------------------------

test('ranked and graded manifest: canonical form and digest match Python', () => {
  const manifest = Manifest.fromJson(v.manifest);
  assert.equal(bytesToHex(manifest.canonical()), v.manifest_canonical_hex);
  assert.equal(bytesToHex(manifest.digest()), v.manifest_digest_hex);
  const [council, mayor, plans] = manifest.questions;
  assert.deepEqual([council.maxScore, council.seats, council.needsSumProof], [4, 2, false]);
  assert.deepEqual([mayor.method, mayor.seats, mayor.maxScore], ['irv', null, 3]);
  assert.deepEqual([plans.method, plans.maxScore, plans.gradeLabel(2, 'ru')], ['majority_judgment', 3, 'Хорошо']);
  // An explicit "majority_judgment" or a null seats is the same manifest (Python's to_json omits both).
  const spelled = withQuestion(2, (q) => { q.method = 'majority_judgment'; });
  spelled.questions[1].seats = null;
  assert.equal(bytesToHex(Manifest.fromJson(spelled).digest()), v.manifest_digest_hex);
  assert.equal(bytesToHex(context().fingerprint), v.fingerprint_hex);
});

test('the ranked ballot is reproduced byte for byte, and Python\'s verifies here', () => {
  const ctx = context();
  const { ballot, secrets } = encryptBallot(ctx, hexToBytes(v.voter_seed_hex), v.selections, seededRng(hexToBytes(v.encrypt_seed_hex)));
  assert.deepEqual(secrets.randomness.map((row) => row.map(scalarToJson)), v.randomness);
  assert.equal(bytesToHex(ballot.contentForSignature()), v.ballot_content_hex);
  assert.deepEqual(ballot.toJson(), v.ballot);
  assert.equal(bytesToHex(ballot.ballotHash()), v.ballot_hash_hex);
  assert.equal(ballot.trackingCode, v.tracking_code);
  assert.deepEqual(auditedBallotJson(ballot, secrets), v.audited);
  verifyBallot(ctx, Ballot.fromJson(v.ballot, ctx.manifest));
  verifyAudit(ctx, auditedBallotFromJson(v.audited, ctx.manifest));
});

test('tampered ranked ballots and audits are caught', () => {
  const ctx = context();
  // A sum proof where the question has none: the shape is refused.
  const extra = structuredClone(v.ballot);
  extra.answers[0].sum_proof = extra.answers[0].proofs[0];
  assert.throws(() => Ballot.fromJson(extra, ctx.manifest), /unknown field 'sum_proof'/);
  // A proof of another width (a grade proof for a rank): refused at parse.
  const width = structuredClone(v.ballot);
  width.answers[0].proofs[0] = width.answers[2].proofs[0];
  assert.throws(() => Ballot.fromJson(width, ctx.manifest));
  // Two ranks swapped after signing: the signature breaks.
  const swapped = structuredClone(v.ballot);
  const row = swapped.answers[0].choices;
  [row[0], row[1]] = [row[1], row[0]];
  assert.throws(() => verifyBallot(ctx, Ballot.fromJson(swapped, ctx.manifest)), InvalidSignature);
  // An audit that claims another ranking: the re-encryption names the option.
  const lying = structuredClone(v.audited);
  lying.selections[0] = [1, 2, 3, 0];
  assert.throws(() => verifyAudit(ctx, auditedBallotFromJson(lying, ctx.manifest)),
    (exc) => exc instanceof AuditMismatch && exc.detail.question === 0 && exc.detail.option === 0);
  // A rank above k, or a grade above G-1, is not a selection at all.
  for (const [q, o, value] of [[0, 0, 5], [2, 1, 4], [1, 2, -1]]) {
    const sel = structuredClone(v.selections);
    sel[q][o] = value;
    assert.throws(() => encryptBallot(ctx, hexToBytes(v.voter_seed_hex), sel, seededRng(new Uint8Array(32))),
      (exc) => exc instanceof InvalidBallot && exc.detail.reason === 'value' && exc.detail.question === q);
  }
});

// --- the booth's own rule: each rank once, no gap ---------------------------------------------

test('rankingProblem: bad values, repeats and gaps, in that order', () => {
  assert.deepEqual(rankingProblem([1, 2], 3), { reason: 'value', option: null });
  assert.deepEqual(rankingProblem('12', 2), { reason: 'value', option: null });
  assert.deepEqual(rankingProblem([1, 4, 2], 3), { reason: 'value', option: 1 });
  assert.deepEqual(rankingProblem([1, 1.5, 2], 3), { reason: 'value', option: 1 });
  assert.deepEqual(rankingProblem([-1, 0, 0], 3), { reason: 'value', option: 0 });
  assert.deepEqual(rankingProblem([2, 1, 2], 3), { reason: 'repeat', rank: 2, options: [0, 2] });
  assert.deepEqual(rankingProblem([1, 1, 3], 3, { final: false }), { reason: 'repeat', rank: 1, options: [0, 1] });
  assert.deepEqual(rankingProblem([0, 2, 0], 3), { reason: 'gap', missing: 1, next: 2 });
  assert.deepEqual(rankingProblem([1, 3, 0], 3), { reason: 'gap', missing: 2, next: 3 });
  // Half-way (before Review) a gap is not yet a problem; a repeat already is.
  assert.equal(rankingProblem([0, 2, 0], 3, { final: false }), null);
  assert.equal(rankingProblem([0, 0, 0], 3), null); // blank, as a blank choice question
  assert.equal(rankingProblem([3, 1, 2], 3), null);
  assert.equal(rankingProblem([0, 1, 2], 3), null);
});

test('rankedOrder and gradingProblem', () => {
  assert.deepEqual(rankedOrder([2, 0, 1, 3]), [2, 0, 3]);
  assert.deepEqual(rankedOrder([0, 0]), []);
  assert.deepEqual(gradingProblem([0, 3, 1], 3, 4), null);
  assert.deepEqual(gradingProblem([0, 4, 1], 3, 4), { reason: 'value', option: 1 });
  assert.deepEqual(gradingProblem([0, 1], 3, 4), { reason: 'value', option: null });
});

test('breach gives ranked and graded questions their own rule, not the totals', () => {
  const m = Manifest.fromJson(v.manifest);
  const [council, , plans] = m.questions;
  assert.deepEqual(breach(council, [1, 1, 0, 0], { final: false }),
    { key: 'q.error.rank_repeat', params: { reason: 'repeat', rank: 1, options: [0, 1] } });
  assert.equal(breach(council, [0, 0, 2, 0], { final: false }), null);
  assert.equal(breach(council, [0, 0, 2, 0], { final: true }).key, 'q.error.rank_gap');
  assert.equal(breach(council, [4, 3, 2, 1], { final: true }), null);
  assert.equal(breach(plans, [3, 3, 3], { final: true }), null); // the "total" 9 is no limit
  assert.equal(breach(plans, [0, 4, 0], { final: true }).key, 'q.error.grade_value');
  assert.equal(firstBreach(m, v.selections), null);
  assert.equal(firstBreach(m, [[1, 2, 3, 0], [0, 2, 3], [0, 0, 0], [1, 0]]), 1);
});

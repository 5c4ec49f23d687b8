import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  auditedBallotFromJson, auditedBallotJson, Ballot, checkSelections, ElectionContext, encryptBallot,
  signBallot, verifyAudit, verifyBallot,
} from '../src/ballot.js';
import { seededRng } from '../src/drbg.js';
import { b64encode, bytesToHex, canonicalJson, hexToBytes, parseJson } from '../src/encoding.js';
import { AuditMismatch, InvalidBallot, InvalidProof, InvalidSignature } from '../src/errors.js';
import { pointFromJson, scalarToJson } from '../src/group.js';
import { Manifest } from '../src/manifest.js';
import { publicKeyOf } from '../src/signing.js';
import { loadVector } from './helpers.js';

const v = loadVector('ballot.json');

function context() {
  const manifest = Manifest.fromJson(v.manifest);
  const commitments = v.trustee_commitments.map((row) => row.map((c) => pointFromJson(c)));
  return ElectionContext.build(manifest, pointFromJson(v.joint_key), commitments, hexToBytes(v.credentials_digest_hex));
}

test('manifest canonical form and digest match Python', () => {
  const manifest = Manifest.fromJson(v.manifest);
  assert.equal(bytesToHex(manifest.canonical()), v.manifest_canonical_hex);
  assert.equal(bytesToHex(manifest.digest()), v.manifest_digest_hex);
});

test('fingerprint matches Python', () => {
  assert.equal(bytesToHex(context().fingerprint), v.fingerprint_hex);
});

test('the ballot is reproduced byte for byte, with its hash and tracking code', () => {
  const ctx = context();
  const seed = hexToBytes(v.voter_seed_hex);
  assert.equal(b64encode(publicKeyOf(seed)), v.voter_public);
  const { ballot, secrets } = encryptBallot(ctx, seed, v.selections, seededRng(hexToBytes(v.encrypt_seed_hex)));
  assert.deepEqual(secrets.randomness.map((row) => row.map(scalarToJson)), v.randomness);
  assert.equal(bytesToHex(ballot.contentForSignature()), v.ballot_content_hex);
  assert.deepEqual(ballot.toJson(), v.ballot);
  assert.equal(bytesToHex(ballot.canonical()), bytesToHex(canonicalJson(v.ballot)));
  assert.equal(bytesToHex(ballot.ballotHash()), v.ballot_hash_hex);
  assert.equal(ballot.trackingCode, v.tracking_code);
  assert.deepEqual(auditedBallotJson(ballot, secrets), v.audited);
});

test("Python's ballot and audit verify in JS", () => {
  const ctx = context();
  const ballot = Ballot.fromJson(v.ballot, ctx.manifest);
  verifyBallot(ctx, ballot);
  assert.equal(ballot.trackingCode, v.tracking_code);
  verifyAudit(ctx, auditedBallotFromJson(v.audited, ctx.manifest));
});

test('tampering is caught: signature, proofs, audit', () => {
  const ctx = context();
  const doc = structuredClone(v.ballot);
  // Swap two ciphertexts of question 0: the signature breaks first.
  [doc.answers[0].choices[0], doc.answers[0].choices[1]] = [doc.answers[0].choices[1], doc.answers[0].choices[0]];
  assert.throws(() => verifyBallot(ctx, Ballot.fromJson(doc, ctx.manifest)), InvalidSignature);
  // Lie in the audit: claim another choice.
  const audited = structuredClone(v.audited);
  audited.selections[0] = [1, 0, 0];
  assert.throws(() => verifyAudit(ctx, auditedBallotFromJson(audited, ctx.manifest)), AuditMismatch);
  // Re-sign a ballot under another credential: the proofs are bound to the credential.
  const other = hexToBytes(v.credential_codes[0].seed_hex);
  const { ballot } = encryptBallot(ctx, other, v.selections, seededRng(new Uint8Array([1])));
  const moved = parseJson(JSON.stringify(ballot.toJson()));
  moved.answers = v.ballot.answers;
  const forged = Ballot.fromJson(moved, ctx.manifest);
  assert.throws(() => verifyBallot(ctx, forged), InvalidSignature);
});

test('a ballot made with system randomness verifies', () => {
  const ctx = context();
  const seed = hexToBytes(v.voter_seed_hex);
  const rng = (n) => crypto.getRandomValues(new Uint8Array(n));
  const { ballot } = encryptBallot(ctx, seed, [[1, 0, 0], [0, 0, 0], [0, 1], [1, 1]], rng);
  verifyBallot(ctx, Ballot.fromJson(parseJson(JSON.stringify(ballot.toJson())), ctx.manifest));
});

test('selections outside the rules are refused before encryption', () => {
  const { manifest } = context();
  const cases = [
    [[[1, 1, 0], [0, 0, 0], [1, 0], [0, 0]], 'too_many', 0],
    [[[0, 0, 0], [0, 0, 0], [1, 0], [0, 0]], 'too_few', 0],
    [[[1, 0, 0], [1, 1, 1], [1, 0], [0, 0]], 'too_many', 1],
    [[[1, 0, 0], [0, 0, 0], [0, 0], [0, 0]], 'too_few', 2],
    [[[1, 0, 0], [0, 0, 0], [3, 0], [0, 0]], 'value', 2],
    [[[1, 0, 0], [0, 0, 0], [2, 2], [0, 0]], 'too_many', 2],
    [[[1, 0, 0], [0, 0], [1, 0], [0, 0]], 'shape', 1],
  ];
  for (const [sel, reason, q] of cases) {
    assert.throws(() => checkSelections(manifest, sel), (exc) => {
      assert.ok(exc instanceof InvalidBallot);
      assert.equal(exc.detail.reason, reason);
      assert.equal(exc.detail.question, q);
      return true;
    });
  }
});

test('a proof made for another question does not verify', () => {
  const ctx = context();
  const seed = hexToBytes(v.voter_seed_hex);
  const { ballot: fresh } = encryptBallot(ctx, seed, v.selections, seededRng(new Uint8Array([2])));
  const json = fresh.toJson();
  json.answers[0].proofs[0] = json.answers[0].proofs[1];
  const answers = Ballot.fromJson(json, ctx.manifest).answers;
  // re-sign honestly: the signature is valid, the proof is not
  const resigned = signBallot(ctx, seed, answers);
  assert.throws(() => verifyBallot(ctx, resigned), InvalidProof);
});

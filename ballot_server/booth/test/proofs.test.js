import assert from 'node:assert/strict';
import { test } from 'node:test';

import { seededRng } from '../src/drbg.js';
import { Ciphertext, encrypt } from '../src/elgamal.js';
import { hexToBytes } from '../src/encoding.js';
import { InvalidProof } from '../src/errors.js';
import { baseMul, pointFromJson, pointToJson, randomScalar, scalarFromJson, sAdd } from '../src/group.js';
import {
  proveDleq, proveRange, proveSchnorr, rangeProofFromJson, rangeProofToJson, schnorrProofFromJson,
  schnorrProofToJson, verifyDleq, verifyRange, verifySchnorr,
} from '../src/proofs.js';
import { loadVector } from './helpers.js';

const eg = loadVector('elgamal.json');
const pv = loadVector('proofs.json');

test('ElGamal encryptions match Python byte for byte', () => {
  const rng = seededRng(new TextEncoder().encode('vectors/elgamal'));
  const x = randomScalar(rng);
  const key = baseMul(x);
  assert.equal(pointToJson(key), eg.key);
  for (const c of eg.encryptions) {
    const r = randomScalar(rng);
    assert.equal(pointToJson(baseMul(r)), c.ciphertext.alpha);
    assert.deepEqual(encrypt(key, c.m, r).toJson(), c.ciphertext);
    assert.deepEqual(encrypt(key, c.m, scalarFromJson(c.r)).toJson(), c.ciphertext);
  }
});

test('proofs are reproduced byte for byte from the seeded stream', () => {
  const rng = seededRng(hexToBytes(pv.seed_hex));
  const ctx = pv.ctx_hex.map(hexToBytes);
  const x = randomScalar(rng);
  const key = baseMul(x);
  assert.equal(pointToJson(key), pv.key);
  assert.deepEqual(schnorrProofToJson(proveSchnorr(ctx, x, rng)), pv.schnorr.proof);
  const base = baseMul(randomScalar(rng));
  assert.equal(pointToJson(base), pv.dleq.base);
  const [d, dleq] = proveDleq(ctx, x, base, rng);
  assert.equal(pointToJson(d), pv.dleq.d);
  assert.deepEqual(schnorrProofToJson(dleq), pv.dleq.proof);
  for (const rc of pv.range) {
    const r = randomScalar(rng);
    const ct = encrypt(key, rc.m, r);
    assert.deepEqual(ct.toJson(), rc.ciphertext);
    assert.deepEqual(rangeProofToJson(proveRange(ctx, key, ct, rc.m, r, rc.lo, rc.hi, rng)), rc.proof);
  }
});

test('Python proofs verify in JS and tampered ones do not', () => {
  const ctx = pv.ctx_hex.map(hexToBytes);
  const key = pointFromJson(pv.key);
  verifySchnorr(ctx, key, schnorrProofFromJson(pv.schnorr.proof));
  const [c, s] = schnorrProofFromJson(pv.schnorr.proof);
  assert.throws(() => verifySchnorr(ctx, key, [c, sAdd(s, 1n)]), InvalidProof);
  const d = pointFromJson(pv.dleq.d);
  const base = pointFromJson(pv.dleq.base);
  verifyDleq(ctx, key, base, d, schnorrProofFromJson(pv.dleq.proof));
  assert.throws(() => verifyDleq(ctx, key, d, base, schnorrProofFromJson(pv.dleq.proof)), InvalidProof);
  for (const rc of pv.range) {
    const ct = Ciphertext.fromJson(rc.ciphertext);
    const proof = rangeProofFromJson(rc.proof);
    verifyRange(ctx, key, ct, rc.lo, rc.hi, proof);
    // another context (the strong Fiat–Shamir binding)
    assert.throws(() => verifyRange([...ctx, new Uint8Array([1])], key, ct, rc.lo, rc.hi, proof), InvalidProof);
    // another range of the same width
    assert.throws(() => verifyRange(ctx, key, ct, rc.lo + 1, rc.hi + 1, proof), InvalidProof);
    // a wrong number of branches
    assert.throws(() => verifyRange(ctx, key, ct, rc.lo, rc.hi + 1, proof), InvalidProof);
    // one flipped response
    const bad = proof.map(([cj, sj], j) => (j === 0 ? [cj, sAdd(sj, 1n)] : [cj, sj]));
    assert.throws(() => verifyRange(ctx, key, ct, rc.lo, rc.hi, bad), InvalidProof);
  }
});

test('a proof for a value outside the range cannot be made', () => {
  const rng = seededRng(new Uint8Array([7]));
  const key = baseMul(randomScalar(rng));
  const r = randomScalar(rng);
  const ct = encrypt(key, 2, r);
  assert.throws(() => proveRange([], key, ct, 2, r, 0, 1, rng), RangeError);
  // Lying about m: the proof is made but does not verify.
  const lie = proveRange([], key, ct, 1, r, 0, 1, rng);
  assert.throws(() => verifyRange([], key, ct, 0, 1, lie), InvalidProof);
});

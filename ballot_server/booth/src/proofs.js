// Non-interactive zero-knowledge proofs with strong Fiat–Shamir
// (docs/protocol.md §3.3–3.5), byte for byte as evote/proofs.py.  Hazmat:
// every proof is only as good as the context `ctx` (a list of byte fields)
// it is bound to.  Every verify* returns nothing or throws InvalidProof.
//
// The prover consumes its rng in exactly Python's order (w, then (c_j, s_j)
// for each simulated branch in index order), so a seeded rng reproduces the
// vectors in tests/vectors/proofs.json.

import { expectList } from './encoding.js';
import { InvalidProof, SchemaError } from './errors.js';
import {
  baseMul, G, mulPublic, mulSecret, pointToBytes, randomScalar, sAdd, scalarFromJson,
  scalarOfInt, scalarToJson, sMul, smallMultiple, sSub,
} from './group.js';
import { encInt, hashToScalar, TAG_DLEQ, TAG_RANGE, TAG_SCHNORR } from './hashing.js';

export const MAX_RANGE_WIDTH = 1024;

const pairFromJson = (obj, path) => {
  const pair = expectList(obj, path, 2);
  return [scalarFromJson(pair[0]), scalarFromJson(pair[1])];
};
const pairToJson = ([c, s]) => [scalarToJson(c), scalarToJson(s)];

// --- Schnorr ----------------------------------------------------------------

const schnorrChallenge = (ctx, pub, u) => hashToScalar(TAG_SCHNORR, ...ctx, pointToBytes(pub), pointToBytes(u));

/** Proof of knowledge of `secret` for secret·G: [c, s]. */
export function proveSchnorr(ctx, secret, rng) {
  const w = randomScalar(rng);
  const pub = baseMul(secret);
  const c = schnorrChallenge(ctx, pub, baseMul(w));
  return [c, sAdd(w, sMul(c, secret))];
}

export function verifySchnorr(ctx, pub, [c, s]) {
  const u = baseMul(s).subtract(mulPublic(pub, c));
  if (schnorrChallenge(ctx, pub, u) !== c) throw new InvalidProof('Schnorr proof does not verify');
}

// --- Chaum–Pedersen (DLEQ) --------------------------------------------------

const dleqChallenge = (ctx, x, a, d, u, v) =>
  hashToScalar(TAG_DLEQ, ...ctx, ...[x, a, d, u, v].map(pointToBytes));

/** D = secret·base with a proof that log_G(secret·G) = log_base(D): [D, [c, s]]. */
export function proveDleq(ctx, secret, base, rng) {
  const w = randomScalar(rng);
  const x = baseMul(secret);
  const d = mulSecret(base, secret);
  const c = dleqChallenge(ctx, x, base, d, baseMul(w), mulSecret(base, w));
  return [d, [c, sAdd(w, sMul(c, secret))]];
}

export function verifyDleq(ctx, x, base, d, [c, s]) {
  const u = baseMul(s).subtract(mulPublic(x, c));
  const v = mulPublic(base, s).subtract(mulPublic(d, c));
  if (dleqChallenge(ctx, x, base, d, u, v) !== c) {
    throw new InvalidProof('Chaum–Pedersen (DLEQ) proof does not verify');
  }
}

// --- Disjunctive range proof --------------------------------------------------

/** Proof JSON [[c_0, s_0], …]; `width` pins the number of branches. */
export function rangeProofFromJson(obj, path = 'proof', width = null) {
  const items = expectList(obj, path, width);
  if (items.length < 1 || items.length > MAX_RANGE_WIDTH) {
    throw new SchemaError(`${path}: range proof must have 1..${MAX_RANGE_WIDTH} branches`);
  }
  return items.map((item, i) => pairFromJson(item, `${path}[${i}]`));
}

export const rangeProofToJson = (branches) => branches.map(pairToJson);
export const schnorrProofToJson = pairToJson;
export const schnorrProofFromJson = (obj, path = 'proof') => pairFromJson(obj, path);

function checkRange(lo, hi) {
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || lo > hi || hi - lo + 1 > MAX_RANGE_WIDTH) {
    throw new RangeError(`invalid proof range [${lo}, ${hi}]`);
  }
}

/** beta − v·G for v = lo..hi, by repeated subtraction of G. */
function shiftedBetas(ct, lo, hi) {
  let cur = lo ? ct.beta.subtract(smallMultiple(lo)) : ct.beta;
  const out = [cur];
  for (let v = lo; v < hi; v++) {
    cur = cur.subtract(G);
    out.push(cur);
  }
  return out;
}

function rangeChallenge(ctx, key, ct, lo, hi, commitments) {
  return hashToScalar(
    TAG_RANGE, ...ctx, pointToBytes(key), pointToBytes(ct.alpha), pointToBytes(ct.beta),
    encInt(lo), encInt(hi), ...commitments,
  );
}

/**
 * Prove that ct = encrypt(key, m, r) encrypts a value in [lo, hi].  Every
 * branch but the true one is simulated with random (c_j, s_j).  The output
 * is the same as evote.proofs.prove_range's for the same rng; if ct is not
 * encrypt(key, m, r) the proof does not verify.
 */
export function proveRange(ctx, key, ct, m, r, lo, hi, rng) {
  checkRange(lo, hi);
  if (m < lo || m > hi) throw new RangeError('the encrypted value is outside the range being proved');
  const width = hi - lo + 1;
  const real = m - lo;
  const w = randomScalar(rng);
  const sims = new Map();
  const commitments = [];
  for (let j = 0; j < width; j++) {
    let a;
    let b;
    if (j === real) {
      a = baseMul(w);
      b = mulSecret(key, w);
    } else {
      const cJ = randomScalar(rng);
      const sJ = randomScalar(rng);
      sims.set(j, [cJ, sJ]);
      // A_j = s_j·G − c_j·α and B_j = s_j·K − c_j·β_j, computed from what the
      // prover knows (α = r·G, β_j = (m − v_j)·G + r·K) with t = s_j − c_j·r:
      //   A_j = t·G,   B_j = t·K − c_j·(m − v_j)·G
      // The same points, with fixed-base multiplications only (the key has a
      // precomputed table), instead of two variable-base ones.
      const t = sSub(sJ, sMul(cJ, r));
      a = baseMul(t);
      b = mulSecret(key, t).subtract(baseMul(sMul(cJ, scalarOfInt(m - lo - j))));
    }
    commitments.push(pointToBytes(a), pointToBytes(b));
  }
  const c = rangeChallenge(ctx, key, ct, lo, hi, commitments);
  let cReal = c;
  for (const [cJ] of sims.values()) cReal = sSub(cReal, cJ);
  return Array.from({ length: width }, (_, j) => (j === real ? [cReal, sAdd(w, sMul(cReal, r))] : sims.get(j)));
}

/** Throw InvalidProof unless `branches` shows that ct encrypts a value in [lo, hi]. */
export function verifyRange(ctx, key, ct, lo, hi, branches) {
  checkRange(lo, hi);
  if (branches.length !== hi - lo + 1) {
    throw new InvalidProof(`range proof has ${branches.length} branches, expected ${hi - lo + 1}`);
  }
  const betas = shiftedBetas(ct, lo, hi);
  const commitments = [];
  let total = 0n;
  branches.forEach(([cJ, sJ], j) => {
    const a = baseMul(sJ).subtract(mulPublic(ct.alpha, cJ));
    const b = mulPublic(key, sJ).subtract(mulPublic(betas[j], cJ));
    commitments.push(pointToBytes(a), pointToBytes(b));
    total = sAdd(total, cJ);
  });
  if (rangeChallenge(ctx, key, ct, lo, hi, commitments) !== total) {
    throw new InvalidProof('range proof does not verify');
  }
}

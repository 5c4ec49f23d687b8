// Entry point of the benchmark bundle (bench/booth.py builds it with esbuild and
// runs it in Chromium): the booth's own ballot code, timed on the page, with
// the number of scalar multiplications a ballot needs, so that the time can be
// put against the cost of the group operation itself.

import { ElectionContext, encryptBallot } from '../src/ballot.js';
import { baseMul, G, randomScalar, systemRng } from '../src/group.js';
import { Manifest } from '../src/manifest.js';

/**
 * Fixed-base multiplications per ballot, by construction of proofs.js and
 * elgamal.js, as {g: by G, k: by the joint key K (which has a precomputed
 * table)}: each option costs r·G and r·K to encrypt, w·G and w·K for the
 * real branch, and t·G, t·K, u·G per simulated branch; a proof of width w
 * thus costs 1 + 2(w − 1) by G and w by K.  (The Ed25519 signature is not
 * counted.)
 */
function multiplications(m) {
  const out = { g: 0, k: 0 };
  const proof = (width) => {
    out.g += 1 + 2 * (width - 1);
    out.k += width;
  };
  for (const q of m.questions) {
    for (let o = 0; o < q.options.length; o++) {
      out.g += 1;
      out.k += 1;
      proof(q.maxScore + 1);
    }
    if (q.needsSumProof) proof(q.max - q.min + 1);
  }
  return out;
}

function manifest(questions, options, min, max) {
  return Manifest.fromJson({
    election_id: 'bench',
    title: 'bench',
    questions: Array.from({ length: questions }, (_, q) => ({
      id: `q${q}`,
      title: `Question ${q}`,
      options: Array.from({ length: options }, (__, o) => `Option ${o}`),
      kind: 'choice',
      min,
      max,
    })),
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function run(questions, options, min, max, rounds) {
  const m = manifest(questions, options, min, max);
  const ctx = new ElectionContext(m, baseMul(randomScalar(systemRng)), systemRng(32));
  const seed = systemRng(32);
  const selections = m.questions.map((q) => q.options.map((_, o) => (o < min ? 1 : 0)));
  for (let i = 0; i < 3; i++) encryptBallot(ctx, seed, selections, systemRng);
  const times = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const { ballot } = encryptBallot(ctx, seed, selections, systemRng);
    ballot.ballotHash();
    times.push(performance.now() - t0);
  }
  return {
    shape: `${questions}x${options}`,
    median_ms: median(times),
    min_ms: Math.min(...times),
    multiplications: multiplications(m),
  };
}

/** Milliseconds per constant-time multiplication by G and by a precomputed key. */
function multiplyCost(rounds) {
  const key = baseMul(randomScalar(systemRng));
  key.precompute(8, false);
  const ks = Array.from({ length: rounds }, () => randomScalar(systemRng));
  const time = (base) => {
    for (const k of ks.slice(0, 20)) base.multiply(k);
    const t0 = performance.now();
    for (const k of ks) base.multiply(k);
    return (performance.now() - t0) / rounds;
  };
  return { g: time(G), k: time(key) };
}

globalThis.evoteBench = { run, multiplyCost };

// Exponential ElGamal (docs/protocol.md §3.1): Enc(K, m; r) = (r·G, m·G + r·K).
// Hazmat layer: an encryption here proves nothing; ballots go through ballot.js.

import { Fields } from './encoding.js';
import { baseMul, IDENTITY, mulSecret, pointFromJson, pointToJson, randomScalar, smallMultiple } from './group.js';

export class Ciphertext {
  constructor(alpha, beta) {
    this.alpha = alpha;
    this.beta = beta;
    Object.freeze(this);
  }

  static fromJson(obj, path = 'ciphertext', { allowIdentity = false } = {}) {
    const f = new Fields(obj, path, { required: ['alpha', 'beta'] });
    return new Ciphertext(
      pointFromJson(f.raw('alpha'), { allowIdentity }),
      pointFromJson(f.raw('beta'), { allowIdentity }),
    );
  }

  toJson() {
    return { alpha: pointToJson(this.alpha), beta: pointToJson(this.beta) };
  }

  add(other) {
    return new Ciphertext(this.alpha.add(other.alpha), this.beta.add(other.beta));
  }
}

export const ZERO_CIPHERTEXT = new Ciphertext(IDENTITY, IDENTITY);

/** Deterministic encryption of the small integer m with explicit randomness r. */
export function encrypt(key, m, r) {
  return new Ciphertext(baseMul(r), smallMultiple(m).add(mulSecret(key, r)));
}

/** Encrypt with fresh uniform randomness; returns [ciphertext, r]. */
export function encryptRandom(key, m, rng) {
  const r = randomScalar(rng);
  return [encrypt(key, m, r), r];
}

export function sumCiphertexts(cts) {
  return cts.reduce((acc, ct) => acc.add(ct), ZERO_CIPHERTEXT);
}

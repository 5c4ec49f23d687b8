// The seeded, reproducible byte generator of evote/drbg.py, for test vectors
// only (never for a real ballot: the booth uses systemRng).  Output block i is
// SHA-512(transcript("drbg", [seed, enc_int(i)])).

import { concatBytes } from './encoding.js';
import { encInt, sha512, TAG_DRBG, transcript } from './hashing.js';

export function seededRng(seed) {
  const key = Uint8Array.from(seed);
  let counter = 0;
  let buf = new Uint8Array(0);
  return (n) => {
    while (buf.length < n) {
      buf = concatBytes(buf, sha512(transcript(TAG_DRBG, [key, encInt(counter)])));
      counter += 1;
    }
    const out = buf.slice(0, n);
    buf = buf.slice(n);
    return out;
  };
}

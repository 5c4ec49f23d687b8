import assert from 'node:assert/strict';
import { test } from 'node:test';

import { seededRng } from '../src/drbg.js';
import { bytesToHex, hexToBytes, utf8 } from '../src/encoding.js';
import { randomScalar, scalarToJson } from '../src/group.js';
import { hashToScalar, taggedHash, transcript } from '../src/hashing.js';
import { loadVector } from './helpers.js';

const v = loadVector('hashing.json');

test('transcripts, tagged hashes and challenges match Python', () => {
  for (const c of v.cases) {
    const tag = utf8(c.tag);
    const fields = c.fields_hex.map(hexToBytes);
    assert.equal(bytesToHex(transcript(tag, fields)), c.transcript_hex);
    assert.equal(bytesToHex(taggedHash(tag, ...fields)), c.tagged_hash_hex);
    assert.equal(scalarToJson(hashToScalar(tag, ...fields)), c.hash_to_scalar);
  }
});

test('the seeded generator reproduces the Python stream', () => {
  const rng = seededRng(hexToBytes(v.drbg.seed_hex));
  // Read in uneven pieces: the stream must not depend on the call sizes.
  const a = rng(7);
  const b = rng(64);
  const c = rng(29);
  assert.equal(bytesToHex(a) + bytesToHex(b) + bytesToHex(c), v.drbg.first_100_bytes_hex);
});

test('rejection sampling draws the same scalars as Python', () => {
  const rng = seededRng(hexToBytes(v.random_scalars.seed_hex));
  const got = v.random_scalars.scalars.map(() => scalarToJson(randomScalar(rng)));
  assert.deepEqual(got, v.random_scalars.scalars);
});

test('rejection sampling rejects zero and values >= L', () => {
  const zeros = new Uint8Array(32);
  const high = new Uint8Array(32).fill(0xff); // clears to 2^253 - 1 > L
  const one = new Uint8Array(32);
  one[0] = 1;
  const queue = [zeros, high, one];
  assert.equal(randomScalar(() => queue.shift()), 1n);
  assert.equal(queue.length, 0);
});

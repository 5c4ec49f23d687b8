import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { b64decode, b64encode } from '../src/encoding.js';
import { EncodingError, MerkleError, RootMismatchError } from '../src/errors.js';
import { inclusionProofLength, leafHash, verifyInclusion } from '../src/merkle.js';
import { REPO } from './helpers.js';

const DIR = join(REPO, 'tests', 'vectors', 'merkle');
const tree = JSON.parse(readFileSync(join(DIR, 'tree.json'), 'utf8'));

test('leaf hashes match the CT test tree', () => {
  tree.leaves.forEach((leaf, i) => {
    assert.equal(b64encode(leafHash(b64decode(leaf))), tree.leaf_hashes[i]);
  });
});

// The probe files carry raw JSON values (possibly malformed on purpose); decode
// what can be decoded and let the verifier judge the rest.
const decode = (h) => {
  try {
    return b64decode(h);
  } catch (exc) {
    if (exc instanceof EncodingError) return h;
    throw exc;
  }
};

test('every inclusion probe gives the expected outcome', () => {
  let n = 0;
  for (const dir of readdirSync(join(DIR, 'inclusion'))) {
    for (const file of readdirSync(join(DIR, 'inclusion', dir))) {
      const p = JSON.parse(readFileSync(join(DIR, 'inclusion', dir, file), 'utf8'));
      const run = () => verifyInclusion(p.index, p.size, decode(p.leaf_hash), p.proof.map(decode), decode(p.root));
      const where = `${dir}/${file}: ${p.desc}`;
      if (!p.want_err) {
        assert.doesNotThrow(run, where);
      } else {
        const cls = p.want_code === 'root_mismatch' ? RootMismatchError : MerkleError;
        assert.throws(run, (exc) => {
          assert.ok(exc instanceof cls, `${where}: got ${exc}`);
          assert.equal(exc.code, p.want_code, where);
          return true;
        });
      }
      n += 1;
    }
  }
  assert.ok(n > 50, `only ${n} probes`);
});

test('proof lengths beyond 32 bits', () => {
  assert.equal(inclusionProofLength(0, 1), 0);
  assert.equal(inclusionProofLength(2 ** 40, 2 ** 40 + 1), 1);
  assert.equal(inclusionProofLength(0, 2 ** 40), 40);
  assert.equal(inclusionProofLength(2 ** 40 - 1, 2 ** 40), 40);
});

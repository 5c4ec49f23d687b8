import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  CODE_CHARS, crockfordEncode, formatCredentialCode, groupCode, parseCredentialCode, parseCredentialFile,
} from '../src/credentials.js';
import { bytesToHex, hexToBytes } from '../src/encoding.js';
import { CredentialError, SchemaError } from '../src/errors.js';
import { loadVector } from './helpers.js';

const v = loadVector('ballot.json');

const reasonOf = (fn) => {
  try {
    fn();
  } catch (exc) {
    assert.ok(exc instanceof CredentialError, String(exc));
    return exc.detail.reason;
  }
  assert.fail('no error');
};

test('Crockford base32 matches Python', () => {
  for (const c of v.crockford) {
    assert.equal(crockfordEncode(hexToBytes(c.hex)), c.code);
    assert.equal(groupCode(c.code), c.grouped);
  }
});

test('credential codes format and parse as in Python', () => {
  for (const { seed_hex: seedHex, code } of v.credential_codes) {
    assert.equal(formatCredentialCode(hexToBytes(seedHex)), code);
    assert.equal(bytesToHex(parseCredentialCode(code)), seedHex);
    // lenient reading: lower case, spaces, O/I/L look-alikes
    const sloppy = code.toLowerCase().replaceAll('-', ' ').replaceAll('0', 'o').replaceAll('1', 'l');
    assert.equal(bytesToHex(parseCredentialCode(sloppy)), seedHex);
  }
  assert.equal(v.voter_code.replaceAll('-', '').length, CODE_CHARS);
});

test('every single-character typo is caught by the checksum', () => {
  const code = v.voter_code.replaceAll('-', '');
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let checked = 0;
  for (let i = 0; i < code.length; i += 3) {
    for (const c of alphabet) {
      if (c === code[i]) continue;
      const typo = code.slice(0, i) + c + code.slice(i + 1);
      assert.equal(reasonOf(() => parseCredentialCode(typo)), 'checksum');
      checked += 1;
    }
  }
  assert.ok(checked > 500);
});

test('swapped neighbours, bad characters and wrong lengths have their own reasons', () => {
  const code = v.voter_code.replaceAll('-', '');
  let swapped = null;
  for (let i = 0; i < code.length - 1 && swapped === null; i++) {
    if (code[i] !== code[i + 1]) swapped = code.slice(0, i) + code[i + 1] + code[i] + code.slice(i + 2);
  }
  assert.equal(reasonOf(() => parseCredentialCode(swapped)), 'checksum');
  assert.equal(reasonOf(() => parseCredentialCode(code.slice(1))), 'length');
  assert.equal(reasonOf(() => parseCredentialCode(`${code}A`)), 'length');
  assert.equal(reasonOf(() => parseCredentialCode(`U${code.slice(1)}`)), 'character');
  try {
    parseCredentialCode(`${v.voter_code.slice(0, 5)}!${v.voter_code.slice(6)}`);
  } catch (exc) {
    assert.equal(exc.detail.position, 6);
  }
});

test('credential file', () => {
  const file = { type: 'evote-credential', v: 1, election: 'vector-poll', code: v.voter_code };
  const { electionId, seed } = parseCredentialFile(file);
  assert.equal(electionId, 'vector-poll');
  assert.equal(bytesToHex(seed), v.voter_seed_hex);
  assert.throws(() => parseCredentialFile({ ...file, extra: 1 }), SchemaError);
  assert.throws(() => parseCredentialFile({ ...file, type: 'x' }), SchemaError);
  assert.throws(() => parseCredentialFile({ ...file, code: v.voter_code.slice(0, -1) }), CredentialError);
});

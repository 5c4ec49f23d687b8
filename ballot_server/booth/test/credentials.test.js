import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  checkSymbol, CODE_CHARS, crockfordEncode, formatCredentialCode, gf32Double, groupCode,
  LEGACY_CODE_CHARS, parseCredentialCode, parseCredentialFile,
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

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

test('old (format 1) codes still parse, as in Python', () => {
  for (const { seed_hex: seedHex, code } of v.legacy_credential_codes) {
    assert.equal(code.replaceAll('-', '').length, LEGACY_CODE_CHARS);
    assert.equal(bytesToHex(parseCredentialCode(code)), seedHex);
    assert.equal(bytesToHex(parseCredentialCode(code.toLowerCase())), seedHex);
  }
});

test('the check symbol quasigroup is Latin and totally anti-symmetric (exhaustive)', () => {
  const op = (x, y) => gf32Double(x) ^ y;
  for (let c = 0; c < 32; c++) {
    assert.equal(new Set([...Array(32).keys()].map((x) => op(c, x))).size, 32);
    assert.equal(new Set([...Array(32).keys()].map((x) => op(x, c))).size, 32);
    for (let x = 0; x < 32; x++) {
      for (let y = 0; y < 32; y++) {
        if (x !== y) assert.notEqual(op(op(c, x), y), op(op(c, y), x));
      }
    }
  }
  // the same check symbols as Python's codes
  for (const { code } of v.credential_codes) {
    const flat = code.replaceAll('-', '');
    const values = [...flat].map((c) => ALPHABET.indexOf(c));
    assert.equal(checkSymbol(values.slice(0, -1)), values.at(-1));
  }
});

test('every single substitution and every adjacent transposition is caught', () => {
  let checked = 0;
  for (const { code: grouped } of v.credential_codes) {
    const code = grouped.replaceAll('-', '');
    for (let i = 0; i < code.length; i++) {
      for (const c of ALPHABET) {
        if (c === code[i]) continue;
        const typo = code.slice(0, i) + c + code.slice(i + 1);
        assert.equal(reasonOf(() => parseCredentialCode(typo)), 'checksum', `substitution at ${i}`);
        checked += 1;
      }
    }
    for (let i = 0; i < code.length - 1; i++) {
      if (code[i] === code[i + 1]) continue;
      const swapped = code.slice(0, i) + code[i + 1] + code[i] + code.slice(i + 2);
      assert.equal(reasonOf(() => parseCredentialCode(swapped)), 'checksum', `transposition at ${i}`);
      checked += 1;
    }
  }
  assert.ok(checked >= 3 * 54 * 31);
});

test('swapped neighbours, bad characters and wrong lengths have their own reasons', () => {
  const code = v.voter_code.replaceAll('-', '');
  let swapped = null;
  for (let i = 0; i < code.length - 1 && swapped === null; i++) {
    if (code[i] !== code[i + 1]) swapped = code.slice(0, i) + code[i + 1] + code[i] + code.slice(i + 2);
  }
  assert.equal(reasonOf(() => parseCredentialCode(swapped)), 'checksum');
  assert.equal(reasonOf(() => parseCredentialCode(code.slice(1))), 'length');
  // 55 characters is the old format's length: read as an old code, it fails its checksum
  assert.equal(reasonOf(() => parseCredentialCode(`${code}A`)), 'checksum');
  assert.equal(reasonOf(() => parseCredentialCode(`${code}AB`)), 'length');
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

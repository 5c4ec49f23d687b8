// The voter's private credential as a printed code or a credential file
// (mirrors evote/credentials.py, byte for byte; see its docstring for the proof):
//
// Format 2 (issued now), 54 characters:
//   data  = seed (32 bytes) || tagged_hash("credential-code", seed)[0:1]
//   body  = Crockford base32 of data, most significant bit first, 1 zero
//           padding bit at the end: 53 characters
//   check = 2·s over GF(32) = GF(2)[x]/(x^5+x^2+1), s = Horner's value of the
//           body symbols (s = 2·s XOR v): catches EVERY single substitution and
//           EVERY adjacent transposition with certainty
//   shown = groups of 4 joined by "-"
// Format 1 (legacy, still read), 55 characters: seed || hash[0:2], 3 zero bits.
//
// Reading ignores "-" and spaces, accepts lower case, reads O as 0 and I/L as
// 1.  The error's detail.reason ("character", "length" or "checksum") lets the
// UI say what is wrong in the voter's language.

import { bytesEqual, Fields } from './encoding.js';
import { CredentialError, SchemaError } from './errors.js';
import { taggedHash, TAG_CREDENTIAL_CODE } from './hashing.js';
import { SEED_BYTES } from './signing.js';

export const CROCKFORD_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const DECODE = new Map();
for (const [i, c] of [...CROCKFORD_ALPHABET].entries()) {
  DECODE.set(c, i);
  DECODE.set(c.toLowerCase(), i);
}
for (const [c, v] of [['O', 0], ['I', 1], ['L', 1]]) {
  DECODE.set(c, v);
  DECODE.set(c.toLowerCase(), v);
}
const SEPARATORS = new Set(['-', ' ']);

const HASH_CHECK_BYTES = 1;
const BODY_CHARS = Math.ceil(((SEED_BYTES + HASH_CHECK_BYTES) * 8) / 5); // 53
export const CODE_CHARS = BODY_CHARS + 1; // 54
const CHECKSUM_BYTES = 2;
export const LEGACY_CODE_CHARS = Math.ceil(((SEED_BYTES + CHECKSUM_BYTES) * 8) / 5); // 55
export const CREDENTIAL_FILE_TYPE = 'evote-credential';
export const CREDENTIAL_FILE_VERSION = 1;

/** Crockford base32, most significant bit first, zero-padded to a multiple of 5 bits. */
export function crockfordEncode(data) {
  const bits = data.length * 8;
  const chars = Math.ceil(bits / 5);
  let value = 0n;
  for (const b of data) value = (value << 8n) | BigInt(b);
  value <<= BigInt(chars * 5 - bits);
  let out = '';
  for (let i = 0; i < chars; i++) {
    out += CROCKFORD_ALPHABET[Number((value >> BigInt(5 * (chars - 1 - i))) & 31n)];
  }
  return out;
}

/** "ABCDEFGH" -> "ABCD-EFGH". */
export function groupCode(code, size = 4) {
  const parts = [];
  for (let i = 0; i < code.length; i += size) parts.push(code.slice(i, i + size));
  return parts.join('-');
}

const checksum = (seed, size = CHECKSUM_BYTES) => taggedHash(TAG_CREDENTIAL_CODE, seed).slice(0, size);

/** 2·x in GF(32) = GF(2)[x]/(x^5 + x^2 + 1), branch-free. */
export function gf32Double(x) {
  return ((x << 1) & 31) ^ (5 * ((x >> 4) & 1));
}

const horner = (values) => values.reduce((s, v) => gf32Double(s) ^ v, 0);

/** The check symbol that makes values + [it] fold to 0. */
export function checkSymbol(values) {
  return gf32Double(horner(values));
}

export function formatCredentialCode(seed) {
  const data = new Uint8Array(SEED_BYTES + HASH_CHECK_BYTES);
  data.set(seed);
  data.set(checksum(seed, HASH_CHECK_BYTES), SEED_BYTES);
  const body = crockfordEncode(data);
  data.fill(0);
  const check = checkSymbol([...body].map((c) => CROCKFORD_ALPHABET.indexOf(c)));
  return groupCode(body + CROCKFORD_ALPHABET[check]);
}

/** (seed, hash check, padding is zero) from a body of 5-bit values. */
function bitsToSeed(values, checkBytes) {
  let value = 0n;
  for (const v of values) value = (value << 5n) | BigInt(v);
  const pad = BigInt(values.length * 5 - (SEED_BYTES + checkBytes) * 8);
  const padOk = (value & ((1n << pad) - 1n)) === 0n;
  let data = value >> pad;
  const bytes = new Uint8Array(SEED_BYTES + checkBytes);
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = Number(data & 0xffn);
    data >>= 8n;
  }
  const seed = bytes.slice(0, SEED_BYTES);
  const check = bytes.slice(SEED_BYTES);
  bytes.fill(0);
  return { seed, check, padOk };
}

const checksumError = () =>
  new CredentialError('credential code checksum does not match: check for a typo', { reason: 'checksum' });

/** Read a typed code (format 2, or legacy format 1); returns the 32-byte seed or throws CredentialError. */
export function parseCredentialCode(text) {
  if (typeof text !== 'string') throw new TypeError('credential code must be a string');
  const values = [];
  let pos = 0;
  for (const ch of text) {
    pos += 1;
    if (SEPARATORS.has(ch)) continue;
    const v = DECODE.get(ch);
    if (v === undefined) {
      throw new CredentialError(
        `credential code contains '${ch}' at position ${pos}, which is not a code character`,
        { reason: 'character', position: pos, character: ch },
      );
    }
    values.push(v);
  }
  let checkBytes;
  let symbolOk = true;
  let body = values;
  if (values.length === CODE_CHARS) {
    checkBytes = HASH_CHECK_BYTES;
    symbolOk = horner(values) === 0;
    body = values.slice(0, BODY_CHARS);
  } else if (values.length === LEGACY_CODE_CHARS) {
    checkBytes = CHECKSUM_BYTES;
  } else {
    throw new CredentialError(
      `credential code has ${values.length} characters, expected ${CODE_CHARS} (not counting hyphens)`,
      { reason: 'length', count: values.length, expected: CODE_CHARS },
    );
  }
  const { seed, check, padOk } = bitsToSeed(body, checkBytes);
  values.fill(0);
  const ok = bytesEqual(check, checksum(seed, checkBytes));
  if (!(symbolOk && padOk && ok)) {
    seed.fill(0);
    throw checksumError();
  }
  return seed;
}

/**
 * The credential file {"type": "evote-credential", "v": 1, "election", "code"}.
 * Returns {electionId, seed}; the caller checks the election id.
 */
export function parseCredentialFile(obj) {
  const f = new Fields(obj, 'credential', { required: ['type', 'v', 'election', 'code'] });
  if (f.raw('type') !== CREDENTIAL_FILE_TYPE) throw new SchemaError(`credential.type: must be '${CREDENTIAL_FILE_TYPE}'`);
  if (f.int('v') !== CREDENTIAL_FILE_VERSION) throw new SchemaError(`credential.v: must be ${CREDENTIAL_FILE_VERSION}`);
  const electionId = f.str('election', { maxLen: 64 });
  return { electionId, seed: parseCredentialCode(f.str('code', { maxLen: 200 })) };
}

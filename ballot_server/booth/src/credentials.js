// The voter's private credential as a printed code or a credential file
// (mirrors evote/credentials.py, byte for byte):
//
//   data  = seed (32 bytes) || tagged_hash("credential-code", seed)[0:2]
//   code  = Crockford base32 of data, most significant bit first, 3 zero
//           padding bits at the end: 55 characters
//   shown = groups of 4 joined by "-"
//
// Reading ignores "-" and spaces, accepts lower case, reads O as 0 and I/L as
// 1.  The 16-bit checksum catches a typo; the error's detail.reason
// ("character", "length" or "checksum") lets the UI say what is wrong in the
// voter's language.

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

const CHECKSUM_BYTES = 2;
export const CODE_CHARS = Math.ceil(((SEED_BYTES + CHECKSUM_BYTES) * 8) / 5); // 55
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

const checksum = (seed) => taggedHash(TAG_CREDENTIAL_CODE, seed).slice(0, CHECKSUM_BYTES);

export function formatCredentialCode(seed) {
  const data = new Uint8Array(SEED_BYTES + CHECKSUM_BYTES);
  data.set(seed);
  data.set(checksum(seed), SEED_BYTES);
  return groupCode(crockfordEncode(data));
}

/** Read a typed code; returns the 32-byte seed or throws CredentialError. */
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
  if (values.length !== CODE_CHARS) {
    throw new CredentialError(
      `credential code has ${values.length} characters, expected ${CODE_CHARS} (not counting hyphens)`,
      { reason: 'length', count: values.length, expected: CODE_CHARS },
    );
  }
  let value = 0n;
  for (const v of values) value = (value << 5n) | BigInt(v);
  const pad = BigInt(CODE_CHARS * 5 - (SEED_BYTES + CHECKSUM_BYTES) * 8);
  const padBits = value & ((1n << pad) - 1n);
  let data = value >> pad;
  const bytes = new Uint8Array(SEED_BYTES + CHECKSUM_BYTES);
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = Number(data & 0xffn);
    data >>= 8n;
  }
  const seed = bytes.slice(0, SEED_BYTES);
  const ok = bytesEqual(bytes.slice(SEED_BYTES), checksum(seed));
  bytes.fill(0);
  if (padBits !== 0n || !ok) {
    seed.fill(0);
    throw new CredentialError('credential code checksum does not match: check for a typo', { reason: 'checksum' });
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

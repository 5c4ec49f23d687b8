// The one way evote hashes (mirrors evote/hashing.py and docs/protocol.md §2).
//
//   lp(x)               = len(x) as 8-byte big-endian || x
//   transcript(tag, f…) = lp("evote/v1/edwards25519") || lp(tag) || lp(f1) || …
//
// tagged_hash is SHA-256 of the transcript; hash_to_scalar is SHA-512 of the
// transcript read little-endian and reduced mod L (every Fiat–Shamir challenge).

import { sha256 as nobleSha256, sha512 as nobleSha512 } from '@noble/hashes/sha2.js';

import { concatBytes, utf8 } from './encoding.js';
import { L } from './group.js';

export const PROTOCOL = utf8('evote/v1/edwards25519');

// Tags, verbatim as in evote/hashing.py.
export const TAG_SCHNORR = utf8('schnorr');
export const TAG_DLEQ = utf8('dleq');
export const TAG_RANGE = utf8('range');
export const TAG_FINGERPRINT = utf8('fingerprint');
export const TAG_BALLOT_SIGNATURE = utf8('ballot-signature');
export const TAG_TRACKING = utf8('tracking');
export const TAG_TREE_HEAD = utf8('tree-head');
export const TAG_RECEIPT = utf8('receipt');
export const TAG_CREDENTIAL_CODE = utf8('credential-code');
export const TAG_MANIFEST = utf8('manifest');
export const TAG_CREDENTIAL_LIST = utf8('credential-list');
export const TAG_BALLOT = utf8('ballot');
export const TAG_DRBG = utf8('drbg');

export const sha256 = (data) => nobleSha256(data);
export const sha512 = (data) => nobleSha512(data);

/** 8-byte big-endian unsigned integer field (an index or a count). */
export function encInt(n) {
  const v = BigInt(n);
  if (v < 0n || v >= 1n << 64n) throw new RangeError('integer field out of range');
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, false);
  return out;
}

/** A text field, UTF-8. */
export const encStr = (s) => utf8(s);

function lp(item) {
  return concatBytes(encInt(item.length), item);
}

/** The exact bytes that get hashed: protocol, tag, then each field, all length-prefixed. */
export function transcript(tag, fields) {
  const parts = [lp(PROTOCOL), lp(tag)];
  for (const f of fields) {
    if (!(f instanceof Uint8Array)) throw new TypeError('transcript fields must be bytes');
    parts.push(lp(f));
  }
  return concatBytes(...parts);
}

/** SHA-256 over the transcript: a 32-byte domain-separated digest. */
export const taggedHash = (tag, ...fields) => sha256(transcript(tag, fields));

/** Little-endian bytes to a non-negative BigInt. */
export function bytesToNumberLE(bytes) {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

/** Fiat–Shamir challenge: SHA-512 of the transcript, little-endian, mod L (a BigInt). */
export const hashToScalar = (tag, ...fields) =>
  bytesToNumberLE(sha512(transcript(tag, fields))) % L;

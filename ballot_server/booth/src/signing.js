// Ed25519 with a domain tag (mirrors evote/signing.py): every signature is
// over transcript(tag, fields), never over a bare document.  The private
// credential is a 32-byte RFC 8032 seed; noble's sign is deterministic, so
// the booth's signature equals libsodium's byte for byte.

import { ed25519 } from '@noble/curves/ed25519.js';

import { b64decode, b64encode, bytesToHex } from './encoding.js';
import { EncodingError, InvalidSignature } from './errors.js';
import { P, SMALL_ORDER_POINTS } from './group.js';
import { transcript } from './hashing.js';

export const SEED_BYTES = 32;

/** The public credential (Ed25519 public key) of a 32-byte seed. */
export function publicKeyOf(seed) {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) {
    throw new EncodingError('private key seed must be exactly 32 bytes');
  }
  return ed25519.getPublicKey(seed);
}

export function signTagged(seed, tag, fields) {
  return ed25519.sign(transcript(tag, fields), seed);
}

/** Validate a public key from outside: 32 bytes, canonical, not small order. */
export function verifyKeyFromBytes(raw) {
  if (!(raw instanceof Uint8Array) || raw.length !== 32) throw new EncodingError('public key must be exactly 32 bytes');
  if (SMALL_ORDER_POINTS.includes(bytesToHex(raw))) throw new EncodingError('public key has small order');
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? raw[i] & 0x7f : raw[i]);
  if (y >= P) throw new EncodingError('public key encoding is not canonical');
  try {
    ed25519.Point.fromBytes(raw, false);
  } catch {
    throw new EncodingError('not an Ed25519 public key');
  }
  return raw;
}

export const verifyKeyFromJson = (value, what = 'public key') =>
  verifyKeyFromBytes(b64decode(value, { length: 32, what }));

const isSignature = (signature) => signature instanceof Uint8Array && signature.length === 64;

/** Whether `signature` is a strict (non-ZIP-215) Ed25519 signature of `message` under `publicKey`. */
export function ed25519Verifies(publicKey, message, signature) {
  if (!isSignature(signature)) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** Throw InvalidSignature unless `signature` signs transcript(tag, fields) under `publicKey`. */
export function verifyTagged(publicKey, tag, fields, signature) {
  if (!isSignature(signature)) throw new InvalidSignature('signature must be exactly 64 bytes');
  if (!ed25519Verifies(publicKey, transcript(tag, fields), signature)) {
    throw new InvalidSignature(`${new TextDecoder().decode(tag)} signature does not verify`);
  }
}

export const signatureToJson = (sig) => b64encode(sig);

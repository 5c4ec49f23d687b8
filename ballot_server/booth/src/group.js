// The prime-order subgroup of edwards25519 (docs/protocol.md §1), through
// @noble/curves.  Hazmat layer: raw group operations with no meaning.
//
// Points are noble `ed25519.Point` objects; scalars are BigInts in [0, L).
// Everything that comes from outside enters through pointFromBytes /
// scalarFromBytes (or their JSON forms), which reject exactly what
// evote/group.py rejects, in the same order: wrong length, y >= p, the
// identity, the eight small-order points, and anything off the curve or with
// a torsion component.  Secret scalars are multiplied with noble's
// constant-time `multiply`; public ones may use `multiplyUnsafe`.

import { ed25519 } from '@noble/curves/ed25519.js';

import { b64decode, b64encode, bytesEqual, bytesToHex } from './encoding.js';
import { EncodingError, InvalidPoint, InvalidScalar } from './errors.js';

export const Point = ed25519.Point;
const Fn = Point.Fn;

/** Order of the prime-order subgroup. */
export const L = Fn.ORDER;
/** The field prime 2^255 − 19. */
export const P = 2n ** 255n - 19n;

export const G = Point.BASE;
export const IDENTITY = Point.ZERO;

const IDENTITY_HEX = bytesToHex(IDENTITY.toBytes());

// The eight points of the torsion subgroup E[8] (the same list as evote/group.py).
export const SMALL_ORDER_POINTS = Object.freeze([
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
]);

// ---------------------------------------------------------------------------
// Scalars
// ---------------------------------------------------------------------------

export function scalarToBytes(k) {
  return Fn.toBytes(Fn.create(k));
}

function numberLE(bytes) {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

/** Decode a scalar from outside: exactly 32 bytes and < L (never reduced). */
export function scalarFromBytes(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) {
    throw new InvalidScalar('scalar must be exactly 32 bytes');
  }
  const n = numberLE(bytes);
  if (n >= L) throw new InvalidScalar('scalar is not canonical (>= L)');
  return n;
}

export function scalarFromJson(value) {
  let raw;
  try {
    raw = b64decode(value, { length: 32, what: 'scalar' });
  } catch (exc) {
    if (exc instanceof EncodingError) throw new InvalidScalar(exc.message);
    throw exc;
  }
  return scalarFromBytes(raw);
}

export const scalarToJson = (k) => b64encode(scalarToBytes(k));

/** A (possibly negative) small integer as a scalar mod L. */
export const scalarOfInt = (n) => Fn.create(BigInt(n));

/** Scalar arithmetic mod L (noble's field over the group order). */
export const sAdd = (a, b) => Fn.add(a, b);
export const sSub = (a, b) => Fn.sub(a, b);
export const sMul = (a, b) => Fn.mul(a, b);
export const sNeg = (a) => Fn.neg(a);

/**
 * A uniformly random scalar in [1, L) by rejection sampling (§1.3): take 32
 * bytes, clear the top three bits of byte 31, accept if the value is in
 * [1, L).  Consumes the rng exactly as evote.group.Scalar.random does, so a
 * seeded rng reproduces Python's vectors.
 */
export function randomScalar(rng) {
  for (;;) {
    const buf = Uint8Array.from(rng(32));
    if (buf.length !== 32) throw new RangeError('rng returned the wrong number of bytes');
    buf[31] &= 0x1f;
    const n = numberLE(buf);
    buf.fill(0);
    if (n > 0n && n < L) return n;
  }
}

/** The browser's (or Node's) CSPRNG as an evote rng: rng(n) -> n bytes. */
export function systemRng(n) {
  const out = new Uint8Array(n);
  globalThis.crypto.getRandomValues(out);
  return out;
}

// ---------------------------------------------------------------------------
// Points
// ---------------------------------------------------------------------------

/**
 * Decode and fully validate a point from outside (docs/protocol.md §1.2).
 * The identity is accepted only with allowIdentity (aggregates the caller
 * recomputes itself).
 */
export function pointFromBytes(bytes, { allowIdentity = false } = {}) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) {
    throw new InvalidPoint('point must be exactly 32 bytes');
  }
  const masked = Uint8Array.from(bytes);
  masked[31] &= 0x7f;
  if (numberLE(masked) >= P) throw new InvalidPoint('point encoding is not canonical (y >= p)');
  const hex = bytesToHex(bytes);
  if (hex === IDENTITY_HEX) {
    if (allowIdentity) return IDENTITY;
    throw new InvalidPoint('point is the identity');
  }
  if (SMALL_ORDER_POINTS.includes(hex)) throw new InvalidPoint('point has small order');
  let point;
  try {
    point = Point.fromBytes(bytes, false);
    point.assertValidity();
  } catch {
    throw new InvalidPoint('point is not on the curve or not in the prime-order subgroup');
  }
  // Belt and braces: whatever noble decoded must re-encode to the same bytes.
  if (point.is0() || point.isSmallOrder() || !point.isTorsionFree() || !bytesEqual(point.toBytes(), bytes)) {
    throw new InvalidPoint('point is not on the curve or not in the prime-order subgroup');
  }
  return point;
}

export function pointFromJson(value, { allowIdentity = false } = {}) {
  let raw;
  try {
    raw = b64decode(value, { length: 32, what: 'point' });
  } catch (exc) {
    if (exc instanceof EncodingError) throw new InvalidPoint(exc.message);
    throw exc;
  }
  return pointFromBytes(raw, { allowIdentity });
}

export const pointToBytes = (pt) => pt.toBytes();
export const pointToJson = (pt) => b64encode(pt.toBytes());

/** k·G for a secret or public scalar; 0·G is the identity. */
export function baseMul(k) {
  return k === 0n ? IDENTITY : G.multiply(k);
}

/** pt·k with noble's constant-time ladder (for secret k). */
export function mulSecret(pt, k) {
  return k === 0n || pt.is0() ? IDENTITY : pt.multiply(k);
}

/** pt·k for a public k (challenges, responses): variable time is fine. */
export function mulPublic(pt, k) {
  return pt.multiplyUnsafe(k);
}

const SMALL_MULTIPLES = [IDENTITY];

/**
 * m·G for a small non-negative integer m (a vote, a count).  Values up to
 * 1024 come from a table, so encrypting a vote takes the same time whatever
 * the vote is.
 */
export function smallMultiple(m) {
  if (!Number.isInteger(m) || m < 0) throw new RangeError('smallMultiple takes m >= 0');
  if (m > 1024) return G.multiplyUnsafe(BigInt(m));
  while (SMALL_MULTIPLES.length <= m) SMALL_MULTIPLES.push(SMALL_MULTIPLES[SMALL_MULTIPLES.length - 1].add(G));
  return SMALL_MULTIPLES[m];
}

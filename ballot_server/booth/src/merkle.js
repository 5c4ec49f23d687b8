// RFC 9162 (Certificate Transparency v2) Merkle inclusion proofs, and the
// board's signed tree heads and receipts (docs/board.md, evote/board.py).
// The voter's "check my ballot" page runs these in the browser so that it
// need not trust the server that serves it.
//
//   leaf hash  = SHA-256(0x00 || entry bytes)         (RFC 9162 §2.1.1)
//   node hash  = SHA-256(0x01 || left || right)
//
// Inclusion verification follows RFC 9162 §2.1.3.2; input that cannot be
// right (index >= size, wrong proof length, wrong hash size) is rejected
// before anything is hashed.

import { b64decode, canonicalJson, concatBytes, bytesEqual, Fields, MAX_SAFE_INTEGER } from './encoding.js';
import { InvalidSignature, MerkleError, RootMismatchError, SchemaError } from './errors.js';
import { sha256, TAG_RECEIPT, TAG_TREE_HEAD } from './hashing.js';
import { verifyKeyFromJson, verifyTagged } from './signing.js';

export const HASH_SIZE = 32;
const LEAF_PREFIX = Uint8Array.of(0);
const NODE_PREFIX = Uint8Array.of(1);
const BOARD_VERSION = 1;
const MAX_PROOF_LENGTH = 64;

export const leafHash = (entry) => sha256(concatBytes(LEAF_PREFIX, entry));
export const nodeHash = (left, right) => sha256(concatBytes(NODE_PREFIX, left, right));

function checkSize(name, n) {
  if (!Number.isSafeInteger(n) || n < 0) throw new MerkleError(`${name} ${n} is out of range`);
}

function checkHash(name, h) {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) throw new MerkleError(`${name} must be ${HASH_SIZE} bytes`);
}

const bitLength = (n) => (n === 0 ? 0 : Math.floor(Math.log2(n)) + 1);

// Safe integers go past 2^31, so no 32-bit bit operators below.
function popcount(n) {
  let c = 0;
  for (let v = n; v > 0; v = Math.floor(v / 2)) c += v % 2;
  return c;
}

/** The exact RFC 9162 inclusion proof length for `index` in a tree of `size`. */
export function inclusionProofLength(index, size) {
  checkSize('index', index);
  checkSize('tree size', size);
  if (index >= size) throw new MerkleError(`index ${index} is beyond tree size ${size}`);
  // inner = bit length of index XOR (size - 1), computed without 32-bit ops
  let a = index;
  let b = size - 1;
  let inner = 0;
  let level = 0;
  while (a > 0 || b > 0) {
    level += 1;
    if (a % 2 !== b % 2) inner = level;
    a = Math.floor(a / 2);
    b = Math.floor(b / 2);
  }
  return inner + popcount(Math.floor(index / 2 ** inner));
}

/** RFC 9162 §2.1.3.2: the root that `proof` implies for leaf hash `leaf`. */
export function rootFromInclusionProof(index, size, leaf, proof) {
  const want = inclusionProofLength(index, size);
  checkHash('leaf hash', leaf);
  if (!Array.isArray(proof)) throw new MerkleError('proof must be a list of hashes');
  if (proof.length !== want) throw new MerkleError(`wrong proof length ${proof.length}, want ${want}`);
  proof.forEach((h, i) => checkHash(`proof[${i}]`, h));
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  const half = (x) => Math.floor(x / 2);
  for (const p of proof) {
    if (sn === 0) throw new MerkleError('inclusion proof is longer than the path');
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn !== 0 && fn % 2 === 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new MerkleError('inclusion proof is shorter than the path');
  return r;
}

/** Throw MerkleError / RootMismatchError unless `leaf` is entry `index` of the tree with `root`. */
export function verifyInclusion(index, size, leaf, proof, root) {
  checkHash('root', root);
  const computed = rootFromInclusionProof(index, size, leaf, proof);
  if (!bytesEqual(computed, root)) {
    throw new RootMismatchError(`inclusion proof for entry ${index} does not lead to the root of tree ${size}`, {
      expected: root, computed,
    });
  }
}

// ---------------------------------------------------------------------------
// Signed tree heads and receipts (docs/board.md)
// ---------------------------------------------------------------------------

function checkVersion(f) {
  if (f.raw('v') !== BOARD_VERSION) throw new SchemaError(`${f.sub('v')}: must be ${BOARD_VERSION}`);
}

/** {head: {v, election, size, root, time}, signature, board_key} */
export function signedTreeHeadFromJson(obj, path = 'signed_tree_head') {
  const f = new Fields(obj, path, { required: ['head', 'signature', 'board_key'] });
  const h = new Fields(f.raw('head'), f.sub('head'), { required: ['v', 'election', 'size', 'root', 'time'] });
  checkVersion(h);
  const head = {
    v: BOARD_VERSION,
    election: h.str('election', { maxLen: 200 }),
    size: h.int('size', { lo: 1, hi: MAX_SAFE_INTEGER }),
    root: h.bytes('root', { length: HASH_SIZE }),
    time: h.int('time'),
    json: f.raw('head'),
  };
  return {
    head,
    signature: f.bytes('signature', { length: 64 }),
    boardKey: verifyKeyFromJson(f.raw('board_key'), f.sub('board_key')),
    json: obj,
  };
}

function headJson(head) {
  return { v: head.v, election: head.election, size: head.size, root: head.json.root, time: head.time };
}

function checkTrustedKey(named, trusted, what) {
  if (!bytesEqual(named, trusted)) throw new InvalidSignature(`${what} is not signed by the trusted board key`, { reason: 'board_key' });
}

/** Throw unless the tree head is signed by the trusted board key. */
export function verifySignedTreeHead(sth, trustedBoardKey) {
  checkTrustedKey(sth.boardKey, trustedBoardKey, 'tree head');
  verifyTagged(trustedBoardKey, TAG_TREE_HEAD, [canonicalJson(headJson(sth.head))], sth.signature);
}

/**
 * Parse a receipt {v, election, index, tracking_code, entry_hash, tree_head, inclusion_proof,
 * signature}, and the optional, unsigned `cosigned_checkpoint` (elections with witnesses: the
 * checkpoint they had cosigned at cast time, a C2SP note checked by witness.js).
 */
export function receiptFromJson(obj, path = 'receipt') {
  const f = new Fields(obj, path, {
    required: ['v', 'election', 'index', 'tracking_code', 'entry_hash', 'tree_head', 'inclusion_proof', 'signature'],
    optional: ['cosigned_checkpoint'],
  });
  checkVersion(f);
  const proof = f.raw('inclusion_proof');
  if (!Array.isArray(proof) || proof.length > MAX_PROOF_LENGTH) {
    throw new SchemaError(`${f.sub('inclusion_proof')}: expected a list of at most ${MAX_PROOF_LENGTH} hashes`);
  }
  return {
    election: f.str('election', { maxLen: 200 }),
    index: f.int('index'),
    trackingCode: f.str('tracking_code', { maxLen: 200 }),
    entryHash: f.bytes('entry_hash', { length: HASH_SIZE }),
    treeHead: signedTreeHeadFromJson(f.raw('tree_head'), f.sub('tree_head')),
    inclusionProof: proof.map((h, i) => b64decode(h, { length: HASH_SIZE, what: `${f.sub('inclusion_proof')}[${i}]` })),
    signature: f.bytes('signature', { length: 64 }),
    cosignedCheckpoint: f.has('cosigned_checkpoint') ? f.str('cosigned_checkpoint', { maxLen: 1 << 16 }) : null,
    json: obj,
  };
}

function receiptStatement(r) {
  const { json } = r;
  return {
    v: BOARD_VERSION,
    election: json.election,
    index: json.index,
    tracking_code: json.tracking_code,
    entry_hash: json.entry_hash,
    tree_head: {
      head: headJson(r.treeHead.head),
      signature: r.treeHead.json.signature,
      board_key: r.treeHead.json.board_key,
    },
  };
}

/**
 * Check a receipt as evote.board.Receipt.verify does: (1) it names the
 * trusted board key; (2) the tree head signature; (3) the receipt signature;
 * (4) the head is for this election; (5) the inclusion proof leads from the
 * entry hash to the signed root.
 */
export function verifyReceipt(receipt, trustedBoardKey) {
  checkTrustedKey(receipt.treeHead.boardKey, trustedBoardKey, 'receipt');
  verifySignedTreeHead(receipt.treeHead, trustedBoardKey);
  verifyTagged(trustedBoardKey, TAG_RECEIPT, [canonicalJson(receiptStatement(receipt))], receipt.signature);
  if (receipt.treeHead.head.election !== receipt.election) {
    throw new MerkleError("receipt's tree head is for a different election");
  }
  verifyInclusion(receipt.index, receipt.treeHead.head.size, receipt.entryHash, receipt.inclusionProof, receipt.treeHead.head.root);
}

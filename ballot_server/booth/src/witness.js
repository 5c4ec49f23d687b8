// The election's witnesses as the booth checks them (mirrors evote/witness.py;
// docs/witness.md §3 and §6): the manifest's k-of-n policy, the policy check
// of a checkpoint's cosignatures, and "check my ballot" against a checkpoint
// the witnesses cosigned, so a voter sees their ballot in the one history the
// witnesses (and every auditor) saw, not in a copy shown only to them.

import { bytesToHex, Fields } from './encoding.js';
import { EncodingError, ManifestError, SchemaError, WitnessPolicyError } from './errors.js';
import { verifyInclusion } from './merkle.js';
import {
  checkKeyName, openCheckpoint, SIG_COSIGNATURE_V1, signaturesBy, verifyCosignature,
} from './checkpoint.js';
import { verifyKeyFromJson } from './signing.js';

const MAX_WITNESSES = 64;

function witnessKeyFromJson(obj, path) {
  const f = new Fields(obj, path, { required: ['name', 'key'] });
  const name = checkKeyName(f.str('name', { maxLen: 256 }), f.sub('name'));
  return Object.freeze({ name, key: verifyKeyFromJson(f.raw('key'), f.sub('key')), json: f.raw('key') });
}

/**
 * The manifest's `witnesses` field, {keys: [{name, key}], threshold}:
 * 1 <= threshold <= number of keys <= 64, names and keys distinct.  Any
 * malformation is a ManifestError, as in evote.manifest.
 */
export function witnessPolicyFromJson(obj, path = 'manifest.witnesses') {
  try {
    const f = new Fields(obj, path, { required: ['keys', 'threshold'] });
    const keys = Object.freeze(f.list('keys', witnessKeyFromJson, { minLen: 1, maxLen: MAX_WITNESSES }));
    if (new Set(keys.map((k) => k.name)).size !== keys.length) {
      throw new SchemaError(`${path}.keys: two witnesses have the same name`);
    }
    if (new Set(keys.map((k) => bytesToHex(k.key))).size !== keys.length) {
      throw new SchemaError(`${path}.keys: two witnesses have the same key`);
    }
    const threshold = f.int('threshold', { lo: 1, hi: keys.length });
    return Object.freeze({ keys, threshold });
  } catch (exc) {
    if (exc instanceof SchemaError || exc instanceof EncodingError) throw new ManifestError(exc.message);
    throw exc;
  }
}

export const witnessPolicyToJson = (policy) => ({
  keys: policy.keys.map((k) => ({ name: k.name, key: k.json })),
  threshold: policy.threshold,
});

/**
 * evote.witness.check_witness_policy: the names (in policy order) of the
 * listed witnesses whose cosignature lines verify; every line naming a listed
 * witness must verify; a witness counts once.  WitnessPolicyError below the
 * threshold (detail.signed lists who did).
 */
export function checkWitnessPolicy(note, policy) {
  const signed = [];
  for (const w of policy.keys) {
    const lines = signaturesBy(note, w.name, SIG_COSIGNATURE_V1, w.key);
    for (const sig of lines) verifyCosignature(note.text, sig, w.name, w.key);
    if (lines.length) signed.push(w.name);
  }
  if (signed.length < policy.threshold) {
    throw new WitnessPolicyError(
      `checkpoint is cosigned by ${signed.length} of the election's witnesses; the policy needs ${policy.threshold}`,
      { signed, threshold: policy.threshold },
    );
  }
  return signed;
}

/**
 * evote.witness.check_cosigners: checkWitnessPolicy, after refusing a policy
 * that lists the board's own key (a board must not witness itself).
 */
export function checkCosigners(note, policy, boardKey) {
  const board = bytesToHex(boardKey);
  if (policy.keys.some((w) => bytesToHex(w.key) === board)) {
    throw new WitnessPolicyError('the board key is listed as one of its own witnesses');
  }
  return checkWitnessPolicy(note, policy);
}

/**
 * evote.witness.verify_cosigned_inclusion: (1) the note is a checkpoint signed
 * by the board key under the election's origin; (2) the RFC 9162 inclusion
 * proof leads from `entryHash` at `index` to its root; (3) checkCosigners.
 * Returns the witnesses that cosigned; throws the failing step's error.
 */
export function verifyCosignedInclusion(noteText, { boardKey, election, index, entryHash, proof, policy }) {
  const { checkpoint, note } = openCheckpoint(noteText, boardKey, election);
  verifyInclusion(index, checkpoint.size, entryHash, proof, checkpoint.root);
  return checkCosigners(note, policy, boardKey);
}


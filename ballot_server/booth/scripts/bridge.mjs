// A command-line bridge for the Python tests (tests/booth/test_booth_crypto.py); kept out of test/ so
// that `node --test test/` does not run it:
// reads a JSON list of requests on stdin, answers a JSON list on stdout.
// It lets pytest make ballots with the booth's JavaScript and check them with
// evote's Python, and feed the booth's verifiers with artefacts Python made.
//
//   {"op": "ballot", manifest, joint_key, trustee_commitments, credentials_digest_hex,
//    seed_hex, selections}                       -> {ballot, audited, tracking_code, fingerprint_hex}
//   {"op": "verify_receipt", receipt, board_key} -> {ok: true} | {error: code, reason}
//   {"op": "verify_ballot", ..., ballot}          -> {ok: true} | {error: code}
//   {"op": "canonical", value}                    -> {hex}
//   {"op": "parse_code", code}                    -> {seed_hex} | {error, reason}
//   {"op": "manifest_digest", manifest}           -> {hex} | {error}
//   {"op": "verify_cosigned_inclusion", note, board_key, election, index, entry_hash, proof,
//    policy}                                      -> {signed: [names]} | {error, message}

import { readFileSync } from 'node:fs';

import { auditedBallotJson, Ballot, ElectionContext, encryptBallot, verifyBallot } from '../src/ballot.js';
import { parseCredentialCode } from '../src/credentials.js';
import { b64decode, bytesToHex, canonicalJson, hexToBytes, parseJson } from '../src/encoding.js';
import { EvoteError } from '../src/errors.js';
import { pointFromJson, systemRng } from '../src/group.js';
import { Manifest } from '../src/manifest.js';
import { receiptFromJson, verifyReceipt } from '../src/merkle.js';
import { verifyCosignedInclusion, witnessPolicyFromJson } from '../src/witness.js';

function context(req) {
  const manifest = Manifest.fromJson(req.manifest);
  const commitments = req.trustee_commitments.map((row) => row.map((c) => pointFromJson(c)));
  return ElectionContext.build(manifest, pointFromJson(req.joint_key), commitments, hexToBytes(req.credentials_digest_hex));
}

const OPS = {
  ballot(req) {
    const ctx = context(req);
    const { ballot, secrets } = encryptBallot(ctx, hexToBytes(req.seed_hex), req.selections, systemRng);
    return {
      ballot: ballot.toJson(),
      audited: auditedBallotJson(ballot, secrets),
      tracking_code: ballot.trackingCode,
      fingerprint_hex: bytesToHex(ctx.fingerprint),
    };
  },
  verify_ballot(req) {
    const ctx = context(req);
    verifyBallot(ctx, Ballot.fromJson(req.ballot, ctx.manifest));
    return { ok: true };
  },
  verify_receipt(req) {
    verifyReceipt(receiptFromJson(req.receipt), b64decode(req.board_key, { length: 32 }));
    return { ok: true };
  },
  canonical(req) {
    return { hex: bytesToHex(canonicalJson(req.value)) };
  },
  parse_code(req) {
    return { seed_hex: bytesToHex(parseCredentialCode(req.code)) };
  },
  manifest_digest(req) {
    return { hex: bytesToHex(Manifest.fromJson(req.manifest).digest()) };
  },
  verify_cosigned_inclusion(req) {
    const signed = verifyCosignedInclusion(req.note, {
      boardKey: b64decode(req.board_key, { length: 32 }),
      election: req.election,
      index: req.index,
      entryHash: b64decode(req.entry_hash, { length: 32 }),
      proof: req.proof.map((p) => b64decode(p, { length: 32 })),
      policy: witnessPolicyFromJson(req.policy),
    });
    return { signed };
  },
};

function answer(req) {
  const op = OPS[req.op];
  if (!op) return { error: 'unknown_op' };
  try {
    return op(req);
  } catch (exc) {
    if (exc instanceof EvoteError) return { error: exc.code, reason: exc.detail?.reason ?? null, message: exc.message };
    throw exc;
  }
}

const requests = parseJson(readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(requests.map(answer)));

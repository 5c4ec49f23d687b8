// The election fingerprint (mirrors evote/fingerprint.py):
//
//   tagged_hash("fingerprint", manifest_digest, joint_key, enc_int(n),
//               enc_int(k_1) || C_1,0 || … , …, credentials_digest)
//
// The booth recomputes it from the manifest it shows the voter, the joint
// key and the trustee commitments, so the proofs it makes are bound to what
// the voter saw.  The credential list may hold millions of keys; the booth
// takes its digest as published on the board.

import { concatBytes } from './encoding.js';
import { encInt, taggedHash, TAG_FINGERPRINT } from './hashing.js';
import { pointToBytes } from './group.js';

export function electionFingerprint(manifestDigest, jointKey, trusteeCommitments, credentialsDigest) {
  if (manifestDigest.length !== 32 || credentialsDigest.length !== 32) throw new TypeError('digests must be 32 bytes');
  if (!trusteeCommitments.length) throw new RangeError("at least one trustee's commitments are needed");
  const trusteeFields = trusteeCommitments.map((row, i) => {
    if (!row.length) throw new RangeError(`trusteeCommitments[${i}] must not be empty`);
    return concatBytes(encInt(row.length), ...row.map(pointToBytes));
  });
  return taggedHash(
    TAG_FINGERPRINT, manifestDigest, pointToBytes(jointKey), encInt(trusteeCommitments.length),
    ...trusteeFields, credentialsDigest,
  );
}

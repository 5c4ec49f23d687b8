// Ballots: encrypt, prove, sign, track and audit — byte for byte as
// evote/ballot.py (docs/protocol-ballots.md).  Recipe layer: this is what the
// booth calls; group.js/elgamal.js/proofs.js are the hazmat underneath.
//
//   option proof ctx = ["ballot-option", fingerprint, credential, election_id, enc_int(q), enc_int(o)]
//   sum proof ctx    = ["ballot-sum",    fingerprint, credential, election_id, enc_int(q)]
//   signature        = Ed25519 over transcript("ballot-signature", [fingerprint, content])
//                      where content = RFC 8785 of the ballot without "signature"
//   ballot hash      = tagged_hash("ballot", RFC 8785 of the whole ballot)
//   tracking code    = Crockford base32 of the first 10 bytes, in groups of 4
//
// Randomness is drawn as Python draws it: one scalar per option, question by
// question, then the proofs (each option in order, then the question's sum
// proof) from the same rng.

import { Ciphertext, encrypt, sumCiphertexts } from './elgamal.js';
import { b64decode, b64encode, canonicalJson, concatBytes, expectList, Fields, utf8 } from './encoding.js';
import { AuditMismatch, InvalidBallot, InvalidProof, SchemaError } from './errors.js';
import { crockfordEncode, groupCode } from './credentials.js';
import { electionFingerprint } from './fingerprint.js';
import { randomScalar, sAdd, scalarFromJson, scalarToJson } from './group.js';
import { encInt, encStr, taggedHash, TAG_BALLOT, TAG_BALLOT_SIGNATURE } from './hashing.js';
import { proveRange, rangeProofFromJson, rangeProofToJson, verifyRange } from './proofs.js';
import { publicKeyOf, signTagged, verifyKeyFromJson, verifyTagged } from './signing.js';

export const OPTION_PROOF_LABEL = utf8('ballot-option');
export const SUM_PROOF_LABEL = utf8('ballot-sum');
export const TRACKING_BYTES = 10;

/**
 * What a ballot is made and checked against: the manifest the voter sees,
 * the joint key and the fingerprint.  `build` recomputes the fingerprint
 * from its parts; a booth compares it with the one the server announces.
 */
export class ElectionContext {
  constructor(manifest, jointKey, fingerprint) {
    if (fingerprint.length !== 32) throw new TypeError('fingerprint must be 32 bytes');
    // Every option multiplies by the joint key: a window table makes that ~2x faster.
    jointKey.precompute(8, false);
    Object.assign(this, { manifest, jointKey, fingerprint });
    Object.freeze(this);
  }

  static build(manifest, jointKey, trusteeCommitments, credentialsDigest) {
    const fp = electionFingerprint(manifest.digest(), jointKey, trusteeCommitments, credentialsDigest);
    return new ElectionContext(manifest, jointKey, fp);
  }

  get electionId() {
    return this.manifest.electionId;
  }
}

export const optionProofContext = (fingerprint, credential, electionId, q, o) =>
  [OPTION_PROOF_LABEL, fingerprint, credential, encStr(electionId), encInt(q), encInt(o)];

export const sumProofContext = (fingerprint, credential, electionId, q) =>
  [SUM_PROOF_LABEL, fingerprint, credential, encStr(electionId), encInt(q)];

// ---------------------------------------------------------------------------
// Selections
// ---------------------------------------------------------------------------

/**
 * Reject selections the manifest does not allow, before anything is
 * encrypted.  The InvalidBallot's detail says why in terms the UI can put in
 * the voter's language: {question, reason: "too_many"|"too_few"|"value"|"shape", ...}.
 */
export function checkSelections(manifest, selections) {
  const n = manifest.questions.length;
  if (!Array.isArray(selections) || selections.length !== n) {
    throw new InvalidBallot(`selections: expected ${n} questions`, { reason: 'shape' });
  }
  return manifest.questions.map((question, q) => {
    const values = selections[q];
    const k = question.options.length;
    if (!Array.isArray(values) || values.length !== k) {
      throw new InvalidBallot(`selections[${q}]: expected ${k} values, one per option`, { question: q, reason: 'shape' });
    }
    values.forEach((v, o) => {
      if (!Number.isInteger(v) || v < 0 || v > question.maxScore) {
        throw new InvalidBallot(`selections[${q}][${o}]: must be between 0 and ${question.maxScore}`, {
          question: q, option: o, reason: 'value',
        });
      }
    });
    const total = values.reduce((a, b) => a + b, 0);
    if (total > question.max) {
      throw new InvalidBallot(`selections[${q}]: ${total}, at most ${question.max} allowed`, {
        question: q, reason: 'too_many', total, min: question.min, max: question.max,
      });
    }
    if (total < question.min) {
      throw new InvalidBallot(`selections[${q}]: ${total}, at least ${question.min} required`, {
        question: q, reason: 'too_few', total, min: question.min, max: question.max,
      });
    }
    return Object.freeze([...values]);
  });
}

// ---------------------------------------------------------------------------
// The ballot
// ---------------------------------------------------------------------------

export class EncryptedAnswer {
  constructor(choices, proofs, sumProof = null) {
    Object.assign(this, { choices, proofs, sumProof });
    Object.freeze(this);
  }

  static fromJson(obj, question, path) {
    const keys = question.needsSumProof ? ['choices', 'proofs', 'sum_proof'] : ['choices', 'proofs'];
    const f = new Fields(obj, path, { required: keys });
    const n = question.options.length;
    const choices = expectList(f.raw('choices'), f.sub('choices'), n)
      .map((v, o) => Ciphertext.fromJson(v, `${f.sub('choices')}[${o}]`));
    const width = question.maxScore + 1;
    const proofs = expectList(f.raw('proofs'), f.sub('proofs'), n)
      .map((v, o) => rangeProofFromJson(v, `${f.sub('proofs')}[${o}]`, width));
    let sumProof = null;
    if (question.needsSumProof) {
      const [lo, hi] = question.sumRange;
      sumProof = rangeProofFromJson(f.raw('sum_proof'), f.sub('sum_proof'), hi - lo + 1);
    }
    return new EncryptedAnswer(choices, proofs, sumProof);
  }

  toJson() {
    const out = {
      choices: this.choices.map((ct) => ct.toJson()),
      proofs: this.proofs.map(rangeProofToJson),
    };
    if (this.sumProof !== null) out.sum_proof = rangeProofToJson(this.sumProof);
    return out;
  }
}

export class Ballot {
  /** credential: 32-byte public key; signature: 64 bytes. */
  constructor(electionId, credential, answers, signature) {
    Object.assign(this, { electionId, credential, answers, signature });
    this._content = canonicalJson(this.unsignedJson());
    Object.freeze(this);
  }

  static fromJson(obj, manifest, path = 'ballot') {
    const f = new Fields(obj, path, { required: ['election_id', 'credential', 'answers', 'signature'] });
    const electionId = f.str('election_id', { maxLen: 64 });
    const credential = verifyKeyFromJson(f.raw('credential'), f.sub('credential'));
    const rows = expectList(f.raw('answers'), f.sub('answers'), manifest.questions.length);
    const answers = rows.map((row, q) => EncryptedAnswer.fromJson(row, manifest.questions[q], `${f.sub('answers')}[${q}]`));
    const signature = f.bytes('signature', { length: 64 });
    return new Ballot(electionId, credential, answers, signature);
  }

  unsignedJson() {
    return {
      election_id: this.electionId,
      credential: b64encode(this.credential),
      answers: this.answers.map((a) => a.toJson()),
    };
  }

  toJson() {
    return { ...this.unsignedJson(), signature: b64encode(this.signature) };
  }

  /** RFC 8785 bytes of the ballot without its signature: what the credential signs. */
  contentForSignature() {
    return this._content;
  }

  /** RFC 8785 bytes of toJson() ("signature" sorts last, so it is appended). */
  canonical() {
    const sig = canonicalJson(b64encode(this.signature));
    return concatBytes(this._content.slice(0, -1), utf8(',"signature":'), sig, utf8('}'));
  }

  /** tagged_hash("ballot", canonical()): the ballot's name on the board. */
  ballotHash() {
    return taggedHash(TAG_BALLOT, this.canonical());
  }

  get trackingCode() {
    return trackingCodeOf(this.ballotHash());
  }
}

/** XXXX-XXXX-XXXX-XXXX from a 32-byte ballot hash. */
export const trackingCodeOf = (ballotHash) => groupCode(crockfordEncode(ballotHash.slice(0, TRACKING_BYTES)));

// ---------------------------------------------------------------------------
// Making a ballot
// ---------------------------------------------------------------------------

const signatureFields = (ctx, content) => [ctx.fingerprint, content];

/** Sign `answers` with the credential seed for this election. */
export function signBallot(ctx, seed, answers) {
  const pub = publicKeyOf(seed);
  const unsigned = new Ballot(ctx.electionId, pub, answers, new Uint8Array(64));
  const signature = signTagged(seed, TAG_BALLOT_SIGNATURE, signatureFields(ctx, unsigned.contentForSignature()));
  return new Ballot(ctx.electionId, pub, answers, signature);
}

/** One non-zero scalar per option, question by question. */
export function randomBallotRandomness(manifest, rng) {
  return manifest.questions.map((q) => q.options.map(() => randomScalar(rng)));
}

/**
 * Encrypt, prove and sign with explicit encryption randomness; `proofRng`
 * supplies the proof nonces.  Throws InvalidBallot for selections the
 * manifest does not allow, before any work.
 */
export function encryptBallotDeterministic(ctx, seed, selections, randomness, proofRng) {
  const { manifest } = ctx;
  const chosen = checkSelections(manifest, selections);
  checkRandomnessShape(manifest, randomness);
  const key = ctx.jointKey;
  const pub = publicKeyOf(seed);
  const answers = manifest.questions.map((question, q) => {
    const [lo, hi] = question.optionRange;
    const choices = [];
    const proofs = [];
    chosen[q].forEach((m, o) => {
      const r = randomness[q][o];
      const ct = encrypt(key, m, r);
      choices.push(ct);
      proofs.push(proveRange(optionProofContext(ctx.fingerprint, pub, ctx.electionId, q, o), key, ct, m, r, lo, hi, proofRng));
    });
    let sumProof = null;
    if (question.needsSumProof) {
      const totalR = randomness[q].reduce((acc, r) => sAdd(acc, r), 0n);
      const [smin, smax] = question.sumRange;
      const total = chosen[q].reduce((a, b) => a + b, 0);
      sumProof = proveRange(
        sumProofContext(ctx.fingerprint, pub, ctx.electionId, q), key, sumCiphertexts(choices),
        total, totalR, smin, smax, proofRng,
      );
    }
    return new EncryptedAnswer(choices, proofs, sumProof);
  });
  return signBallot(ctx, seed, answers);
}

function checkRandomnessShape(manifest, randomness) {
  if (!Array.isArray(randomness) || randomness.length !== manifest.questions.length) {
    throw new RangeError('randomness: one list per question is needed');
  }
  manifest.questions.forEach((question, q) => {
    const row = randomness[q];
    if (!Array.isArray(row) || row.length !== question.options.length) {
      throw new RangeError(`randomness[${q}]: one scalar per option is needed`);
    }
    row.forEach((r, o) => {
      if (typeof r !== 'bigint' || r <= 0n) throw new RangeError(`randomness[${q}][${o}]: must be a non-zero scalar`);
    });
  });
}

/**
 * Encrypt with fresh randomness.  Returns {ballot, secrets}; the secrets
 * (selections and randomness) stay in the browser and are revealed only if
 * the voter audits this ballot.
 */
export function encryptBallot(ctx, seed, selections, rng) {
  const chosen = checkSelections(ctx.manifest, selections);
  const randomness = randomBallotRandomness(ctx.manifest, rng);
  const ballot = encryptBallotDeterministic(ctx, seed, chosen, randomness, rng);
  return { ballot, secrets: { selections: chosen, randomness } };
}

// ---------------------------------------------------------------------------
// Verifying (the receipt page and the tests; the server checks the credential list)
// ---------------------------------------------------------------------------

/**
 * Check the signature and every proof.  Not the credential list (the booth
 * does not hold it): the server and every verifier do that.
 */
export function verifyBallot(ctx, ballot) {
  const { manifest } = ctx;
  if (ballot.electionId !== manifest.electionId) {
    throw new InvalidBallot(`ballot is for election '${ballot.electionId}', not '${manifest.electionId}'`);
  }
  if (ballot.answers.length !== manifest.questions.length) throw new SchemaError('ballot.answers: wrong count');
  verifyTagged(ballot.credential, TAG_BALLOT_SIGNATURE, signatureFields(ctx, ballot.contentForSignature()), ballot.signature);
  const key = ctx.jointKey;
  manifest.questions.forEach((question, q) => {
    const answer = ballot.answers[q];
    if (answer.choices.length !== question.options.length || (answer.sumProof !== null) !== question.needsSumProof) {
      throw new SchemaError(`ballot.answers[${q}]: shape does not match the question`);
    }
    const [lo, hi] = question.optionRange;
    answer.choices.forEach((ct, o) => {
      try {
        verifyRange(optionProofContext(ctx.fingerprint, ballot.credential, ballot.electionId, q, o), key, ct, lo, hi, answer.proofs[o]);
      } catch (exc) {
        if (exc instanceof InvalidProof) throw new InvalidProof(`question ${q} option ${o}: range proof does not verify`, { question: q, option: o });
        throw exc;
      }
    });
    if (answer.sumProof !== null) {
      const [smin, smax] = question.sumRange;
      try {
        verifyRange(sumProofContext(ctx.fingerprint, ballot.credential, ballot.electionId, q), key, sumCiphertexts(answer.choices), smin, smax, answer.sumProof);
      } catch (exc) {
        if (exc instanceof InvalidProof) throw new InvalidProof(`question ${q}: sum proof does not verify`, { question: q });
        throw exc;
      }
    }
  });
}

// ---------------------------------------------------------------------------
// Cast or audit
// ---------------------------------------------------------------------------

/** {"ballot", "selections", "randomness"}: what an audit reveals and posts. */
export function auditedBallotJson(ballot, secrets) {
  return {
    ballot: ballot.toJson(),
    selections: secrets.selections.map((row) => [...row]),
    randomness: secrets.randomness.map((row) => row.map(scalarToJson)),
  };
}

export function auditedBallotFromJson(obj, manifest, path = 'audited') {
  const f = new Fields(obj, path, { required: ['ballot', 'selections', 'randomness'] });
  const ballot = Ballot.fromJson(f.raw('ballot'), manifest, f.sub('ballot'));
  const nq = manifest.questions.length;
  const selections = expectList(f.raw('selections'), f.sub('selections'), nq).map((row, q) =>
    expectList(row, `${f.sub('selections')}[${q}]`, manifest.questions[q].options.length));
  const randomness = expectList(f.raw('randomness'), f.sub('randomness'), nq).map((row, q) =>
    expectList(row, `${f.sub('randomness')}[${q}]`, manifest.questions[q].options.length).map(scalarFromJson));
  return { ballot, selections, randomness };
}

/**
 * Check that the revealed choices re-encrypt to the ballot's ciphertexts
 * (AuditMismatch naming question and option), then the ballot itself.
 */
export function verifyAudit(ctx, audited) {
  const chosen = checkSelections(ctx.manifest, audited.selections);
  audited.ballot.answers.forEach((answer, q) => {
    answer.choices.forEach((ct, o) => {
      const again = encrypt(ctx.jointKey, chosen[q][o], audited.randomness[q][o]);
      if (!again.alpha.equals(ct.alpha) || !again.beta.equals(ct.beta)) {
        throw new AuditMismatch(`question ${q} option ${o}: the ciphertext does not encrypt the revealed value ${chosen[q][o]}`, { question: q, option: o });
      }
    });
  });
  verifyBallot(ctx, audited.ballot);
}


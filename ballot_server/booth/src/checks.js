// The booth's decisions that need no DOM: the fingerprint gate, the receipt
// and board-entry checks, the "check my ballot" verification (inclusion,
// entry, receipt, witnesses), the audit verdict, the rule breaches of a
// question, and which screen a state belongs on.  Kept apart from the screens
// so that node tests (test/checks.test.js) can feed them real and tampered
// artefacts; the screens only show what these return.

import { ApiError, NetworkError } from './api.js';
import { auditedBallotFromJson, auditedBallotJson, Ballot, ElectionContext, verifyAudit } from './ballot.js';
import { parseCheckpoint, parseNote } from './checkpoint.js';
import { b64decode, bytesEqual, canonicalJson, fromUtf8, parseJson } from './encoding.js';
import { EvoteError } from './errors.js';
import { electionFingerprint } from './fingerprint.js';
import { pointFromJson } from './group.js';
import { Manifest } from './manifest.js';
import {
  leafHash, receiptFromJson, signedTreeHeadFromJson, verifyInclusion, verifyReceipt, verifySignedTreeHead,
} from './merkle.js';
import { checkReason } from './messages.js';
import { gradingProblem, rankingProblem } from './ranking.js';
import { verifyCosignedInclusion } from './witness.js';

// ---------------------------------------------------------------------------
// The fingerprint gate
// ---------------------------------------------------------------------------

/**
 * Judge the booth's election data (GET /booth/<id>/election.json).  The
 * fingerprint the official signed on the board must be the one this manifest,
 * key and ceremony give, for this page's election: otherwise the booth would
 * encrypt for something other than what the election published.
 *
 * Returns {verdict: 'ok', election} (election: {manifest, fingerprint, ctx,
 * boardKey, phase}), {verdict: 'setup', manifest} (set up, not opened: nothing
 * signed to compare with yet), or {verdict: 'fingerprint'} (refuse to run).
 */
export function fingerprintGate(data, electionId) {
  try {
    const manifest = Manifest.fromJson(data.manifest);
    const jointKey = pointFromJson(data.joint_key);
    const commitments = data.trustee_commitments.map((row) => row.map((c) => pointFromJson(c)));
    const credentialsDigest = b64decode(data.credentials_digest, { length: 32 });
    const fingerprint = electionFingerprint(manifest.digest(), jointKey, commitments, credentialsDigest);
    if (data.fingerprint === null && data.phase === 'setup' && manifest.electionId === electionId) {
      return { verdict: 'setup', manifest };
    }
    if (data.fingerprint === null || !bytesEqual(fingerprint, b64decode(data.fingerprint, { length: 32 }))
      || manifest.electionId !== electionId) {
      return { verdict: 'fingerprint' };
    }
    return {
      verdict: 'ok',
      election: {
        manifest,
        fingerprint,
        ctx: new ElectionContext(manifest, jointKey, fingerprint),
        boardKey: b64decode(data.board_key, { length: 32 }),
        phase: data.phase,
      },
    };
  } catch (exc) {
    if (exc instanceof EvoteError) return { verdict: 'fingerprint' };
    throw exc;
  }
}

/**
 * This bundle's SHA-256 (`own`, null when its bytes could not be had) against
 * the board's booth_sha256 (base64url, or null/undefined when none was
 * published): 'unpublished', 'match', 'mismatch', or null (own unknown: a
 * mismatch whose digest the footer cannot show).
 */
export function boothDigestVerdict(published, own) {
  if (published === null || published === undefined) return 'unpublished';
  const onBoard = b64decode(published, { length: 32, what: 'booth_sha256' });
  if (own === null) return null;
  return bytesEqual(own, onBoard) ? 'match' : 'mismatch';
}

// ---------------------------------------------------------------------------
// Receipts and board entries
// ---------------------------------------------------------------------------

/** The receipt, checked before it is shown: signed by the board key, proof valid, for this ballot. */
export function checkedReceipt(json, { trackingCode, boardKey, electionId }) {
  const receipt = receiptFromJson(json);
  verifyReceipt(receipt, boardKey);
  if (receipt.trackingCode !== trackingCode || receipt.election !== electionId) {
    throw new EvoteError('the receipt is for another ballot');
  }
  return receipt;
}

/**
 * A lookup's answer (api.md §5.2: {entry, receipt}) for the ballot this device
 * sent (`sentBytes`, its canonical JSON as text): the receipt checks out, the
 * entry hashes to the receipt's entry hash, it is a ballot_cast, and its
 * ballot is byte for byte the one sent.  Returns the receipt; throws an
 * EvoteError (or a TypeError for an answer of the wrong shape) otherwise.
 */
export function lookedUpReceipt(answer, { trackingCode, sentBytes, boardKey, electionId }) {
  const receipt = checkedReceipt(answer?.receipt, { trackingCode, boardKey, electionId });
  const { entry } = answer;
  if (!bytesEqual(leafHash(canonicalJson(entry)), receipt.entryHash) || entry.kind !== 'ballot_cast'
    || fromUtf8(canonicalJson(entry.payload.ballot)) !== sentBytes) {
    throw new EvoteError('the board entry is not the ballot this device sent');
  }
  return receipt;
}

/** The hash of the ballot whose canonical bytes are `bytes` (null when there are none or they do not parse). */
export function ballotHashOf(bytes, manifest) {
  try {
    return bytes ? Ballot.fromJson(parseJson(bytes), manifest).ballotHash() : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------
// "Check my ballot"
// ---------------------------------------------------------------------------

/**
 * Check the ballot with tracking code `code` on the board, in the browser:
 * the board's signed tree head, the inclusion proof to it, the entry (its
 * hash, index and tracking code, and the ballot hash of the receipt this
 * device holds), that receipt's signatures, and with witnesses a checkpoint
 * they cosigned that includes the entry.
 *
 * `fetch` holds the four requests ({inclusion(code), ballotEntry(code),
 * cosigned(), inclusionAt(code, size)}: api.js).  Returns {steps, failure,
 * error}: the steps that passed, in order ({key, params}); the failure's
 * catalogue key or null ('check.reason.not_witnessed' means pending, not
 * failed); error, the ApiError or NetworkError that stopped the check (the
 * screen says what went wrong with the connection), or null.
 */
export async function checkOnBoard(code, { boardKey, electionId, manifest, receipt, fetch }) {
  const steps = [];
  try {
    const failure = await checkSteps(code, { boardKey, electionId, manifest, receipt, fetch }, steps);
    return { steps, failure, error: null };
  } catch (exc) {
    if (exc instanceof ApiError && exc.code === 'not_found') return { steps, failure: 'check.not_found', error: null };
    if (exc instanceof ApiError || exc instanceof NetworkError) return { steps, failure: null, error: exc };
    if (exc instanceof EvoteError) return { steps, failure: checkReason(exc), error: null };
    throw exc;
  }
}

async function checkSteps(code, { boardKey, electionId, manifest, receipt, fetch }, steps) {
  const proof = await fetch.inclusion(code);
  const sth = signedTreeHeadFromJson(proof.tree_head);
  verifySignedTreeHead(sth, boardKey);
  steps.push({ key: 'check.step.head', params: { size: sth.head.size } });
  const entryHash = b64decode(proof.entry_hash, { length: 32 });
  const path = proof.proof.map((p) => b64decode(p, { length: 32 }));
  verifyInclusion(proof.index, sth.head.size, entryHash, path, sth.head.root);
  steps.push({ key: 'check.step.inclusion', params: { index: proof.index } });
  const entry = await fetch.ballotEntry(code);
  const payload = entry.kind === 'ballot_cast' ? entry.payload.ballot : entry.payload?.audited?.ballot;
  const ballot = Ballot.fromJson(payload, manifest);
  if (entry.index !== proof.index || !bytesEqual(leafHash(canonicalJson(entry)), entryHash) || ballot.trackingCode !== code) {
    return 'check.reason.entry';
  }
  const ours = receipt && receipt.trackingCode === code;
  if (ours && receipt.ballotHash && !bytesEqual(ballot.ballotHash(), receipt.ballotHash)) return 'check.reason.entry';
  steps.push({ key: 'check.step.entry', params: { index: entry.index } });
  if (ours) {
    verifyReceipt(receiptFromJson(receipt.json), boardKey);
    steps.push({ key: 'check.step.receipt' });
  }
  const policy = manifest.witnesses;
  if (policy === null) return null;
  return checkWitnessed(code, { boardKey, electionId, policy, index: proof.index, entryHash, fetch }, steps);
}

/**
 * The election has witnesses: the ballot must be in a checkpoint that enough of
 * them cosigned (evote.witness.verify_cosigned_inclusion, docs/witness.md §6):
 * the latest cosigned checkpoint, once it covers the ballot's index, and the
 * inclusion proof of the same entry hash to its size.  Returns a failure key
 * ('check.reason.not_witnessed': not cosigned yet) or null, and adds the step
 * naming the witnesses; a bad signature or proof throws.
 */
export async function checkWitnessed(code, { boardKey, electionId, policy, index, entryHash, fetch }, steps) {
  let cosigned;
  try {
    cosigned = await fetch.cosigned();
  } catch (exc) {
    if (exc instanceof ApiError && exc.code === 'not_found') return 'check.reason.not_witnessed';
    throw exc;
  }
  if (typeof cosigned?.checkpoint !== 'string') return 'check.reason.format';
  const { size } = parseCheckpoint(parseNote(cosigned.checkpoint).text);
  if (size <= index) return 'check.reason.not_witnessed';
  const answer = await fetch.inclusionAt(code, size);
  if (answer.index !== index || !Array.isArray(answer.proof)) return 'check.reason.entry';
  const names = verifyCosignedInclusion(cosigned.checkpoint, {
    boardKey,
    election: electionId,
    index,
    entryHash,
    proof: answer.proof.map((p) => b64decode(p, { length: 32 })),
    policy,
  });
  steps.push({
    key: 'check.step.witnesses',
    params: { size, names: names.join(', '), k: policy.threshold, n: policy.keys.length },
  });
  return null;
}

// ---------------------------------------------------------------------------
// Cast or audit
// ---------------------------------------------------------------------------

/**
 * The audit of `ballot` with its `secrets`, judged as every verifier judges
 * it: the audit data this device posts is parsed back and checked with
 * verifyAudit (each ciphertext re-encrypts from the revealed choice and
 * randomness; the ballot's signature and proofs hold).  Returns {json, content,
 * match}: the audit data to post, the choices the encryption is proven to hold
 * (null when the check fails: the ciphertexts then hold something other than
 * what this device claims), and whether they are the choices on screen
 * (`shown`).
 */
export function auditVerdict(ctx, ballot, secrets, shown) {
  const json = auditedBallotJson(ballot, secrets);
  let audited;
  try {
    audited = auditedBallotFromJson(parseJson(JSON.stringify(json)), ctx.manifest);
    verifyAudit(ctx, audited);
  } catch (exc) {
    if (!(exc instanceof EvoteError)) throw exc;
    return { json, content: null, match: false };
  }
  const content = audited.selections.map((row) => [...row]);
  const match = content.length === shown.length
    && content.every((row, q) => row.length === shown[q].length && row.every((v, o) => v === shown[q][o]));
  return { json, content, match };
}

// ---------------------------------------------------------------------------
// The ballot's rules, and where the booth stands
// ---------------------------------------------------------------------------

/** A choice or score question's rule: the total within [min, max]. */
function totalBreach(q, values, { final }) {
  const total = values.reduce((a, b) => a + b, 0);
  if (total > q.max) return { key: `q.error.too_many.${q.kind}`, params: { total, max: q.max } };
  if (final && total < q.min) return { key: `q.error.too_few.${q.kind}`, params: { total, min: q.min } };
  return null;
}

/**
 * A ranked question's rule (ranking.js): each rank once, no gap.  The params
 * carry ranks as numbers and options as indices; the screen words them
 * (ordinals and labels in the voter's language).
 */
function rankedBreach(q, values, { final }) {
  const problem = rankingProblem(values, q.options.length, { final });
  if (problem === null) return null;
  return { key: `q.error.rank_${problem.reason}`, params: problem };
}

/** A graded question's rule: one grade of the question's own per option. */
function gradesBreach(q, values) {
  const problem = gradingProblem(values, q.options.length, q.grades.length);
  return problem === null ? null : { key: 'q.error.grade_value', params: problem };
}

/**
 * kind → breach(q, values, {final}): each question kind's own rule.  The
 * screens' QUESTION_KINDS (screens/questions.js) shows what these return;
 * addQuestionKind registers a new kind's rule here.
 */
export const QUESTION_RULES = { choice: totalBreach, score: totalBreach, ranked: rankedBreach, grades: gradesBreach };

/** The rule breach of question q for `values`, or null (`final`: also too few or a gap, once the voter pressed Review). */
export function breach(q, values, { final }) {
  const rule = QUESTION_RULES[q.kind];
  if (rule === undefined) throw new Error(`no rule for question kind ${q.kind}`);
  return rule(q, values, { final });
}

/** The index of the first question whose selections break its rule, or null. */
export function firstBreach(manifest, selections) {
  for (const [qi, q] of manifest.questions.entries()) {
    if (breach(q, selections[qi], { final: true })) return qi;
  }
  return null;
}

/** The first screen for an election's phase (the vote starts at login; the others say why not). */
export function homeScreen(phase) {
  if (phase === 'open') return 'login';
  if (phase === 'closed') return 'closed';
  if (phase === 'tallied') return 'tallied';
  return 'notopen';
}

const MARKING_SCREENS = ['ballot', 'review', 'sealed'];

/** Whether leaving the page now would lose marks or a sealed ballot the voter has not sent. */
export function hasUnsentMarks({ screen, backTo, cast, selections }) {
  if (!MARKING_SCREENS.includes(screen) && !(screen === 'check' && MARKING_SCREENS.includes(backTo))) return false;
  if (cast.phase === 'sealed') return true;
  return Boolean(selections?.some((row) => row.some((v) => v !== 0)));
}

/**
 * The screen of a cast machine state (caststate.js), or null for phases with
 * no screen of their own.  A resend after a lost answer stays on the
 * "checking" screen: no flicker between screens.
 */
export function castScreen(state) {
  if (state.phase === 'sending' && state.attempt > 1) return 'unknown';
  return {
    sending: 'sending', unknown: 'unknown', need_login: 'need_login', cast: 'cast', refused: 'refused',
  }[state.phase] ?? null;
}

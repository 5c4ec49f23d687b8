"""Ballots: encrypt, prove, sign, verify, and audit (the recipe layer).

A ballot answers every question of the manifest.  For each option it carries
an exponential ElGamal ciphertext under the joint election key and a
disjunctive proof that it encrypts a value in ``question.option_range``; for
each question whose rules are not already implied by the per-option ranges it
carries one more proof that the homomorphic sum of the question's ciphertexts
lies in ``question.sum_range``.  The voter's credential signs the whole.

Every proof is strong Fiat–Shamir and bound to where it sits (see
``docs/protocol-ballots.md``)::

    option proof ctx = [b"ballot-option", fingerprint, credential, election_id, enc_int(q), enc_int(o)]
    sum proof ctx    = [b"ballot-sum",    fingerprint, credential, election_id, enc_int(q)]

so a ballot copied to another credential, another election, another question
or option fails its proofs even when re-signed.

Shape of the API (after pyca/cryptography's Fernet): inputs are type-checked
first; :func:`encrypt_ballot_deterministic` takes the encryption randomness
explicitly (test vectors, audits), :func:`encrypt_ballot` draws it from an
``rng``; :func:`verify_ballot` and :func:`verify_audit` return a value or
``None`` and raise a class from :mod:`evote.errors` otherwise.

Cast or audit: after encrypting, a voter may *audit* the ballot instead of
casting it; the device then reveals the randomness and the choices
(:class:`AuditedBallot`) and anyone can re-encrypt them (:func:`verify_audit`).
A ballot whose randomness was revealed is no longer secret, so the server
refuses to cast any ballot containing a ciphertext that appeared in an audited
ballot (it records :meth:`Ballot.ciphertext_alphas` of every audited ballot);
the voter re-encrypts, with fresh randomness, to cast.

The values (:class:`Ballot`, :class:`EncryptedAnswer`, :class:`BallotRandomness`,
:class:`BallotSecrets`) and their strict decoding live in :mod:`evote.ballot_format`;
this module holds the recipes and re-exports those names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# The values live in evote.ballot_format; they are re-exported here (``X as X``) so that
# callers import every ballot name from this module.
from evote.ballot_format import TRACKING_BYTES as TRACKING_BYTES
from evote.ballot_format import Ballot, BallotRandomness, BallotSecrets, EncryptedAnswer, Selections
from evote.ballot_format import _read_ballot as _read_ballot  # tests/test_ballot.py's fast path
from evote.elgamal import encrypt, sum_ciphertexts
from evote.encoding import (
    Fields,
    expect_list,
)
from evote.errors import (
    AuditMismatch,
    InvalidBallot,
    InvalidProof,
    SchemaError,
)
from evote.fingerprint import ElectionContext
from evote.group import ZERO, Rng
from evote.hashing import (
    CTX_BALLOT_OPTION,
    CTX_BALLOT_SUM,
    TAG_BALLOT_SIGNATURE,
    enc_int,
    enc_str,
)
from evote.manifest import Manifest, Question
from evote.proofs import prove_range, verify_range
from evote.signing import SIGNATURE_BYTES, SigningKey, VerifyKey

OPTION_PROOF_LABEL = CTX_BALLOT_OPTION
SUM_PROOF_LABEL = CTX_BALLOT_SUM


# --------------------------------------------------------------------------
# Proof contexts
# --------------------------------------------------------------------------


def option_proof_context(
    fingerprint: bytes, credential: VerifyKey, election_id: str, q: int, o: int
) -> list[bytes]:
    """The Fiat–Shamir context of the range proof for option ``o`` of question ``q``."""
    return [
        OPTION_PROOF_LABEL,
        fingerprint,
        credential.raw,
        enc_str(election_id),
        enc_int(q),
        enc_int(o),
    ]


def sum_proof_context(
    fingerprint: bytes, credential: VerifyKey, election_id: str, q: int
) -> list[bytes]:
    """The Fiat–Shamir context of the range proof on question ``q``'s total."""
    return [SUM_PROOF_LABEL, fingerprint, credential.raw, enc_str(election_id), enc_int(q)]


def _selection_label(q: int, question: Question) -> str:
    return f"selections[{q}] (question {question.id!r})"


# --------------------------------------------------------------------------
# Selections and randomness
# --------------------------------------------------------------------------


def check_selections(manifest: Manifest, selections: Sequence[Sequence[int]]) -> Selections:
    """Reject selections the manifest does not allow, before anything is encrypted.

    ``selections[q][o]`` is the value for option ``o`` of question ``q``: 0/1
    for a choice question, 0..max_score points for a score question, a rank 0..k
    (0 unranked) for a ranked question, a grade 0..G−1 for a grades question.
    A ranked row is not checked for repeats or gaps here: the counting rule
    reads it (:func:`evote.counting.ballots.preferences`), so a voter's client
    that lets an ill-formed ranking through cannot make the ballot invalid.
    Raises :class:`InvalidBallot` saying what is wrong in the voter's terms.
    """
    n = len(manifest.questions)
    if isinstance(selections, str | bytes) or not isinstance(selections, Sequence):
        raise InvalidBallot("selections: expected one list of values per question")
    if len(selections) != n:
        raise InvalidBallot(f"selections: expected {n} questions, got {len(selections)}")
    out = []
    for q, (question, values) in enumerate(zip(manifest.questions, selections, strict=True)):
        label = _selection_label(q, question)
        k = len(question.options)
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise InvalidBallot(f"{label}: expected a list of {k} values, one per option")
        if len(values) != k:
            raise InvalidBallot(f"{label}: expected {k} values, one per option, got {len(values)}")
        for o, v in enumerate(values):
            if not isinstance(v, int) or isinstance(v, bool):
                raise InvalidBallot(f"selections[{q}][{o}]: expected an integer")
            if not 0 <= v <= question.max_score:
                rule = {
                    "choice": "0 or 1",
                    "ranked": f"a rank between 1 and {question.max_score}, or 0 for unranked",
                    "grades": f"a grade between 0 and {question.max_score}",
                }.get(question.kind, f"between 0 and {question.max_score}")
                raise InvalidBallot(f"selections[{q}][{o}]: must be {rule}, got {v}")
        total = sum(values)
        what = "options marked" if question.kind == "choice" else "points given"
        if total > question.max:
            raise InvalidBallot(f"{label}: {total} {what}, at most {question.max} allowed")
        if total < question.min:
            raise InvalidBallot(f"{label}: {total} {what}, at least {question.min} required")
        out.append(tuple(values))
    return tuple(out)



# --------------------------------------------------------------------------
# Making a ballot
# --------------------------------------------------------------------------


def _signature_fields(ctx: ElectionContext, content: bytes) -> list[bytes]:
    return [ctx.fingerprint, content]


def sign_ballot(
    ctx: ElectionContext, credential: SigningKey, answers: Sequence[EncryptedAnswer]
) -> Ballot:
    """Sign ``answers`` with ``credential`` for this election.

    The signature covers ``transcript(TAG_BALLOT_SIGNATURE, [fingerprint,
    content_for_signature()])``.  No check of the answers happens here.
    """
    if not isinstance(credential, SigningKey):
        raise TypeError("credential must be a SigningKey")
    key = credential.verify_key
    unsigned = Ballot(ctx.election_id, key, tuple(answers), bytes(SIGNATURE_BYTES))
    signature = credential.sign(
        TAG_BALLOT_SIGNATURE, _signature_fields(ctx, unsigned.content_for_signature())
    )
    return Ballot(ctx.election_id, key, unsigned.answers, signature)


def encrypt_ballot_deterministic(
    ctx: ElectionContext,
    credential: SigningKey,
    selections: Sequence[Sequence[int]],
    randomness: BallotRandomness,
    proof_rng: Rng,
) -> Ballot:
    """Encrypt, prove and sign with explicit encryption randomness.

    ``proof_rng`` supplies the proof nonces (pass a seeded generator to
    reproduce a vector byte for byte).  Raises :class:`InvalidBallot` for
    selections the manifest does not allow and :class:`CredentialError` for
    a credential that is not on the list, both before any work.
    """
    if not isinstance(ctx, ElectionContext):
        raise TypeError("ctx must be an ElectionContext")
    if not isinstance(credential, SigningKey):
        raise TypeError("credential must be a SigningKey")
    if not isinstance(randomness, BallotRandomness):
        raise TypeError("randomness must be a BallotRandomness")
    manifest = ctx.manifest
    chosen = check_selections(manifest, selections)
    randomness.check_shape(manifest)
    key = ctx.joint_key
    public = credential.verify_key
    ctx.credentials.weight_of(public)
    answers = []
    for q, question in enumerate(manifest.questions):
        lo, hi = question.option_range
        choices, proofs = [], []
        for o, (m, r) in enumerate(zip(chosen[q], randomness.values[q], strict=True)):
            ct = encrypt(key, m, r)
            pctx = option_proof_context(ctx.fingerprint, public, ctx.election_id, q, o)
            choices.append(ct)
            proofs.append(prove_range(pctx, key, ct, m, r, lo, hi, proof_rng))
        sum_proof = None
        if question.needs_sum_proof:
            total_r = ZERO
            for r in randomness.values[q]:
                total_r = total_r + r
            smin, smax = question.sum_range
            sctx = sum_proof_context(ctx.fingerprint, public, ctx.election_id, q)
            sum_proof = prove_range(
                sctx, key, sum_ciphertexts(choices), sum(chosen[q]), total_r, smin, smax, proof_rng
            )
        answers.append(EncryptedAnswer(tuple(choices), tuple(proofs), sum_proof))
    return sign_ballot(ctx, credential, answers)


def encrypt_ballot(
    ctx: ElectionContext,
    credential: SigningKey,
    selections: Sequence[Sequence[int]],
    rng: Rng,
) -> tuple[Ballot, BallotSecrets]:
    """Encrypt with fresh randomness; keep the secrets to audit the ballot if asked."""
    if not isinstance(ctx, ElectionContext):
        raise TypeError("ctx must be an ElectionContext")
    chosen = check_selections(ctx.manifest, selections)
    randomness = BallotRandomness.random(ctx.manifest, rng)
    ballot = encrypt_ballot_deterministic(ctx, credential, chosen, randomness, rng)
    return ballot, BallotSecrets(chosen, randomness)


# --------------------------------------------------------------------------
# Verifying a ballot
# --------------------------------------------------------------------------


def _check_shape(manifest: Manifest, ballot: Ballot) -> None:
    """Counts only (from_json already did this; a Ballot built in code may not have)."""
    if len(ballot.answers) != len(manifest.questions):
        raise SchemaError(f"ballot.answers: expected {len(manifest.questions)} items")
    for q, (question, answer) in enumerate(zip(manifest.questions, ballot.answers, strict=True)):
        n = len(question.options)
        if len(answer.choices) != n or len(answer.proofs) != n:
            raise SchemaError(f"ballot.answers[{q}]: expected {n} choices and proofs")
        if (answer.sum_proof is not None) != question.needs_sum_proof:
            state = "required" if question.needs_sum_proof else "not allowed"
            raise SchemaError(f"ballot.answers[{q}].sum_proof: {state} for this question")


def verify_ballot(ctx: ElectionContext, ballot: Ballot) -> int:
    """Check a ballot completely and return its credential's weight.

    Steps, cheapest first (numbered as in docs/protocol-ballots.md):

    1. the election id is this election's (:class:`InvalidBallot`);
    2. the shape matches the manifest (:class:`SchemaError`);
    3. the credential is on the published list (:class:`CredentialError`);
    4. the credential's signature (:class:`InvalidSignature`);
    5. every option's range proof, then the question's sum proof
       (:class:`InvalidProof`, naming question and option).

    Points and scalars are not re-validated: :meth:`Ballot.from_json` did that.
    """
    manifest = ctx.manifest
    if ballot.election_id != manifest.election_id:
        raise InvalidBallot(
            f"ballot is for election {ballot.election_id!r}, not {manifest.election_id!r}"
        )
    _check_shape(manifest, ballot)
    weight = ctx.credentials.weight_of(ballot.credential)
    ballot.credential.verify(
        TAG_BALLOT_SIGNATURE,
        _signature_fields(ctx, ballot.content_for_signature()),
        ballot.signature,
    )
    key = ctx.joint_key
    for q, (question, answer) in enumerate(zip(manifest.questions, ballot.answers, strict=True)):
        lo, hi = question.option_range
        for o, (ct, proof) in enumerate(zip(answer.choices, answer.proofs, strict=True)):
            pctx = option_proof_context(
                ctx.fingerprint, ballot.credential, ballot.election_id, q, o
            )
            try:
                verify_range(pctx, key, ct, lo, hi, proof)
            except InvalidProof:
                raise InvalidProof(
                    f"question {q} ({question.id!r}) option {o}: range proof does not verify",
                    detail={"question": q, "option": o},
                ) from None
        if answer.sum_proof is not None:
            smin, smax = question.sum_range
            sctx = sum_proof_context(ctx.fingerprint, ballot.credential, ballot.election_id, q)
            try:
                verify_range(
                    sctx, key, sum_ciphertexts(list(answer.choices)), smin, smax, answer.sum_proof
                )
            except InvalidProof:
                raise InvalidProof(
                    f"question {q} ({question.id!r}): the proof that the total is in "
                    f"[{smin}, {smax}] does not verify",
                    detail={"question": q},
                ) from None
    return weight


# --------------------------------------------------------------------------
# Cast or audit
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditedBallot:
    """A ballot the voter chose to audit, with its choices and randomness revealed.

    Posted to the board so that anyone (a second device, the voter's helper)
    can check the encrypting device did not lie.  It is never counted, and no
    ballot reusing its ciphertexts may be cast.
    """

    ballot: Ballot
    selections: Selections
    randomness: BallotRandomness

    @classmethod
    def from_secrets(cls, ballot: Ballot, secrets: BallotSecrets) -> AuditedBallot:
        return cls(ballot, secrets.selections, secrets.randomness)

    @classmethod
    def from_json(cls, obj: Any, manifest: Manifest, path: str = "audited") -> AuditedBallot:
        f = Fields(obj, path, required=("ballot", "selections", "randomness"))
        ballot = Ballot.from_json(f.raw("ballot"), manifest, f.sub("ballot"))
        rows = expect_list(f.raw("selections"), f.sub("selections"), length=len(manifest.questions))
        selections = []
        for q, (question, row) in enumerate(zip(manifest.questions, rows, strict=True)):
            values = expect_list(row, f"{f.sub('selections')}[{q}]", length=len(question.options))
            for o, v in enumerate(values):
                if (
                    not isinstance(v, int)
                    or isinstance(v, bool)
                    or not 0 <= v <= question.max_score
                ):
                    raise SchemaError(
                        f"{f.sub('selections')}[{q}][{o}]: expected an integer in "
                        f"[0, {question.max_score}]"
                    )
            selections.append(tuple(values))
        randomness = BallotRandomness.from_json(f.raw("randomness"), manifest, f.sub("randomness"))
        return cls(ballot, tuple(selections), randomness)

    def to_json(self) -> dict[str, Any]:
        return {
            "ballot": self.ballot.to_json(),
            "selections": [list(row) for row in self.selections],
            "randomness": self.randomness.to_json(),
        }


def verify_audit(ctx: ElectionContext, audited: AuditedBallot) -> None:
    """Check an audited ballot: the revealed choices re-encrypt to its ciphertexts.

    1. the revealed selections are allowed by the manifest (:class:`InvalidBallot`);
    2. every option re-encrypts, with its revealed randomness, to the published
       ciphertext (:class:`AuditMismatch` naming question and option: the
       device that made the ballot encrypted something else);
    3. the ballot itself verifies (:func:`verify_ballot`).
    """
    manifest = ctx.manifest
    chosen = check_selections(manifest, audited.selections)
    ballot = audited.ballot
    _check_shape(manifest, ballot)
    randomness = audited.randomness.values
    if [len(row) for row in randomness] != [len(q.options) for q in manifest.questions]:
        raise SchemaError("audited.randomness: expected one scalar per option")
    for q, question in enumerate(manifest.questions):
        for o, ct in enumerate(ballot.answers[q].choices):
            m, r = chosen[q][o], randomness[q][o]
            if encrypt(ctx.joint_key, m, r) != ct:
                raise AuditMismatch(
                    f"question {q} ({question.id!r}) option {o}: the ciphertext does not "
                    f"encrypt the revealed value {m}",
                    detail={"question": q, "option": o},
                )
    verify_ballot(ctx, ballot)

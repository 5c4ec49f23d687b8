"""Checking the DKG in public: every ``check_*``, QUAL, the reconstruction checks and
the whole ceremony recomputed from the board (``docs/protocol-trustees.md`` §5).

Needs no secrets and no share boxes: the board rules (``evote.rules``), the
server and the verifier all call these functions, and none of them may import
:mod:`evote.dkg.trustee` (an import contract in ``pyproject.toml`` says so).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from nacl import bindings
from nacl.exceptions import CryptoError as NaclCryptoError

from evote.dkg.algebra import (
    _blinding_context,
    _coefficient_context,
    _eval_commitments,
    _eval_polynomial,
    _pedersen_ok,
    interpolate,
    verify_schnorr_h,
)
from evote.dkg.messages import (
    BOX_KEY_BYTES,
    COMPLAINT_REASONS,
    STEP_NAMES,
    Announcement,
    Commitments,
    Complaint,
    ComplaintAnswer,
    EncryptedShares,
    JointKey,
    Reconstruction,
    _check_parameters,
    _fail,
    _signed_fields,
)
from evote.errors import InvalidProof, InvalidSignature, KeyCeremonyError
from evote.group import IDENTITY, Point, Scalar
from evote.hashing import TAG_TRUSTEE_MESSAGE
from evote.proofs import verify_schnorr
from evote.signing import VerifyKey

# A fixed, public X25519 scalar used only to ask libsodium whether a box public
# key has small order (the shared point would be all zeros).  Not a secret.
_LOW_ORDER_PROBE = bytes([0x48]) + bytes(30) + bytes([0x40])


def _verify_signature(
    election_id: str, key: VerifyKey, body: dict, signature: bytes, trustee: int, step: int
) -> None:
    try:
        key.verify(TAG_TRUSTEE_MESSAGE, _signed_fields(election_id, body), signature)
    except InvalidSignature:
        raise _fail(trustee, step, "signature does not verify") from None


def check_announcement(
    election_id: str,
    n: int,
    t: int,
    announcement: Announcement,
    *,
    signing_key: VerifyKey | None = None,
) -> None:
    """Raise :class:`KeyCeremonyError` unless ``announcement`` is a valid step-1 message.

    Checks the parameters agree with the election, t Pedersen commitments none
    the identity, the box key is a usable X25519 key (not of small order), and
    the signature.  ``signing_key``, when registered beforehand, must match.
    """
    _check_parameters(n, t)
    a = announcement
    if not 1 <= a.trustee <= n:
        raise _fail(a.trustee, 1, f"trustee index is not in 1..{n}")
    if (a.trustees, a.threshold) != (n, t):
        raise _fail(
            a.trustee, 1, f"announces {a.threshold} of {a.trustees}, the election has {t} of {n}"
        )
    if signing_key is not None and signing_key != a.signing_key:
        raise _fail(a.trustee, 1, "signing key is not the one registered for this trustee")
    if len(a.box_key) != BOX_KEY_BYTES:
        raise _fail(a.trustee, 1, "box key must be 32 bytes")
    if len(a.pedersen) != t:
        raise _fail(a.trustee, 1, f"expected {t} Pedersen commitments")
    for k, e in enumerate(a.pedersen):
        if e.is_identity():
            raise _fail(a.trustee, 1, f"Pedersen commitment {k} is the identity")
    try:
        bindings.crypto_scalarmult(_LOW_ORDER_PROBE, a.box_key)
    except NaclCryptoError:
        raise _fail(a.trustee, 1, "box key has small order") from None
    _verify_signature(election_id, a.signing_key, a.body(), a.signature, a.trustee, 1)


def _announcements_by_index(
    election_id: str,
    n: int,
    t: int,
    announcements: Iterable[Announcement],
    signing_keys: Mapping[int, VerifyKey] | None = None,
) -> dict[int, Announcement]:
    """Check every announcement and require exactly one per trustee 1..n."""
    out: dict[int, Announcement] = {}
    for a in announcements:
        expected = signing_keys.get(a.trustee) if signing_keys is not None else None
        if signing_keys is not None and expected is None:
            raise _fail(a.trustee, 1, "no signing key is registered for this trustee")
        check_announcement(election_id, n, t, a, signing_key=expected)
        if a.trustee in out:
            raise _fail(a.trustee, 1, "more than one announcement")
        out[a.trustee] = a
    for i in range(1, n + 1):
        if i not in out:
            raise _fail(i, 1, "no announcement")
    keys = [a.box_key for a in out.values()] + [a.signing_key.raw for a in out.values()]
    if len(set(keys)) != len(keys):
        raise KeyCeremonyError("two announcements share a key", detail={"step": STEP_NAMES[1]})
    return out


def check_shares(election_id: str, announcement: Announcement, shares: EncryptedShares) -> None:
    """Raise :class:`KeyCeremonyError` unless ``shares`` is a well-formed step-2 message.

    Checks the signature and that there is exactly one box for every other
    trustee.  Whether each box holds a correct share only its recipient can
    tell (step 3).
    """
    i = announcement.trustee
    if shares.dealer != i:
        raise _fail(shares.dealer, 2, f"checked against trustee {i}'s announcement")
    expected = [j for j in range(1, announcement.trustees + 1) if j != i]
    if [j for j, _ in shares.boxes] != expected:
        raise _fail(i, 2, "must hold exactly one box for every other trustee, in order")
    _verify_signature(election_id, announcement.signing_key, shares.body(), shares.signature, i, 2)


def check_complaint(
    election_id: str, announcements: Iterable[Announcement], complaint: Complaint
) -> None:
    """Raise :class:`KeyCeremonyError` unless ``complaint`` is signed by its accuser
    and names another trustee of this ceremony."""
    anns = {a.trustee: a for a in announcements}
    c = complaint
    if c.accuser not in anns or c.accused not in anns:
        raise _fail(
            c.accuser, 3, f"complaint names an unknown trustee ({c.accuser} against {c.accused})"
        )
    if c.accuser == c.accused:
        raise _fail(c.accuser, 3, "a trustee cannot complain about itself")
    if c.reason not in COMPLAINT_REASONS:
        raise _fail(c.accuser, 3, f"unknown complaint reason {c.reason!r}")
    _verify_signature(election_id, anns[c.accuser].signing_key, c.body(), c.signature, c.accuser, 3)


def check_complaint_answer(
    election_id: str, announcement: Announcement, answer: ComplaintAnswer
) -> None:
    """Raise :class:`KeyCeremonyError` unless ``answer`` is signed by the dealer and
    its revealed pair passes Pedersen's check against the dealer's commitments."""
    i = announcement.trustee
    if answer.dealer != i:
        raise _fail(answer.dealer, 4, f"checked against trustee {i}'s messages")
    if not 1 <= answer.accuser <= announcement.trustees or answer.accuser == i:
        raise _fail(i, 4, f"answers a complaint from an invalid trustee {answer.accuser}")
    _verify_signature(election_id, announcement.signing_key, answer.body(), answer.signature, i, 4)
    if not _pedersen_ok(announcement.pedersen, answer.accuser, answer.share, answer.blinding):
        raise _fail(
            i, 4, f"revealed share for trustee {answer.accuser} does not match the commitments"
        )


# --------------------------------------------------------------------------
# The cut: QUAL
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Phase1:
    """The public phase-1 record, every message checked."""

    announcements: dict[int, Announcement]
    complaints: frozenset[tuple[int, int]]  # (accuser, accused)
    revealed: dict[tuple[int, int], tuple[Scalar, Scalar]]  # (dealer, accuser) -> valid pair


def _check_phase1(
    election_id: str,
    n: int,
    t: int,
    announcements: Iterable[Announcement],
    complaints: Iterable[Complaint],
    answers: Iterable[ComplaintAnswer],
    signing_keys: Mapping[int, VerifyKey] | None = None,
) -> _Phase1:
    anns = _announcements_by_index(election_id, n, t, announcements, signing_keys)
    pairs = set()
    for c in complaints:
        check_complaint(election_id, anns.values(), c)
        pairs.add((c.accuser, c.accused))
    revealed: dict[tuple[int, int], tuple[Scalar, Scalar]] = {}
    for a in answers:
        # An answer that does not check clears nothing: the complaint stays open.
        if a.dealer not in anns:
            continue
        try:
            check_complaint_answer(election_id, anns[a.dealer], a)
        except KeyCeremonyError:
            continue
        revealed[(a.dealer, a.accuser)] = (a.share, a.blinding)
    return _Phase1(anns, frozenset(pairs), revealed)


def _qualify(record: _Phase1, dealt: Iterable[int] | None = None) -> tuple[int, ...]:
    """QUAL: dealers that announced, dealt (when ``dealt`` is given: a shares message is
    on the board) and answered every complaint against them correctly."""
    have = None if dealt is None else set(dealt)
    return tuple(
        i
        for i in sorted(record.announcements)
        if (have is None or i in have)
        and all(
            (i, accuser) in record.revealed
            for accuser, accused in record.complaints
            if accused == i
        )
    )


def qualified_set(
    election_id: str,
    n: int,
    t: int,
    announcements: Iterable[Announcement],
    complaints: Iterable[Complaint],
    answers: Iterable[ComplaintAnswer],
    *,
    signing_keys: Mapping[int, VerifyKey] | None = None,
    dealt: Iterable[int] | None = None,
) -> tuple[int, ...]:
    """QUAL, a deterministic function of the phase-1 messages (none of which depends on
    the joint key: Pedersen commitments are perfectly hiding).

    Dealer i is qualified iff it announced, dealt its shares (``dealt``: the
    dealers with a shares message on the board, R-DKG-13; a dealer that skipped
    dealing and answered every complaint in public would otherwise be in QUAL
    without a shares message) and, for every complaint against it, posted an
    answer whose pair passes Pedersen's check.  Message order does
    not matter; an invalid answer counts as none.  Raises
    :class:`KeyCeremonyError` if fewer than t qualify, or if a message that
    should never have been accepted is present.
    """
    record = _check_phase1(election_id, n, t, announcements, complaints, answers, signing_keys)
    qualified = _qualify(record, dealt)
    if len(qualified) < t:
        raise KeyCeremonyError(
            f"only {len(qualified)} trustees qualified ({list(qualified)}), threshold is {t}",
            detail={"step": "qualification", "qualified": list(qualified)},
        )
    return qualified


def check_commitments(
    election_id: str, announcement: Announcement, commitments: Commitments
) -> None:
    """Raise :class:`KeyCeremonyError` unless ``commitments`` opens the announced
    Pedersen commitments: A_k + B_k = E_k, with a proof of knowledge of log_G(A_k)
    and of log_H(B_k) for every k, signed by the trustee."""
    i = announcement.trustee
    c = commitments
    if c.trustee != i:
        raise _fail(c.trustee, 5, f"checked against trustee {i}'s announcement")
    t = announcement.threshold
    if not len(c.coefficients) == len(c.proofs) == len(c.blindings) == len(c.blinding_proofs) == t:
        raise _fail(i, 5, f"expected {t} coefficients and blindings with proofs")
    for k, point in enumerate(c.coefficients):
        if point.is_identity():
            raise _fail(i, 5, f"coefficient {k} is the identity")
    _verify_signature(election_id, announcement.signing_key, c.body(), c.signature, i, 5)
    for k, (a, b, e) in enumerate(zip(c.coefficients, c.blindings, announcement.pedersen,
                                      strict=True)):
        if a + b != e:
            raise _fail(i, 5, f"coefficient {k} does not open the announced commitment")
    for k, (point, proof) in enumerate(zip(c.coefficients, c.proofs, strict=True)):
        try:
            verify_schnorr(_coefficient_context(election_id, i, k), point, proof)
        except InvalidProof:
            raise _fail(i, 5, f"Schnorr proof for coefficient {k} does not verify") from None
    for k, (point, proof) in enumerate(zip(c.blindings, c.blinding_proofs, strict=True)):
        try:
            verify_schnorr_h(_blinding_context(election_id, i, k), point, proof)
        except InvalidProof:
            raise _fail(i, 5, f"Schnorr proof for blinding {k} does not verify") from None


# --------------------------------------------------------------------------
# Phase 2, step 6: rebuild a dealer that did not reveal
# --------------------------------------------------------------------------


def unrevealed(qualified: Iterable[int], commitments: Iterable[Commitments]) -> tuple[int, ...]:
    """The QUAL dealers without a reveal: what ``ceremony_reconstruct`` must name."""
    revealed = {c.trustee for c in commitments}
    return tuple(i for i in sorted(qualified) if i not in revealed)


def check_reconstruction(
    election_id: str, revealer: Announcement, dealer: Announcement, r: Reconstruction
) -> None:
    """Raise :class:`KeyCeremonyError` unless ``r`` is signed by ``revealer`` and its pair
    passes Pedersen's check against ``dealer``'s commitments at the revealer's index."""
    if r.trustee != revealer.trustee or r.dealer != dealer.trustee:
        raise _fail(r.trustee, 6, "checked against another trustee's messages")
    if r.trustee == r.dealer:
        raise _fail(r.trustee, 6, "a trustee cannot reconstruct itself")
    _verify_signature(election_id, revealer.signing_key, r.body(), r.signature, r.trustee, 6)
    if not _pedersen_ok(dealer.pedersen, r.trustee, r.share, r.blinding):
        raise _fail(
            r.trustee, 6, f"share from dealer {r.dealer} does not match its commitments"
        )


# --------------------------------------------------------------------------
# The joint key
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CeremonyOutcome:
    """What the public ceremony gives: the joint key, and each QUAL dealer's Feldman
    values (revealed, or rebuilt in public) for the election fingerprint."""

    joint: JointKey
    feldman: Mapping[int, tuple[Point, ...]]
    rebuilt: tuple[int, ...]  # dealers whose polynomial was rebuilt in public
    public_shares: Mapping[tuple[int, int], Scalar]  # (dealer, j) -> f_dealer(j), rebuilt


def _rebuild(
    election_id: str,
    t: int,
    anns: Mapping[int, Announcement],
    dealer: int,
    reconstructions: Iterable[Reconstruction],
) -> list[Scalar]:
    """Dealer's polynomial from the t lowest-indexed valid published shares."""
    points: dict[int, Scalar] = {}
    for r in reconstructions:
        if r.dealer != dealer or r.trustee in points or r.trustee not in anns:
            continue
        try:
            check_reconstruction(election_id, anns[r.trustee], anns[dealer], r)
        except KeyCeremonyError:
            continue
        points[r.trustee] = r.share
    if len(points) < t:
        raise _fail(
            dealer, 6,
            f"did not reveal and only {len(points)} of the {t} shares needed to rebuild it "
            "are on the board",
        )
    chosen = sorted(points.items())[:t]
    return interpolate(chosen)


def ceremony_outcome(
    election_id: str,
    n: int,
    t: int,
    announcements: Iterable[Announcement],
    complaints: Iterable[Complaint],
    answers: Iterable[ComplaintAnswer],
    commitments: Iterable[Commitments],
    reconstructions: Iterable[Reconstruction] = (),
    *,
    signing_keys: Mapping[int, VerifyKey] | None = None,
    dealt: Iterable[int] | None = None,
) -> CeremonyOutcome:
    """Recompute QUAL, every QUAL dealer's Feldman values and the joint key from the board.

    Needs no secrets and no share boxes.  A reveal must open the announced
    commitments (:func:`check_commitments`); a QUAL dealer without one is
    rebuilt from t published shares.  Raises :class:`KeyCeremonyError`.
    """
    anns_list = list(announcements)
    anns = _announcements_by_index(election_id, n, t, anns_list, signing_keys)
    qualified = qualified_set(election_id, n, t, anns_list, complaints, answers, dealt=dealt)
    reveals: dict[int, Commitments] = {}
    for c in commitments:
        if c.trustee not in qualified:
            raise _fail(c.trustee, 5, "revealed commitments but is not in QUAL")
        if c.trustee in reveals:
            raise _fail(c.trustee, 5, "more than one reveal")
        check_commitments(election_id, anns[c.trustee], c)
        reveals[c.trustee] = c
    recs = list(reconstructions)
    feldman: dict[int, tuple[Point, ...]] = {}
    rebuilt = []
    public_shares: dict[tuple[int, int], Scalar] = {}
    for i in qualified:
        if i in reveals:
            feldman[i] = reveals[i].coefficients
            continue
        poly = _rebuild(election_id, t, anns, i, recs)
        feldman[i] = tuple(Point.base_mul(a) for a in poly)
        rebuilt.append(i)
        for j in qualified:
            public_shares[(i, j)] = _eval_polynomial(poly, j)
    summed = []
    for k in range(t):
        acc = IDENTITY
        for i in qualified:
            acc = acc + feldman[i][k]
        summed.append(acc)
    if summed[0].is_identity():
        raise KeyCeremonyError("the joint key is the identity", detail={"step": STEP_NAMES[7]})
    keys = {}
    for j in qualified:
        x = _eval_commitments(summed, j)
        if x.is_identity():
            raise _fail(j, 7, "verification key is the identity")
        keys[j] = x
    return CeremonyOutcome(JointKey(summed[0], t, keys, qualified), feldman, tuple(rebuilt),
                           public_shares)


def verify_ceremony(
    election_id: str,
    n: int,
    t: int,
    announcements: Iterable[Announcement],
    complaints: Iterable[Complaint],
    answers: Iterable[ComplaintAnswer],
    commitments: Iterable[Commitments],
    reconstructions: Iterable[Reconstruction] = (),
    *,
    signing_keys: Mapping[int, VerifyKey] | None = None,
    dealt: Iterable[int] | None = None,
) -> JointKey:
    """The joint key and every verification key, recomputed from the public messages
    (:func:`ceremony_outcome`).  ``signing_keys`` (trustee -> key registered by the
    official) pins who the trustees are."""
    return ceremony_outcome(
        election_id, n, t, announcements, complaints, answers, commitments, reconstructions,
        signing_keys=signing_keys, dealt=dealt,
    ).joint


def trustee_commitments(feldman: Mapping[int, Sequence[Point]]) -> list[list[Point]]:
    """The QUAL dealers' Feldman values in trustee-index order, for the election fingerprint."""
    return [list(feldman[i]) for i in sorted(feldman)]

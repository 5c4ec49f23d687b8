"""A trustee's side of the DKG: its secret state, the six steps and the share boxes.

Everything here holds or handles a secret (the polynomials, the box secret key,
the key share x_j), so nothing on the public side imports it: the verifier and
the board rules import :mod:`evote.dkg.messages` and :mod:`evote.dkg.verify`
only, which an import contract in ``pyproject.toml`` enforces.

Why one module of ~600 lines: the six steps share the trustee state and the
private helpers that evaluate its polynomials; keeping them together keeps
every use of a secret in one file to audit.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from nacl.exceptions import CryptoError as NaclCryptoError
from nacl.public import Box, PrivateKey, PublicKey

from evote.dkg.algebra import (
    H,
    _blinding_context,
    _coefficient_context,
    _eval_polynomial,
    _pedersen_ok,
    _schnorr_h_challenge,
)
from evote.dkg.messages import (
    BOX_KEY_BYTES,
    MAX_TRUSTEES,
    NONCE_BYTES,
    Announcement,
    CeremonyMessages,
    Commitments,
    Complaint,
    ComplaintAnswer,
    EncryptedShares,
    JointKey,
    Qualified,
    Reconstruction,
    _check_parameters,
    _decode,
    _fail,
    _index,
    _point_item,
)
from evote.dkg.verify import (
    _announcements_by_index,
    ceremony_outcome,
    check_complaint,
    check_complaint_answer,
    check_shares,
    qualified_set,
)
from evote.encoding import Fields, b64encode
from evote.errors import InvalidScalar, KeyCeremonyError
from evote.group import ZERO, Point, Rng, Scalar
from evote.hashing import TAG_SHARE_BOX, enc_int, enc_str, transcript
from evote.proofs import SchnorrProof, prove_schnorr
from evote.signing import SigningKey


def prove_schnorr_h(ctx: Sequence[bytes], secret: Scalar, rng: Rng) -> SchnorrProof:
    """Knowledge of b with B = b·H: U = w·H, c = H("schnorr-h", ctx, H, B, U), s = w + c·b."""
    w = Scalar.random(rng)
    c = _schnorr_h_challenge(ctx, H * secret, H * w)
    return SchnorrProof(c, w + c * secret)


@dataclass(frozen=True, slots=True, repr=False)
class TrusteeState:
    """One trustee's secrets, kept in the trustee's own file and never posted.

    Holds the signing key, the box secret key, both polynomials until
    :func:`finalize` (which wipes them) and the key share x_j after, plus the
    trustee's own announcement's Pedersen commitments (public), so that loading
    can check the polynomials still match what was announced.
    """

    election_id: str
    trustee: int
    trustees: int
    threshold: int
    signing_key: SigningKey
    box_secret: bytes
    polynomial: tuple[Scalar, ...]
    blinding: tuple[Scalar, ...]
    pedersen: tuple[Point, ...]
    share: Scalar | None = None

    def __post_init__(self) -> None:
        _check_parameters(self.trustees, self.threshold)
        if not 1 <= self.trustee <= self.trustees:
            raise KeyCeremonyError(f"trustee index {self.trustee} is not in 1..{self.trustees}")
        if len(self.pedersen) != self.threshold:
            raise KeyCeremonyError("trustee state commitments do not match the threshold")
        if self.polynomial or self.blinding:
            if len(self.polynomial) != self.threshold or len(self.blinding) != self.threshold:
                raise KeyCeremonyError("trustee state polynomials do not match the threshold")
            for a, b, e in zip(self.polynomial, self.blinding, self.pedersen, strict=True):
                if Point.base_mul(a) + H * b != e:
                    raise KeyCeremonyError(
                        "trustee state polynomials do not match its commitments"
                    )
        if len(self.box_secret) != BOX_KEY_BYTES:
            raise KeyCeremonyError("trustee state box key must be 32 bytes")

    @property
    def box_public_key(self) -> bytes:
        return bytes(PrivateKey(self.box_secret).public_key)

    @property
    def finalized(self) -> bool:
        return not self.polynomial

    def announcement(self) -> Announcement:
        """The step-1 message (deterministic: Ed25519 signatures are)."""
        return Announcement.create(
            self.election_id,
            self.signing_key,
            trustee=self.trustee,
            trustees=self.trustees,
            threshold=self.threshold,
            box_key=self.box_public_key,
            pedersen=self.pedersen,
        )

    def to_json(self) -> dict:
        out = {
            "election_id": self.election_id,
            "trustee": self.trustee,
            "trustees": self.trustees,
            "threshold": self.threshold,
            "signing_key": self.signing_key.to_json(),
            "box_secret": b64encode(self.box_secret),
            "polynomial": [a.to_json() for a in self.polynomial],
            "blinding": [b.to_json() for b in self.blinding],
            "pedersen": [e.to_json() for e in self.pedersen],
        }
        if self.share is not None:
            out["share"] = self.share.to_json()
        return out

    @classmethod
    def from_json(cls, obj: Any, path: str = "trustee_state") -> TrusteeState:
        f = Fields(
            obj,
            path,
            required=(
                "election_id",
                "trustee",
                "trustees",
                "threshold",
                "signing_key",
                "box_secret",
                "polynomial",
                "blinding",
                "pedersen",
            ),
            optional=("share",),
        )

        def scalar(value: Any, p: str) -> Scalar:
            try:
                return Scalar.from_json(value)
            except InvalidScalar as exc:
                raise InvalidScalar(f"{p}: {exc.message}") from None

        return cls(
            election_id=f.str("election_id", max_len=1000),
            trustee=_index(f, "trustee"),
            trustees=_index(f, "trustees"),
            threshold=_index(f, "threshold"),
            signing_key=_decode(f, "signing_key", SigningKey.from_json),
            box_secret=f.bytes("box_secret", length=BOX_KEY_BYTES),
            polynomial=tuple(f.list("polynomial", scalar, max_len=MAX_TRUSTEES)),
            blinding=tuple(f.list("blinding", scalar, max_len=MAX_TRUSTEES)),
            pedersen=tuple(f.list("pedersen", _point_item, min_len=1, max_len=MAX_TRUSTEES)),
            share=_decode(f, "share", Scalar.from_json) if f.has("share") else None,
        )

    def __repr__(self) -> str:
        return f"TrusteeState(election={self.election_id!r}, trustee={self.trustee}, <secret>)"


@dataclass(frozen=True, slots=True, repr=False)
class ReceivedShares:
    """Step 3 outcome when every dealer's share checked out: dealer -> (f(me), f'(me)).

    Includes the trustee's own pair.  Secret; never posted.
    """

    trustee: int
    shares: Mapping[int, tuple[Scalar, Scalar]]

    def __repr__(self) -> str:
        return f"ReceivedShares(trustee={self.trustee}, dealers={sorted(self.shares)})"


# --------------------------------------------------------------------------
# Phase 1, step 1: announce
# --------------------------------------------------------------------------


def step1_announce(
    election_id: str,
    index: int,
    n: int,
    t: int,
    rng: Rng,
    *,
    signing_key: SigningKey | None = None,
) -> tuple[TrusteeState, Announcement]:
    """Draw both polynomials and the box key; publish keys and Pedersen commitments.

    ``signing_key`` lets a trustee use a key registered with the official
    beforehand (so that auditors can tell real trustees from substitutes);
    otherwise a fresh one is drawn from ``rng``.
    """
    _check_parameters(n, t)
    if not 1 <= index <= n:
        raise KeyCeremonyError(f"trustee index {index} is not in 1..{n}")
    key = signing_key if signing_key is not None else SigningKey.generate(rng)
    box_secret = rng(BOX_KEY_BYTES)
    if len(box_secret) != BOX_KEY_BYTES:
        raise ValueError("rng returned the wrong number of bytes")
    polynomial = tuple(Scalar.random(rng) for _ in range(t))
    blinding = tuple(Scalar.random(rng) for _ in range(t))
    pedersen = tuple(
        Point.base_mul(a) + H * b for a, b in zip(polynomial, blinding, strict=True)
    )
    state = TrusteeState(election_id, index, n, t, key, box_secret, polynomial, blinding, pedersen)
    return state, state.announcement()


def _own_announcement_matches(
    state: TrusteeState, announcements: Mapping[int, Announcement]
) -> None:
    if announcements[state.trustee] != state.announcement():
        raise _fail(state.trustee, 1, "the announcement on the board is not this trustee's")


# --------------------------------------------------------------------------
# Phase 1, step 2: deal the encrypted shares
# --------------------------------------------------------------------------


def _share_plaintext(
    election_id: str, dealer: int, recipient: int, share_raw: bytes, blinding_raw: bytes
) -> bytes:
    return transcript(
        TAG_SHARE_BOX,
        [enc_str(election_id), enc_int(dealer), enc_int(recipient), share_raw, blinding_raw],
    )


def seal_share(
    election_id: str,
    dealer: int,
    recipient: int,
    box_secret: bytes,
    recipient_box_key: bytes,
    share: Scalar,
    blinding: Scalar,
    nonce: bytes,
) -> bytes:
    """One share box: Box(sk_dealer, pk_recipient) over the bound plaintext (nonce || ct)."""
    if len(nonce) != NONCE_BYTES:
        raise ValueError("rng returned the wrong number of bytes")
    box = Box(PrivateKey(box_secret), PublicKey(recipient_box_key))
    plaintext = _share_plaintext(election_id, dealer, recipient, share.raw, blinding.raw)
    return bytes(box.encrypt(plaintext, nonce))


def open_share(
    election_id: str,
    dealer: int,
    recipient: int,
    box_secret: bytes,
    dealer_box_key: bytes,
    sealed: bytes,
) -> tuple[Scalar, Scalar]:
    """Open a share box addressed to ``recipient``: (f(j), f'(j)), or :class:`KeyCeremonyError`.

    Fails on a wrong key, a tampered box, or a box made for another election,
    dealer or recipient (the plaintext names all three).
    """
    try:
        plaintext = Box(PrivateKey(box_secret), PublicKey(dealer_box_key)).decrypt(sealed)
    except NaclCryptoError:
        raise _fail(dealer, 2, f"share box for trustee {recipient} does not open") from None
    # the last two transcript fields: lp(share) || lp(blinding), 8-byte length prefixes
    share_raw, blinding_raw = plaintext[-72:-40], plaintext[-32:]
    expected = _share_plaintext(election_id, dealer, recipient, share_raw, blinding_raw)
    if not hmac.compare_digest(plaintext, expected):
        raise _fail(
            dealer,
            2,
            f"share box for trustee {recipient} is not bound to this election, dealer and recipient",
        )
    try:
        return Scalar.from_bytes(share_raw), Scalar.from_bytes(blinding_raw)
    except InvalidScalar:
        raise _fail(dealer, 2, f"share for trustee {recipient} is not a canonical scalar") from None


def _pair(state: TrusteeState, x: int) -> tuple[Scalar, Scalar]:
    return _eval_polynomial(state.polynomial, x), _eval_polynomial(state.blinding, x)


def step2_shares(
    state: TrusteeState, announcements: Iterable[Announcement], rng: Rng
) -> EncryptedShares:
    """Deal (f_i(j), f'_i(j)) to every other trustee j, each in a box only j can open;
    post once all n announcements are on the board (it needs their box keys)."""
    if state.finalized:
        raise _fail(state.trustee, 2, "this trustee state has already been finalized")
    anns = _announcements_by_index(
        state.election_id, state.trustees, state.threshold, announcements
    )
    _own_announcement_matches(state, anns)
    boxes = []
    for j in range(1, state.trustees + 1):
        if j == state.trustee:
            continue
        share, blinding = _pair(state, j)
        sealed = seal_share(
            state.election_id, state.trustee, j, state.box_secret, anns[j].box_key,
            share, blinding, rng(NONCE_BYTES),
        )
        boxes.append((j, sealed))
    return EncryptedShares.create(
        state.election_id, state.signing_key, dealer=state.trustee, boxes=boxes
    )


# --------------------------------------------------------------------------
# Phase 1, step 3: receive, check, complain
# --------------------------------------------------------------------------


def _receive_one(
    state: TrusteeState, announcement: Announcement, shares: EncryptedShares | None
) -> tuple[tuple[Scalar, Scalar] | None, str | None]:
    """((share, blinding), None) if the dealer's pair to me is good, else (None, reason)."""
    if shares is None:
        return None, "missing"
    try:
        check_shares(state.election_id, announcement, shares)
    except KeyCeremonyError:
        return None, "missing"
    sealed = shares.box_for(state.trustee)
    if sealed is None:
        return None, "missing"
    try:
        pair = open_share(
            state.election_id, shares.dealer, state.trustee, state.box_secret,
            announcement.box_key, sealed,
        )
    except KeyCeremonyError:
        return None, "undecryptable"
    if not _pedersen_ok(announcement.pedersen, state.trustee, *pair):
        return None, "bad-share"
    return pair, None


def _shares_by_dealer(shares: Iterable[EncryptedShares]) -> dict[int, EncryptedShares]:
    out: dict[int, EncryptedShares] = {}
    for s in shares:
        if s.dealer in out:
            raise _fail(s.dealer, 2, "more than one shares message")
        out[s.dealer] = s
    return out


def step3_receive(
    state: TrusteeState,
    announcements: Iterable[Announcement],
    shares: Iterable[EncryptedShares],
) -> ReceivedShares | list[Complaint]:
    """Open and check (Pedersen) every share pair dealt to this trustee.

    Returns the shares if all are good, otherwise one signed complaint per
    dealer whose pair is missing, does not open, or fails the check.
    """
    if state.finalized:
        raise _fail(state.trustee, 3, "this trustee state has already been finalized")
    eid = state.election_id
    anns = _announcements_by_index(eid, state.trustees, state.threshold, announcements)
    _own_announcement_matches(state, anns)
    dealt = _shares_by_dealer(shares)
    received = {state.trustee: _pair(state, state.trustee)}
    complaints = []
    for i in sorted(anns):
        if i == state.trustee:
            continue
        pair, reason = _receive_one(state, anns[i], dealt.get(i))
        if pair is not None:
            received[i] = pair
        else:
            complaints.append(
                Complaint.create(
                    eid, state.signing_key, accuser=state.trustee, accused=i, reason=str(reason)
                )
            )
    if complaints:
        return complaints
    return ReceivedShares(state.trustee, received)


# --------------------------------------------------------------------------
# Phase 1, step 4: answer complaints in public
# --------------------------------------------------------------------------


def step4_answer(
    state: TrusteeState, announcements: Iterable[Announcement], complaints: Iterable[Complaint]
) -> list[ComplaintAnswer]:
    """Reveal (f_me(j), f'_me(j)) for every valid complaint by j against this trustee.

    This discloses only j's pair from this dealer, which j was owed anyway;
    not answering gets the dealer disqualified (before QUAL is fixed, while
    nothing about the joint key is public).
    """
    if state.finalized:
        raise _fail(state.trustee, 4, "this trustee state has already been finalized")
    anns = _announcements_by_index(
        state.election_id, state.trustees, state.threshold, announcements
    )
    accusers = set()
    for c in complaints:
        check_complaint(state.election_id, anns.values(), c)
        if c.accused == state.trustee:
            accusers.add(c.accuser)
    out = []
    for j in sorted(accusers):
        share, blinding = _pair(state, j)
        out.append(
            ComplaintAnswer.create(
                state.election_id, state.signing_key, dealer=state.trustee, accuser=j,
                share=share, blinding=blinding,
            )
        )
    return out


# --------------------------------------------------------------------------
# Phase 2, step 5: reveal the Feldman values
# --------------------------------------------------------------------------


def step5_reveal(state: TrusteeState, rng: Rng) -> Commitments:
    """A_k = a_k·G and B_k = b_k·H with Schnorr proofs; post only once QUAL is on the board."""
    if state.finalized:
        raise _fail(state.trustee, 5, "this trustee state has already been finalized")
    eid, i = state.election_id, state.trustee
    return Commitments.create(
        eid,
        state.signing_key,
        trustee=i,
        coefficients=[Point.base_mul(a) for a in state.polynomial],
        proofs=[
            prove_schnorr(_coefficient_context(eid, i, k), a, rng)
            for k, a in enumerate(state.polynomial)
        ],
        blindings=[H * b for b in state.blinding],
        blinding_proofs=[
            prove_schnorr_h(_blinding_context(eid, i, k), b, rng)
            for k, b in enumerate(state.blinding)
        ],
    )


def _own_pair_from(
    state: TrusteeState,
    announcement: Announcement,
    dealt: Mapping[int, EncryptedShares],
    answers: Iterable[ComplaintAnswer],
) -> tuple[Scalar, Scalar] | None:
    """This trustee's valid pair from dealer ``announcement.trustee``: the public
    answer to its complaint if there is one, else its box (if it passes Pedersen)."""
    i = announcement.trustee
    if i == state.trustee:
        return _pair(state, i)
    for a in answers:
        if a.dealer == i and a.accuser == state.trustee:
            try:
                check_complaint_answer(state.election_id, announcement, a)
            except KeyCeremonyError:
                continue
            return a.share, a.blinding
    pair, _ = _receive_one(state, announcement, dealt.get(i))
    return pair


def step6_reconstruct(
    state: TrusteeState,
    announcements: Iterable[Announcement],
    shares: Iterable[EncryptedShares],
    answers: Iterable[ComplaintAnswer],
    dealers: Iterable[int],
) -> list[Reconstruction]:
    """Publish this trustee's pair from each of ``dealers`` (the official's
    ``ceremony_reconstruct`` list): with t of them anyone rebuilds the dealer."""
    if state.finalized:
        raise _fail(state.trustee, 6, "this trustee state has already been finalized")
    anns = _announcements_by_index(
        state.election_id, state.trustees, state.threshold, announcements
    )
    dealt = _shares_by_dealer(shares)
    answers = list(answers)
    out = []
    for i in sorted(set(dealers)):
        if i == state.trustee:
            continue
        pair = _own_pair_from(state, anns[i], dealt, answers)
        if pair is None:
            continue  # nothing valid to give: the others' shares must do
        out.append(
            Reconstruction.create(
                state.election_id, state.signing_key, trustee=state.trustee, dealer=i,
                share=pair[0], blinding=pair[1],
            )
        )
    return out


def finalize(
    state: TrusteeState,
    announcements: Iterable[Announcement],
    shares: Iterable[EncryptedShares],
    complaints: Iterable[Complaint],
    answers: Iterable[ComplaintAnswer],
    commitments: Iterable[Commitments],
    reconstructions: Iterable[Reconstruction] = (),
) -> tuple[JointKey, TrusteeState]:
    """Compute the joint key and this trustee's share x_j = Σ_{i∈QUAL} f_i(j).

    Uses the publicly revealed share wherever this trustee's complaint was
    answered.  Checks x_j·G == X_j, then returns a state that holds x_j and no
    longer holds the polynomials.
    """
    if state.finalized:
        raise _fail(state.trustee, 7, "this trustee state has already been finalized")
    eid, me = state.election_id, state.trustee
    anns, complaints, answers, shares = (
        list(x) for x in (announcements, complaints, answers, shares))
    outcome = ceremony_outcome(
        eid, state.trustees, state.threshold, anns, complaints, answers, commitments,
        reconstructions, dealt={s.dealer for s in shares},
    )
    joint = outcome.joint
    by_index = {a.trustee: a for a in anns}
    _own_announcement_matches(state, by_index)
    if me not in joint.qualified:
        raise _fail(me, 7, "this trustee was disqualified and holds no key share")
    dealt = _shares_by_dealer(shares)
    x = ZERO
    for i in joint.qualified:
        pair = _own_pair_from(state, by_index[i], dealt, answers)
        if pair is None:
            public = outcome.public_shares.get((i, me))
            if public is None:
                raise _fail(me, 7, f"share from dealer {i} is not valid and no answered "
                                   "complaint or public reconstruction replaces it")
            x = x + public
        else:
            x = x + pair[0]
    if Point.base_mul(x) != joint.verification_keys[me]:
        raise _fail(me, 7, "key share does not match the verification key")
    return joint, replace(state, polynomial=(), blinding=(), share=x)


def run_ceremony(
    election_id: str, n: int, t: int, rng: Rng
) -> tuple[JointKey, list[TrusteeState], CeremonyMessages]:
    """Run an honest ceremony end to end, strictly through the step functions."""
    started = [step1_announce(election_id, i, n, t, rng) for i in range(1, n + 1)]
    states = [s for s, _ in started]
    announcements = [a for _, a in started]
    shares = [step2_shares(s, announcements, rng) for s in states]
    complaints: list[Complaint] = []
    for s in states:
        outcome = step3_receive(s, announcements, shares)
        if isinstance(outcome, list):
            complaints += outcome
    answers = [a for s in states for a in step4_answer(s, announcements, complaints)]
    qualified = qualified_set(election_id, n, t, announcements, complaints, answers,
                              dealt={s.dealer for s in shares})
    commitments = [step5_reveal(s, rng) for s in states if s.trustee in qualified]
    finished = [
        finalize(s, announcements, shares, complaints, answers, commitments)
        for s in states
        if s.trustee in qualified
    ]
    joint = finished[0][0]
    messages = CeremonyMessages(
        tuple(announcements), tuple(shares), tuple(complaints), tuple(answers),
        Qualified(qualified), tuple(commitments),
    )
    return joint, [s for _, s in finished], messages

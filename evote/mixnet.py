"""Mixers and their signed mixes: the parties of the verifiable mixnet.

Each mixer is a separate party with its own Ed25519 key, named (index and
public key) in the manifest.  Mixers shuffle one ranked question's list in
turn: mixer 1 takes the counted ballots' rows, mixer m takes mixer m−1's
output.  Each posts a :class:`Mix`: the digest of the list it took, the list it
produced, the proof of the shuffle (:mod:`evote.shuffle`), and its signature.
Anonymity holds if at least one mixer is honest and keeps its permutation to
itself; correctness holds whatever the mixers do, because every proof is
checked against the previous output held by the verifier itself.

Why sign: the proof shows *a* shuffle happened; the signature shows *which
mixer* posted it, so a board cannot substitute a shuffle of its own making
for an honest mixer's (the proof is also bound to the mixer's key, so even
an unsigned copy could not be re-attributed).

Signed bytes (``docs/protocol-mixnet.md`` §4)::

    transcript(TAG_MIX_SIGNATURE, [fingerprint, enc_int(question), enc_int(mixer),
               input_digest, output_digest, tagged_hash(TAG_MIX_PROOF, JCS(proof))])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from evote.elgamal import Ciphertext
from evote.encoding import Fields, b64encode, canonical_json
from evote.errors import EncodingError, InvalidSignature, MixnetError, SchemaError
from evote.generators import Generators
from evote.group import Point, Rng
from evote.hashing import TAG_MIX_PROOF, TAG_MIX_SIGNATURE, enc_int, tagged_hash
from evote.limits import MAX_MIXERS as MAX_MIXERS
from evote.shuffle import (
    RowList,
    ShuffleContext,
    ShuffleProof,
    gen_shuffle,
    prove_shuffle,
    verify_shuffle,
)
from evote.signing import SIGNATURE_BYTES, SigningKey, VerifyKey


@dataclass(frozen=True, slots=True)
class MixerKey:
    """A mixer's public identity: its position in the chain and its Ed25519 key."""

    index: int
    verify_key: VerifyKey

    def __post_init__(self) -> None:
        if not 1 <= self.index <= MAX_MIXERS:
            raise SchemaError(f"mixer index must be 1..{MAX_MIXERS}, got {self.index}")

    def to_json(self) -> dict:
        return {"index": self.index, "verify_key": self.verify_key.to_json()}

    @classmethod
    def from_json(cls, obj: Any, path: str = "mixer") -> MixerKey:
        f = Fields(obj, path, required=("index", "verify_key"))
        index = f.int("index", lo=1, hi=MAX_MIXERS)
        try:
            key = VerifyKey.from_json(f.raw("verify_key"))
        except EncodingError as exc:
            raise type(exc)(f"{f.sub('verify_key')}: {exc.message}") from None
        return cls(index, key)


def check_mixers(mixers: Sequence[MixerKey]) -> tuple[MixerKey, ...]:
    """The manifest's mixer list: indices 1..M in order, keys distinct."""
    mixers = tuple(mixers)
    if not 1 <= len(mixers) <= MAX_MIXERS:
        raise SchemaError(f"an election needs 1..{MAX_MIXERS} mixers, got {len(mixers)}")
    for pos, m in enumerate(mixers, start=1):
        if m.index != pos:
            raise SchemaError(f"mixers must be numbered 1..{len(mixers)} in order; found {m.index} at {pos}")
    if len({m.verify_key.raw for m in mixers}) != len(mixers):
        raise SchemaError("two mixers share a key")
    return mixers


def _proof_digest(proof: ShuffleProof) -> bytes:
    return tagged_hash(TAG_MIX_PROOF, canonical_json(proof.to_json()))


def _signed_fields(
    fingerprint: bytes, question: int, mixer: int, input_digest: bytes, rows: RowList, proof: ShuffleProof
) -> list[bytes]:
    return [
        fingerprint,
        enc_int(question),
        enc_int(mixer),
        input_digest,
        rows.digest(),
        _proof_digest(proof),
    ]


@dataclass(frozen=True, slots=True)
class Mix:
    """One mixer's posted shuffle of one question's list."""

    question: int
    mixer: int
    input_digest: bytes
    rows: RowList
    proof: ShuffleProof
    signature: bytes

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "mixer": self.mixer,
            "input_digest": b64encode(self.input_digest),
            "rows": self.rows.to_json(),
            "proof": self.proof.to_json(),
            "signature": b64encode(self.signature),
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "mix", *, width: int | None = None, count: int | None = None) -> Mix:
        """Decode and validate; ``width``/``count`` pin the list shape the caller expects."""
        f = Fields(obj, path, required=("question", "mixer", "input_digest", "rows", "proof", "signature"))
        question = f.int("question", lo=0, hi=2**32)
        mixer = f.int("mixer", lo=1, hi=MAX_MIXERS)
        input_digest = f.bytes("input_digest", length=32)
        rows = RowList.from_json(f.raw("rows"), f.sub("rows"), width=width, count=count)
        proof = ShuffleProof.from_json(f.raw("proof"), f.sub("proof"), rows=len(rows), width=rows.width)
        signature = f.bytes("signature", length=SIGNATURE_BYTES)
        return cls(question, mixer, input_digest, rows, proof, signature)


def initial_rows(
    counted: Iterable[Sequence[Sequence[Ciphertext]]], question: int
) -> RowList:
    """The list mixer 1 shuffles: question ``question``'s option ciphertexts of
    every counted ballot, one row per ballot, in the order given (the board's
    order of the counted ballots).  Ballots are already verified; this only
    checks their shape."""
    rows = []
    for n, ballot in enumerate(counted):
        if not 0 <= question < len(ballot):
            raise MixnetError(f"counted ballot {n} has no question {question}")
        rows.append(tuple(ballot[question]))
    if not rows:
        raise MixnetError(f"question {question}: no counted ballots to mix")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise MixnetError(f"question {question}: counted ballots have different numbers of options")
    return RowList(widths.pop(), tuple(rows))


def mix(
    fingerprint: bytes,
    election_key: Point,
    question: int,
    mixer: int,
    signing_key: SigningKey,
    inputs: RowList,
    rng: Rng,
    *,
    generators: Generators | None = None,
) -> Mix:
    """What mixer ``mixer`` posts: shuffle ``inputs``, prove it, sign it.

    The witness (permutation and randomness) never leaves this function.
    """
    ctx = ShuffleContext(fingerprint, question, mixer, signing_key.verify_key.raw)
    outputs, witness = gen_shuffle(election_key, inputs, rng)
    proof = prove_shuffle(ctx, election_key, inputs, outputs, witness, rng, generators=generators)
    input_digest = inputs.digest()
    signature = signing_key.sign(
        TAG_MIX_SIGNATURE, _signed_fields(fingerprint, question, mixer, input_digest, outputs, proof)
    )
    return Mix(question, mixer, input_digest, outputs, proof, signature)


def verify_mix(
    fingerprint: bytes,
    election_key: Point,
    question: int,
    mixer: MixerKey,
    inputs: RowList,
    posted: Mix,
    *,
    generators: Generators | None = None,
) -> None:
    """Check one posted mix against the list it must shuffle (held by the caller).

    Raises :class:`MixnetError` (wrong question, mixer or input list),
    :class:`InvalidSignature` or :class:`~evote.errors.InvalidShuffle`.
    """
    where = {"question": question, "mixer": mixer.index}
    if posted.question != question:
        raise MixnetError(f"mix for question {posted.question}, expected {question}", detail=where)
    if posted.mixer != mixer.index:
        raise MixnetError(f"mix by mixer {posted.mixer}, expected mixer {mixer.index}", detail=where)
    if posted.input_digest != inputs.digest():
        raise MixnetError(
            f"mixer {mixer.index} shuffled a list other than the one it was given", detail=where
        )
    try:
        mixer.verify_key.verify(
            TAG_MIX_SIGNATURE,
            _signed_fields(
                fingerprint, question, posted.mixer, posted.input_digest, posted.rows, posted.proof
            ),
            posted.signature,
        )
    except InvalidSignature:
        raise InvalidSignature(
            f"mixer {mixer.index}: signature on the mix does not verify", detail=where
        ) from None
    ctx = ShuffleContext(fingerprint, question, mixer.index, mixer.verify_key.raw)
    verify_shuffle(ctx, election_key, inputs, posted.rows, posted.proof, generators=generators)


def verify_mix_chain(
    fingerprint: bytes,
    election_key: Point,
    question: int,
    mixers: Sequence[MixerKey],
    initial: RowList,
    mixes: Sequence[Mix],
    *,
    generators: Generators | None = None,
) -> RowList:
    """Check every mixer's mix in turn and return the final list (to be decrypted).

    Every mixer named must have mixed exactly once, in order; mix m must
    shuffle mix m−1's output (mix 1: ``initial``, the counted ballots' rows).
    """
    mixers = check_mixers(mixers)
    if len(mixes) != len(mixers):
        raise MixnetError(
            f"question {question}: {len(mixes)} mixes posted, {len(mixers)} mixers named",
            detail={"question": question},
        )
    current = initial
    for mixer, posted in zip(mixers, mixes, strict=True):
        verify_mix(fingerprint, election_key, question, mixer, current, posted, generators=generators)
        current = posted.rows
    return current

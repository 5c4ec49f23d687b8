"""Item 6 — invalid and small-order points, non-canonical encodings, CVE-2025-69277.

Invalid-curve and small-subgroup attacks feed a protocol points that are not in
the group it assumes: a point of small order confines a secret-dependent value
to at most eight possibilities, a point with a torsion component makes two
encodings behave differently in different implementations, and a non-canonical
encoding gives one value two spellings (two ballots that look different but
are the same, or the reverse).  CVE-2025-69277 (libsodium before 1.0.20-stable
of December 2025) is a recent instance: ``crypto_core_ed25519_is_valid_point``
accepted P + (0, −1), a main-subgroup point plus the point of order 2, because
only one coordinate was compared after multiplying by L.  The same class of
bug allowed double spending in CryptoNote currencies (disclosed by Monero in
2017, exploited against Bytecoin): a key image plus a torsion point looked like
a new, unspent one.  Scalars >= L are the
same problem for scalars (a second spelling of a response or a share).

evote's defence: every point and scalar from outside enters through
``Point.from_bytes`` / ``Scalar.from_bytes`` (canonical, on the curve, in the
prime-order subgroup, not the identity unless the site opts in; scalar < L),
base64url must be canonical, Ed25519 keys must be canonical and not of small
order, and ``evote.group`` refuses to import on a libsodium that accepts the CVE
vector.  This module sends every kind of bad value to every decoding site of
ballots, trustee material, partial decryptions, tallies, board entries,
receipts and records, through the core, the live server and the verifier.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from nacl import bindings

from evote.ballot import AuditedBallot, Ballot
from evote.board import Entry, Receipt, SignedTreeHead
from evote.commands import SignedCommand
from evote.credentials import CredentialList
from evote.dkg import Announcement, Commitments, ComplaintAnswer, JointKey, check_announcement
from evote.dkg.trustee import TrusteeState
from evote.encoding import b64decode, b64encode, canonical_json
from evote.errors import (
    EncodingError,
    EvoteError,
    InvalidPoint,
    InvalidScalar,
    KeyCeremonyError,
    SchemaError,
)
from evote.group import SMALL_ORDER_POINTS, G, L, P, Scalar, small_multiple
from evote.payloads import ElectionCreated
from evote.record import RecordHeader
from evote.tally import EncryptedTally, PartialDecryption
from tests.api_election import ApiElection, build_election
from tests.attacks.adversary import command, failures, forge_board, pairs_of, verify
from tests.recordgen import GeneratedRecord
from tests.test_dkg import X25519_SMALL_ORDER
from verifier.errors import RecordUnreadable
from verifier.record import Record
from verifier.sources import DirectorySource

CVE_2025_69277 = bindings.crypto_core_ed25519_add(G.raw, SMALL_ORDER_POINTS[1])


def _with_spare_bits(raw: bytes) -> str:
    """A second spelling of ``raw``: the same bytes with a spare bit of the last
    base64url character set (32 bytes leave 2 spare bits, 64 bytes 4)."""
    text = b64encode(raw)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spelled = text[:-1] + alphabet[alphabet.index(text[-1]) ^ 0b01]
    padded = spelled + "=" * (-len(spelled) % 4)
    assert base64.urlsafe_b64decode(padded) == raw  # really the same bytes
    return spelled


# Bad points, as the base64url strings an attacker sends.
BAD_POINTS: dict[str, str] = {
    **{f"small-order-{i}": b64encode(p) for i, p in enumerate(SMALL_ORDER_POINTS)},
    "cve-2025-69277": b64encode(CVE_2025_69277),
    "torsion-order-4": b64encode(
        bindings.crypto_core_ed25519_add(small_multiple(7).raw, SMALL_ORDER_POINTS[2])
    ),
    "torsion-order-8": b64encode(
        bindings.crypto_core_ed25519_add(small_multiple(7).raw, SMALL_ORDER_POINTS[6])
    ),
    "non-canonical-y": b64encode((P + 3).to_bytes(32, "little")),
    "non-canonical-identity": b64encode((1 | 1 << 255).to_bytes(32, "little")),
    "off-curve": b64encode((2).to_bytes(32, "little")),
    "short": b64encode(bytes(31)),
    "non-canonical-base64": _with_spare_bits(small_multiple(9).raw),
    "padded-base64": b64encode(small_multiple(9).raw) + "=",
    "not-a-string": 12345,  # type: ignore[dict-item]
}
IDENTITY_NAME = "small-order-0"  # sites that accept the identity (empty aggregates) skip it

BAD_SCALARS: dict[str, str] = {
    "L": b64encode(L.to_bytes(32, "little")),
    "L+1": b64encode((L + 1).to_bytes(32, "little")),
    "2^255": b64encode((2**255).to_bytes(32, "little")),
    "2^256-1": b64encode((2**256 - 1).to_bytes(32, "little")),
    "short": b64encode(bytes(31)),
    "non-canonical-base64": _with_spare_bits(Scalar.from_int(12345).raw),
}

BAD_KEYS: dict[str, str] = {
    **{f"small-order-{i}": b64encode(p) for i, p in enumerate(SMALL_ORDER_POINTS)},
    "non-canonical-y": b64encode((P + 5).to_bytes(32, "little")),
    "non-canonical-base64": _with_spare_bits(small_multiple(9).raw),
    "short": b64encode(bytes(16)),
}


# --- the decoding sites ---------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """One place a value is decoded: a valid document, where the value sits, the
    decoder, and the error class it must raise (exactly that class)."""

    name: str
    document: Callable[[GeneratedRecord], Any]
    path: tuple[Any, ...]
    decode: Callable[[GeneratedRecord, Any], Any]
    error: type[EvoteError]
    allows_identity: bool = False


def _payload(kind: str, field: str | None = None) -> Callable[[GeneratedRecord], Any]:
    def get(gen: GeneratedRecord) -> Any:
        payload = next(p for k, p in pairs_of(gen.entries) if k == kind)
        return payload if field is None else payload[field]

    return get


def _body(kind: str, *fields: str) -> Callable[[GeneratedRecord], Any]:
    def get(gen: GeneratedRecord) -> Any:
        out = _payload(kind)(gen)["body"]
        for f in fields:
            out = out[f]
        return out

    return get


def _answer(gen: GeneratedRecord) -> Any:
    e = gen.election
    return ComplaintAnswer.create(
        e.election_id, e.states[1].signing_key, dealer=2, accuser=1, share=Scalar.from_int(5),
        blinding=Scalar.from_int(6),
    ).to_json()


def _manifest(gen: GeneratedRecord):
    return gen.election.manifest


POINT_SITES = [
    Site("ballot alpha", _payload("ballot_cast", "ballot"), ("answers", 0, "choices", 0, "alpha"),
         lambda g, d: Ballot.from_json(d, _manifest(g)), InvalidPoint),
    Site("ballot beta", _payload("ballot_cast", "ballot"), ("answers", 1, "choices", 1, "beta"),
         lambda g, d: Ballot.from_json(d, _manifest(g)), InvalidPoint),
    Site("audited ballot alpha", _payload("ballot_audited", "audited"),
         ("ballot", "answers", 0, "choices", 2, "alpha"),
         lambda g, d: AuditedBallot.from_json(d, _manifest(g)), InvalidPoint),
    Site("trustee coefficient", _body("trustee_committed"), ("coefficients", 1),
         lambda g, d: Commitments.from_json(d), InvalidPoint),
    Site("joint key", _body("key_published", "joint_key"), ("joint_key",),
         lambda g, d: JointKey.from_json(d), InvalidPoint),
    Site("verification key", _body("key_published", "joint_key"), ("verification_keys", "2"),
         lambda g, d: JointKey.from_json(d), InvalidPoint),
    Site("trustee state commitment", lambda g: g.election.states[0].to_json(),
         ("pedersen", 0), lambda g, d: TrusteeState.from_json(d), InvalidPoint),
    Site("pedersen commitment", _body("trustee_announced"), ("pedersen", 1),
         lambda g, d: Announcement.from_json(d), InvalidPoint),
    Site("trustee blinding commitment", _body("trustee_committed"), ("blindings", 0),
         lambda g, d: Commitments.from_json(d), InvalidPoint),
    Site("partial decryption factor", _body("partial_decryption"), ("shares", 0, 1, "factor"),
         lambda g, d: PartialDecryption.from_json(d), InvalidPoint, allows_identity=True),
    Site("tally alpha", _body("tally_posted", "tally"), ("questions", 1, 0, "alpha"),
         lambda g, d: EncryptedTally.from_json(d), InvalidPoint, allows_identity=True),
]

SCALAR_SITES = [
    Site("ballot option proof", _payload("ballot_cast", "ballot"),
         ("answers", 0, "proofs", 1, 0, 1), lambda g, d: Ballot.from_json(d, _manifest(g)),
         InvalidScalar),
    Site("ballot sum proof", _payload("ballot_cast", "ballot"), ("answers", 1, "sum_proof", 2, 0),
         lambda g, d: Ballot.from_json(d, _manifest(g)), InvalidScalar),
    Site("audit randomness", _payload("ballot_audited", "audited"), ("randomness", 1, 0),
         lambda g, d: AuditedBallot.from_json(d, _manifest(g)), InvalidScalar),
    Site("schnorr proof", _body("trustee_committed"), ("proofs", 0, 1),
         lambda g, d: Commitments.from_json(d), InvalidScalar),
    Site("complaint answer share", _answer, ("share",),
         lambda g, d: ComplaintAnswer.from_json(d), InvalidScalar),
    Site("complaint answer blinding", _answer, ("blinding",),
         lambda g, d: ComplaintAnswer.from_json(d), InvalidScalar),
    Site("blinding schnorr proof", _body("trustee_committed"), ("blinding_proofs", 0, 1),
         lambda g, d: Commitments.from_json(d), InvalidScalar),
    Site("trustee key share", lambda g: g.election.states[0].to_json(), ("share",),
         lambda g, d: TrusteeState.from_json(d), InvalidScalar),
    Site("dleq proof", _body("partial_decryption"), ("shares", 1, 0, "proof", 0),
         lambda g, d: PartialDecryption.from_json(d), InvalidScalar),
]

KEY_SITES = [
    Site("ballot credential", _payload("ballot_cast", "ballot"), ("credential",),
         lambda g, d: Ballot.from_json(d, _manifest(g)), EncodingError),
    Site("command signer", _payload("key_published"), ("signer",),
         lambda g, d: SignedCommand.from_json(d), EncodingError),
    Site("official key", _body("election_created"), ("official",),
         lambda g, d: ElectionCreated.from_json(d), EncodingError),
    Site("trustee key", _body("election_created"), ("trustees", 2),
         lambda g, d: ElectionCreated.from_json(d), EncodingError),
    Site("trustee signing key", _body("trustee_announced"), ("signing_key",),
         lambda g, d: Announcement.from_json(d), EncodingError),
    Site("listed credential", _body("credentials_published", "credentials"), (3, "key"),
         lambda g, d: CredentialList.from_json(d), EncodingError),
    Site("receipt board key", lambda g: g.receipts[0].to_json(), ("tree_head", "board_key"),
         lambda g, d: Receipt.from_json(d), SchemaError),
    Site("tree head board key", lambda g: g.builder.heads[0].to_json(), ("board_key",),
         lambda g, d: SignedTreeHead.from_json(d), SchemaError),
    Site("record header board key",
         lambda g: RecordHeader(g.election.election_id, g.election.board_key.verify_key).to_json(),
         ("board_key",), lambda g, d: RecordHeader.from_json(d), EncodingError),
]

# Hashes and signatures: only their encoding can be wrong.
BYTES_SITES = [
    Site("entry prev", lambda g: g.entries[3].to_json(), ("prev",),
         lambda g, d: Entry.from_json(d), EncodingError),
    Site("receipt entry hash", lambda g: g.receipts[0].to_json(), ("entry_hash",),
         lambda g, d: Receipt.from_json(d), EncodingError),
    Site("receipt inclusion proof", lambda g: g.receipts[0].to_json(), ("inclusion_proof", 0),
         lambda g, d: Receipt.from_json(d), EncodingError),
    Site("receipt signature", lambda g: g.receipts[0].to_json(), ("signature",),
         lambda g, d: Receipt.from_json(d), EncodingError),
    Site("tree head root", lambda g: g.builder.heads[0].to_json(), ("head", "root"),
         lambda g, d: SignedTreeHead.from_json(d), EncodingError),
    Site("ballot signature", _payload("ballot_cast", "ballot"), ("signature",),
         lambda g, d: Ballot.from_json(d, _manifest(g)), EncodingError),
]


def _set(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = copy.deepcopy(document)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


def _cases(sites: list[Site], values: dict[str, Any]) -> list[Any]:
    return [
        pytest.param(site, name, id=f"{site.name}/{name}")
        for site in sites
        for name in values
        if not (site.allows_identity and name == IDENTITY_NAME)
    ]


def _rejects(gen: GeneratedRecord, site: Site, value: Any) -> EvoteError:
    document = site.document(gen)
    site.decode(gen, document)  # the untouched document decodes
    with pytest.raises(EvoteError) as info:
        site.decode(gen, _set(document, site.path, value))
    return info.value


@pytest.mark.parametrize(("site", "name"), _cases(POINT_SITES, BAD_POINTS))
def test_cve_2025_69277_bad_points_are_refused_at_every_site(
    honest: GeneratedRecord, site: Site, name: str
) -> None:
    exc = _rejects(honest, site, BAD_POINTS[name])
    # A value that is not even a string is a schema error at some sites, a point
    # error at others; either way a typed refusal naming the field.
    expected = (SchemaError, site.error) if name == "not-a-string" else (site.error,)
    assert type(exc) in expected, (type(exc), exc.message)


@pytest.mark.parametrize(("site", "name"), _cases(SCALAR_SITES, BAD_SCALARS))
def test_cve_2025_69277_scalars_not_below_l_are_refused_at_every_site(
    honest: GeneratedRecord, site: Site, name: str
) -> None:
    exc = _rejects(honest, site, BAD_SCALARS[name])
    assert type(exc) is site.error, (type(exc), exc.message)


@pytest.mark.parametrize(("site", "name"), _cases(KEY_SITES, BAD_KEYS))
def test_cve_2025_69277_small_order_and_non_canonical_keys_are_refused_at_every_site(
    honest: GeneratedRecord, site: Site, name: str
) -> None:
    exc = _rejects(honest, site, BAD_KEYS[name])
    assert type(exc) is site.error, (type(exc), exc.message)


@pytest.mark.parametrize("site", BYTES_SITES, ids=lambda s: s.name)
def test_cve_2025_69277_non_canonical_hash_and_signature_encodings_are_refused(
    honest: GeneratedRecord, site: Site
) -> None:
    """A hash or signature with a second base64url spelling (spare bits set) or padding."""
    raw = b64decode(_get(site.document(honest), site.path))
    for value in (_with_spare_bits(raw), b64encode(raw) + "="):
        exc = _rejects(honest, site, value)
        assert type(exc) is site.error, (type(exc), exc.message)


@pytest.mark.parametrize("index", range(len(X25519_SMALL_ORDER)))
def test_cve_2025_69277_small_order_box_keys_are_refused(honest: GeneratedRecord, index: int) -> None:
    """A trustee's X25519 box key of small order would make every share box
    sent to it readable by anyone: check_announcement refuses it."""
    e = honest.election
    state = e.states[0]
    honest_announcement = state.announcement()
    bad = Announcement.create(
        e.election_id, state.signing_key, trustee=1, trustees=honest_announcement.trustees,
        threshold=honest_announcement.threshold, box_key=X25519_SMALL_ORDER[index],
        pedersen=honest_announcement.pedersen,
    )
    decoded = Announcement.from_json(bad.to_json())
    with pytest.raises(KeyCeremonyError, match="small order"):
        check_announcement(e.election_id, 3, 2, decoded)


# --- through the live server ------------------------------------------------------------


def _cast_raw(live: ApiElection, path: tuple[Any, ...], value: Any):
    ballot, _ = live.ballot(0)
    doc = _set(ballot.to_json(), path, value)
    return live.cast(doc, login=live.login(0))


def test_cve_2025_69277_vector_in_a_cast_ballot_is_a_400(live: ApiElection) -> None:
    """Every bad point at a ballot's alpha, every bad scalar in a proof and every
    bad credential key: a 4xx with the exact code, and nothing written."""
    size = live.size()
    for name, value in BAD_POINTS.items():
        response = _cast_raw(live, ("answers", 0, "choices", 1, "alpha"), value)
        body = response.get_json()
        expected = ("bad_schema", 422) if name == "not-a-string" else ("invalid_point", 400)
        assert (body["code"], response.status_code) == expected, (name, body)
    for name, value in BAD_SCALARS.items():
        response = _cast_raw(live, ("answers", 0, "proofs", 2, 1, 0), value)
        assert (response.get_json()["code"], response.status_code) == ("invalid_scalar", 400), name
    for name, value in BAD_KEYS.items():
        response = _cast_raw(live, ("credential",), value)
        assert (response.get_json()["code"], response.status_code) == ("bad_encoding", 400), name
    assert live.size() == size


def test_cve_2025_69277_vector_in_trustee_material_is_a_400(server_app) -> None:
    """A trustee commitment with the CVE vector is refused with 400 invalid_point."""
    e = build_election(server_app.test_client(), seed=b"attacks-dkg", stop_before="trustee_committed")
    size = e.size()
    body = e.commitments[0].to_json()
    body["coefficients"][0] = BAD_POINTS["cve-2025-69277"]
    response = e.post("trustee_committed", e.trustee_keys[0], body)
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_point"
    assert e.size() == size


def test_cve_2025_69277_vector_in_a_partial_decryption_is_a_400(live: ApiElection) -> None:
    live.cast_ok(0)
    live.close()
    tally, counted, total = live.counted_tally()
    live.ok("tally_posted", live.official,
            {"tally": tally.to_json(), "counted": counted, "total_weight": total})
    partial = live.partials(tally, [1])[0].to_json()
    partial["shares"][0][0]["factor"] = BAD_POINTS["cve-2025-69277"]
    size = live.size()
    response = live.post("partial_decryption", live.trustee_keys[0], partial)
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_point"
    assert live.size() == size


# --- through the verifier -----------------------------------------------------------------


def test_cve_2025_69277_vector_on_the_board_fails_the_verifier(
    honest: GeneratedRecord, record_copy
) -> None:
    """A server that appends a ballot carrying the CVE vector (and re-signs the
    board) fails the ballots check at that entry with invalid_point; one that
    posts a partial decryption with it fails partial-decryptions the same way."""
    e = honest.election
    pairs = pairs_of(honest.entries)
    cast_at = next(i for i, (k, _) in enumerate(pairs) if k == "ballot_cast")
    partial_at = next(i for i, (k, _) in enumerate(pairs) if k == "partial_decryption")
    pairs[cast_at] = ("ballot_cast", _set(pairs[cast_at][1], ("ballot", "answers", 0, "choices", 0,
                                                              "alpha"), BAD_POINTS["cve-2025-69277"]))
    signed = pairs[partial_at][1]
    body = _set(signed["body"], ("shares", 0, 0, "factor"), BAD_POINTS["cve-2025-69277"])
    trustee = e.states[body["trustee"] - 1].signing_key
    pairs[partial_at] = command(e, "partial_decryption", trustee, body)
    forge_board(record_copy, e, pairs)
    report = verify(record_copy)
    failed = failures(report)
    assert failed["ballots"] == "invalid_point"
    assert report.check("ballots").first_failure.index == cast_at
    assert failed["partial-decryptions"] == "invalid_point"
    assert report.check("partial-decryptions").first_failure.index == partial_at


def test_cve_2025_69277_small_order_board_key_makes_the_record_unreadable(
    honest: GeneratedRecord, record_copy
) -> None:
    """A record whose header names a small-order board key (which would let any
    signature verify in a lax implementation) is refused before any check."""
    header = RecordHeader(honest.election.election_id, honest.election.board_key.verify_key)
    doc = _set(header.to_json(), ("board_key",), BAD_KEYS["small-order-1"])
    (record_copy / "record.json").write_bytes(canonical_json(doc) + b"\n")
    with pytest.raises(RecordUnreadable, match="board_key"):
        Record.load(DirectorySource(record_copy))

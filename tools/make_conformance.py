"""Regenerate ``conformance/``: the published suite of whole election records, honest and
tampered, with the verdict every verifier must reach on each (docs/conformance.md).

Run ``python tools/make_conformance.py`` (or ``make conformance``); never edit the
suite by hand.  ``--out DIR`` writes elsewhere; ``--check`` exits non-zero if the
committed suite differs from what this script produces (the test suite runs that).

Every case is built with ``tools/conformance_kit.py`` from its own seed.  A
tampered case is an honest election with one deviation, made with the keys of the
party that deviates (official, credential authority, a trustee, a voter's
credential, the server's board key): re-signed, re-chained, with the Merkle tree
and every tree head rebuilt and re-signed, so that only the rule it is named
after can catch it.  Its expected failures say which check fails, with which
error code and rule id (docs/rules.md), at which entry.

Why one module of ~1,460 lines: it is the suite's catalogue -- one short
function per case, each naming the rule it breaks -- and reads best as one
list in the order of ``docs/conformance.md``; the machinery is apart in
``tools/conformance_kit.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evote import dkg  # noqa: E402
from evote.ballot import (  # noqa: E402
    AuditedBallot,
    BallotRandomness,
    EncryptedAnswer,
    encrypt_ballot,
    encrypt_ballot_deterministic,
    sign_ballot,
)
from evote.board import SignedTreeHead, TreeHead  # noqa: E402
from evote.credentials import CredentialList, PublicCredential  # noqa: E402
from evote.dkg import trustee as dkg_trustee  # noqa: E402
from evote.drbg import SeededRng  # noqa: E402
from evote.elgamal import encrypt  # noqa: E402
from evote.encoding import canonical_json  # noqa: E402
from evote.fingerprint import ElectionContext  # noqa: E402
from evote.group import Point, Scalar, small_multiple  # noqa: E402
from evote.hashing import (  # noqa: E402
    TAG_MIX_SIGNATURE,  # noqa: E402
    TAG_RANGE,
    hash_to_scalar,
)
from evote.kinds import SPECS  # noqa: E402
from evote.merkle import MemoryTree, leaf_hash  # noqa: E402
from evote.mix_payloads import RankedResult  # noqa: E402
from evote.mixdecryption import DecryptedRows, partial_decrypt_rows  # noqa: E402
from evote.mixnet import Mix  # noqa: E402
from evote.mixnet import _signed_fields as mixnet_signed_fields  # noqa: E402
from evote.proofs import RangeProof  # noqa: E402
from evote.ranked import expected_count  # noqa: E402
from evote.rulebook import RULES  # noqa: E402
from evote.schedule import format_time  # noqa: E402
from evote.shuffle import RowList  # noqa: E402
from evote.signing import SigningKey  # noqa: E402
from evote.tally import Result, aggregate, combine  # noqa: E402
from tools.conformance_kit import (  # noqa: E402
    START_TIME,
    Builder,
    Fault,
    Plan,
    Step,
    make_election,
    render,
    rich_manifest,
    write_record,
)
from tools.conformance_mixnet import (  # noqa: E402
    MixnetRun,
    finish_ranked,
    honest_decryption,
    honest_mix,
    initial_lists,
    post_mixnet,
    ranked_manifest,
)

OUT = ROOT / "conformance"
INDEX_FILE = "cases.json"
EXPECTED_FILE = "expected.json"
SUITE_FORMAT = "evote-conformance"
SUITE_VERSION = 2  # 2: the GJKR key ceremony (docs/conformance.md, "Versioning")


@dataclass(frozen=True)
class Expect:
    """One check the verifier must fail: the rule broken (or None for a failure that is
    a consequence without a rule of its own), the error code, and the entry (by step
    tag) where the first failure is, if it is at an entry."""

    rule: str | None
    code: str
    at: str | None = None
    check: str | None = None  # only for rule-less failures, or to name the owner check
    #: a check a verifier may fail too, or not (listed under ``may_also_fail``)
    optional: bool = False


@dataclass
class Case:
    name: str
    description: str
    tampered_by: str | None  # None: an honest record
    build: Callable[[], Plan]
    expect: tuple[Expect, ...] = ()
    exit_code: int | None = None  # default: 0 honest, 1 tampered
    #: changes the written files (name -> bytes), for the cases about the files themselves
    post: Callable[[dict[str, bytes]], dict[str, bytes]] | None = None
    #: rules a passing record must name in a check's note without failing it (R-TAL-06)
    named: tuple[Expect, ...] = ()
    #: the board is a valid abandonment (R-PHASE-07): the report must say so
    abandoned: bool = False


CASES: list[Case] = []


def case(name: str, description: str, *, by: str | None = None,
         expect: tuple[Expect, ...] = (), exit_code: int | None = None,
         post: Callable[[dict[str, bytes]], dict[str, bytes]] | None = None,
         named: tuple[Expect, ...] = (), abandoned: bool = False):
    def register(fn: Callable[[], Builder]) -> Callable[[], Builder]:
        CASES.append(Case(name, description, by, lambda: fn().plan(), expect, exit_code, post,
                          named, abandoned))
        return fn
    return register


def eid(name: str) -> str:
    return name.lower()[:64]


def election(name: str, **kw: Any):
    return make_election(eid(name), seed=name.encode(), **kw)


def standard(name: str, votes=((0, 0), (1, 1), (2, 0)), **kw: Any) -> Builder:
    """Setup, the votes, and an honest finish (used by most tampered cases)."""
    b = Builder(election(name, **kw))
    b.setup()
    b.vote(votes)
    b.finish()
    return b


def check_of(rule: str, kind: str | None = None) -> str:
    check = RULES[rule].check
    if check.startswith("(") and kind is not None:
        return SPECS[kind].check
    return check


# ==========================================================================
# Honest records: every verifier must pass them (exit 0)
# ==========================================================================


@case("honest-minimal", "n=3, t=2; three voters, one ballot each; no audits, no re-votes.")
def _honest_minimal() -> Builder:
    return standard("honest-minimal")


@case("honest-revote-audit",
      "Two questions (choice and score, with sum proofs); four voters, two audited ballots, "
      "three re-votes (the last ballot of each credential counts), heads during voting.")
def _honest_revote_audit() -> Builder:
    b = Builder(election("honest-revote-audit", voters=4,
                         manifest=rich_manifest("honest-revote-audit")))
    b.setup()
    b.audit(0, 1)
    b.cast(0, 0)
    b.cast(1, 1)
    b.head()
    b.cast(2, 2)
    b.cast(1, 2, tag="recast:1")
    b.audit(3, 0)
    b.cast(3, 3)
    b.cast(0, 1, tag="recast:0")
    b.cast(0, 3, tag="recast2:0")
    b.finish()
    return b


@case("honest-complaint-answered",
      "Dealer 1 seals a wrong share to trustee 3, who complains (bad-share); dealer 1 answers "
      "with the right share in public, so the complaint is cleared and all three qualify.")
def _honest_answered() -> Builder:
    return standard("honest-complaint-answered", fault=Fault(1, 3, "good"))


@case("honest-complaint-unanswered",
      "Dealer 2 seals a wrong share to trustee 3, who complains; dealer 2 never answers and "
      "is disqualified (QUAL = {1, 3}); trustees 1 and 3 decrypt.")
def _honest_unanswered() -> Builder:
    return standard("honest-complaint-unanswered", fault=Fault(2, 3, "none"))


@case("honest-withheld-reveal",
      "Dealer 2 is in QUAL but never reveals its Feldman values; the official posts "
      "ceremony_reconstruct [2], trustees 1 and 3 publish the pairs dealer 2 dealt them "
      "(trustee_reconstruction) and anyone rebuilds dealer 2's polynomial: the key still "
      "includes dealer 2's contribution; trustees 1 and 3 decrypt.")
def _honest_withheld() -> Builder:
    return standard("honest-withheld-reveal", withhold=(2,))


@case("honest-n5-withheld-two",
      "Five trustees, threshold three: dealers 1 and 4 withhold their reveals and are both "
      "rebuilt from the shares of trustees 2, 3 and 5, who decrypt.")
def _honest_n5_withheld() -> Builder:
    b = Builder(election("honest-n5-withheld-two", n=5, t=3, withhold=(1, 4)))
    b.setup()
    b.vote([(0, 1), (1, 1), (2, 0)])
    b.finish(partials=[2, 3, 5])
    return b


@case("honest-n5-t3", "Five trustees, threshold three; trustees 2, 4 and 5 decrypt.")
def _honest_n5() -> Builder:
    b = Builder(election("honest-n5-t3", n=5, t=3))
    b.setup()
    b.vote([(0, 0), (1, 1), (2, 1)])
    b.finish(partials=[2, 4, 5])
    return b


@case("honest-weights-batches",
      "Five voters with weights 1, 3, 2, 5, 1, published in three credential batches "
      "(2 + 2 + 1); a re-vote by the weight-5 voter; the tally counts weights.")
def _honest_weights() -> Builder:
    e = election("honest-weights-batches", voters=5, weights=[1, 3, 2, 5, 1])
    # batches of 2, 2 and 1 credentials, highest keys first: the union the fingerprint
    # hashes is sorted by key bytes, not in the order the batches came
    high_first = sorted(e.credentials.entries, key=lambda c: c.key.raw, reverse=True)
    e.batches = [CredentialList(tuple(high_first[i:j])) for i, j in ((0, 2), (2, 4), (4, 5))]
    b = Builder(e)
    b.setup()
    b.vote([(0, 0), (1, 1), (2, 0), (3, 1), (4, 1), (3, 0)])
    b.finish()
    # the point of several batches: the hashed union is sorted, not the batches' order
    concatenated = [c.key.raw for batch in b.e.batches for c in batch.entries]
    assert concatenated != sorted(concatenated)
    return b


@case("honest-witnesses",
      "A 2-of-3 witness policy in the manifest; checkpoint.txt is the board-signed "
      "checkpoint of the whole board, cosigned by witnesses w1 and w3.")
def _honest_witnesses() -> Builder:
    b = standard("honest-witnesses", witnesses=3, witness_threshold=2)
    b.cosigners = (0, 2)
    return b


@case("honest-extra-partials",
      "All three trustees post a partial decryption although two (t) suffice.")
def _honest_extra_partials() -> Builder:
    return standard_partials("honest-extra-partials", [1, 2, 3])


def standard_partials(name: str, partials: list[int], **kw: Any) -> Builder:
    b = Builder(election(name, **kw))
    b.setup()
    b.vote([(0, 0), (1, 1), (2, 0)])
    b.finish(partials=partials)
    return b


@case("honest-identity-alpha",
      "Two voters; voter 1's device happens to use, for option Yes, the negation of the "
      "randomness voter 0's device used: the tally's ciphertext for Yes has alpha = the "
      "identity point, so "
      "each trustee's factor for it is the identity and its DLEQ proof has an identity base "
      "(protocol.md 3.4 and protocol-trustees.md 5.12: how that case is proved and checked).")
def _honest_identity() -> Builder:
    b = Builder(election("honest-identity-alpha", voters=2))
    e = b.e
    b.setup()
    a, r0, r1 = (Scalar.random(e.rng) for _ in range(3))
    first = encrypt_ballot_deterministic(e.ctx, e.voters[0], [[1, 0]],
                                         BallotRandomness(((a, r0),)), e.rng)
    second = encrypt_ballot_deterministic(e.ctx, e.voters[1], [[0, 1]],
                                          BallotRandomness(((-a, r1),)), e.rng)
    b.cast(0, 0, ballot=first)
    b.cast(1, 1, ballot=second)
    b.finish()
    assert b.tally_value is not None and b.tally_value.questions[0][0].alpha.is_identity()
    return b


# ==========================================================================
# Record format: the server writes these (R-REC-*); tampered by the server
# ==========================================================================

SERVER = "the server (board key)"


def _edit(b: Builder, tag: str, fn: Callable[[dict], dict]) -> None:
    b.steps[b.find(tag)].edit = fn


@case("R-REC-01-wrong-index",
      "The entry of voter 1's ballot says index i+1 at line i (re-chained, heads re-signed).",
      by=SERVER, expect=(Expect("R-REC-01", "wrong_index", "cast:1"),))
def _rec01_index() -> Builder:
    b = standard("R-REC-01-wrong-index")
    _edit(b, "cast:1", lambda o: {**o, "index": o["index"] + 1})
    return b


@case("R-REC-01-wrong-election",
      "One entry (election_closed) names another election id (re-chained, heads re-signed).",
      by=SERVER, expect=(Expect("R-REC-01", "wrong_election", "close"),))
def _rec01_election() -> Builder:
    b = standard("R-REC-01-wrong-election")
    _edit(b, "close", lambda o: {**o, "election": "another-election"})
    return b


@case("R-REC-02-broken-link",
      "The prev of voter 1's ballot entry is not the previous entry's leaf hash (the chain "
      "goes on from the altered entry; tree and heads rebuilt over the lines as written).",
      by=SERVER, expect=(Expect("R-REC-02", "broken_chain", "cast:1"),))
def _rec02_link() -> Builder:
    b = standard("R-REC-02-broken-link")
    _edit(b, "cast:1", lambda o: {**o, "prev": "A" * 43})
    return b


@case("R-REC-02-time-goes-back",
      "Voter 1's ballot entry is dated one millisecond before the entry before it.",
      by=SERVER, expect=(Expect("R-REC-02", "time_goes_back", "cast:1"),))
def _rec02_time() -> Builder:
    b = standard("R-REC-02-time-goes-back")
    _edit(b, "cast:1", lambda o: {**o, "time": o["time"] - 1001})
    return b


@case("R-REC-03-unsigned-tail",
      "The last signed tree head is withheld: the latest head covers the board only up to "
      "the end of voting; closing, tally and result are not signed (the first failure is "
      "at the first unsigned entry).",
      by=SERVER, expect=(Expect("R-REC-03", "unsigned_entries", "close"),))
def _rec03_tail() -> Builder:
    b = standard("R-REC-03-unsigned-tail")
    assert b.steps[-1].head is not None
    b.steps.pop()
    return b


def _forged_head(e, size, tree, time):
    """A head over the right root that names the board key but is signed by the official."""
    signed = TreeHead(e.eid, size, tree.root(size), time).sign(e.official)
    return SignedTreeHead(signed.head, signed.signature, e.board_key.verify_key)


@case("R-REC-03-forged-head",
      "A tree head over the right root naming the board key, but signed by the official's key "
      "(a head the board never signed).",
      by="the official", expect=(Expect("R-REC-03", "invalid_signature"),))
def _rec03_forged() -> Builder:
    b = standard("R-REC-03-forged-head")
    b.steps.insert(b.find("close"), Step(tag="head", head=_forged_head))
    return b


def _fork_head(e, size, tree, time):
    """A validly signed head over another board: the first size-1 entries, then a
    different last entry (what the server showed someone else)."""
    fork = MemoryTree(tree.leaf(i) for i in range(size - 1))
    fork.append(leaf_hash(b"another entry shown to another auditor"))
    return TreeHead(e.eid, size, fork.root(), time).sign(e.board_key)


@case("R-REC-04-fork",
      "A validly signed head during voting covers a different last entry (a forked board). "
      "On a record, no head can be inconsistent without also mismatching the board, so "
      "check 7 (R-REC-03) fails with check 8.",
      by=SERVER, expect=(Expect("R-REC-03", "root_mismatch"),
                         Expect("R-REC-04", "root_mismatch")))
def _rec04_fork() -> Builder:
    b = standard("R-REC-04-fork")
    b.steps.insert(b.find("cast:2"), Step(tag="head", head=_fork_head))
    return b


@case("R-REC-05-equivocation",
      "Two validly signed heads of the same size with different roots (the honest one and a "
      "fork). The forked one also mismatches the board (check 7); a verifier that checks "
      "consistency from every head, not only the first of each size, fails check 8 too.",
      by=SERVER, expect=(Expect("R-REC-03", "root_mismatch"),
                         Expect("R-REC-05", "equivocation"),
                         Expect("R-REC-04", "root_mismatch", optional=True)))
def _rec05_equivocation() -> Builder:
    b = standard("R-REC-05-equivocation")
    b.steps.insert(b.find("cast:2"), Step(tag="head", head=True))
    b.steps.insert(b.find("cast:2"), Step(tag="head", head=_fork_head))
    return b


@case("R-REC-06-bad-body",
      "Trustee 3 posts a complaint whose reason is not one of the protocol's (\"bribed\"), "
      "signed as a command and inside by trustee 3: the body does not parse as a Complaint.",
      by="trustee 3", expect=(Expect("R-REC-06", "bad_schema", "odd-complaint"),))
def _rec06_body() -> Builder:
    b = standard("R-REC-06-bad-body")
    e = b.e
    c = dkg.Complaint.create(e.eid, e.trustee_keys[3], accuser=3, accused=1, reason="bribed")
    b.insert_before("key", b.trustee("trustee_complaint", 3, c, "odd-complaint"))
    return b


@case("R-REC-01-non-canonical-line",
      "Voter 1's audited ballot entry is written with spaces after ':' and ',' (valid JSON, "
      "same values, not RFC 8785); chain, tree and heads are over the bytes as written. "
      "The line is not an entry, so what it says is not used (a verifier may also fail "
      "check 6 for the link it cannot read).",
      by=SERVER, expect=(Expect("R-REC-01", "bad_encoding", "audit:1"),
                         Expect(None, "unreadable", "audit:1", check="hash-chain",
                                optional=True)))
def _rec01_spelling() -> Builder:
    b = Builder(election("R-REC-01-non-canonical-line"))
    b.setup()
    b.vote([(0, 0)])
    b.audit(1, 0)
    b.vote([(1, 1), (2, 0)])
    b.finish()
    b.steps[b.find("audit:1")].raw = lambda o: json.dumps(o, sort_keys=True).encode()
    return b


def _record_json(change: Callable[[dict[str, Any]], dict[str, Any]]):
    def post(files: dict[str, bytes]) -> dict[str, bytes]:
        obj = json.loads(files["record.json"])
        return {**files, "record.json": canonical_json(change(obj)) + b"\n"}
    return post


def _heads(change: Callable[[list[bytes]], list[bytes]]):
    def post(files: dict[str, bytes]) -> dict[str, bytes]:
        lines = files["tree-heads.jsonl"].split(b"\n")[:-1]
        return {**files, "tree-heads.jsonl": b"".join(x + b"\n" for x in change(lines))}
    return post


@case("unreadable-record-version",
      "record.json says version 2: not a record this format describes (nothing is checked).",
      by=SERVER, exit_code=2, post=_record_json(lambda o: {**o, "version": 2}))
def _unreadable_version() -> Builder:
    return standard("unreadable-record-version")


@case("unreadable-tree-heads-order",
      "tree-heads.jsonl lists the heads out of (size, time) order: a malformed file.",
      by=SERVER, exit_code=2, post=_heads(lambda lines: [lines[1], lines[0], *lines[2:]]))
def _unreadable_heads() -> Builder:
    return standard("unreadable-tree-heads-order")


def _record_json_spaced(files: dict[str, bytes]) -> dict[str, bytes]:
    obj = json.loads(files["record.json"])
    return {**files, "record.json": (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode()}


@case("unreadable-record-json-not-canonical",
      "record.json holds the right values, indented (not RFC 8785): not a readable record.",
      by=SERVER, exit_code=2, post=_record_json_spaced)
def _unreadable_record_json() -> Builder:
    return standard("unreadable-record-json-not-canonical")


@case("unreadable-tree-heads-duplicate",
      "tree-heads.jsonl lists the first head twice: heads must be strictly ascending in "
      "(size, time), so the file is malformed.",
      by=SERVER, exit_code=2, post=_heads(lambda lines: [lines[0], *lines]))
def _unreadable_heads_dup() -> Builder:
    return standard("unreadable-tree-heads-duplicate")


def _head_with_extra_key(lines: list[bytes]) -> list[bytes]:
    obj = json.loads(lines[0])
    obj["note"] = "extra"
    return [canonical_json(obj), *lines[1:]]


@case("unreadable-tree-heads-extra-key",
      "The first signed head carries a key its type does not have (\"note\"), canonically "
      "spelled: the file is malformed.",
      by=SERVER, exit_code=2, post=_heads(_head_with_extra_key))
def _unreadable_heads_key() -> Builder:
    return standard("unreadable-tree-heads-extra-key")


@case("unreadable-tree-heads-not-canonical",
      "The first signed head is valid JSON with the right values but not RFC 8785 "
      "(spaces after separators): the file is malformed.",
      by=SERVER, exit_code=2,
      post=_heads(lambda lines: [json.dumps(json.loads(lines[0]), sort_keys=True).encode(),
                                 *lines[1:]]))
def _unreadable_heads_spelling() -> Builder:
    return standard("unreadable-tree-heads-not-canonical")


# ==========================================================================
# The phase table (R-PHASE-*)
# ==========================================================================


@case("R-PHASE-01-second-created",
      "A second election_created (the same manifest, signed by the official) during setup.",
      by="the official", expect=(Expect("R-PHASE-01", "wrong_phase", "created2"),))
def _phase01() -> Builder:
    b = standard("R-PHASE-01-second-created")
    step = b.created()
    step.tag = "created2"
    b.insert_before("open", step)
    return b


@case("R-PHASE-02-unknown-kind",
      "An entry of a kind no registry has (trustee_withdrawn), signed by trustee 3.",
      by="trustee 3", expect=(Expect("R-PHASE-02", "wrong_phase", "odd"),))
def _phase02() -> Builder:
    b = standard("R-PHASE-02-unknown-kind")
    step = b.command("trustee_withdrawn", b.e.trustee_keys[3], {"trustee": 3}, "odd")
    b.insert_before("key", step)
    return b


@case("R-PHASE-03-late-ballot",
      "Voter 0 re-votes after election_closed; the (valid) ballot is on the board but the "
      "tally rightly does not count it.",
      by="voter 0 and the server", expect=(Expect("R-PHASE-03", "wrong_phase", "late"),))
def _phase03() -> Builder:
    b = standard("R-PHASE-03-late-ballot")
    step = b.cast(0, 1, counts=False, tag="late")
    b.insert_before("tally", step)
    return b


@case("R-PHASE-04-open-before-credentials",
      "election_opened comes before credentials_published (the fingerprint is over the list "
      "published next). With no valid opening there is no election context, so the ballots "
      "and the tally cannot be checked either (the consequences listed).",
      by="the official", expect=(
          Expect("R-PHASE-04", "wrong_phase", "open"),
          # no valid opening, so no election context: nothing after it can be checked
          Expect(None, "no_context", "cast:0", check="ballots"),
          Expect(None, "empty", check="unique-ciphertexts"),
          Expect(None, "empty", check="counted-set"),
          Expect(None, "no_context", check="combination"),
          Expect(None, "empty", check="result"),
      ))
def _phase04() -> Builder:
    b = standard("R-PHASE-04-open-before-credentials")
    b.move("open", "credentials:0")
    return b


@case("R-PHASE-05-second-key",
      "key_published appears twice (the same joint key, signed by the official).",
      by="the official", expect=(Expect("R-PHASE-05", "wrong_phase", "key2"),))
def _phase05() -> Builder:
    b = standard("R-PHASE-05-second-key")
    step = b.key()
    step.tag = "key2"
    b.insert_before("credentials:0", step)
    return b


@case("R-PHASE-06-partial-before-tally",
      "Trustee 3 posts its partial decryption (of the tally posted next) before tally_posted; "
      "trustees 1 and 2 decrypt after it.",
      by="trustee 3", expect=(Expect("R-PHASE-06", "wrong_phase", "partial:3"),))
def _phase06() -> Builder:
    b = standard_partials("R-PHASE-06-partial-before-tally", [1, 2, 3])
    b.move("partial:3", "tally")
    return b


@case("R-PHASE-03-credentials-after-open",
      "The credential authority publishes a second batch after election_opened (the "
      "fingerprint is over the first batch; only its voters vote).",
      by="the credential authority",
      expect=(Expect("R-PHASE-03", "wrong_phase", "credentials:1"),))
def _phase03b() -> Builder:
    b = Builder(election("R-PHASE-03-credentials-after-open", voters=4, batches=[3, 1]))
    e = b.e
    first = e.batches[0]
    e.credentials = first
    e.ctx = ElectionContext.build(e.manifest, e.joint.joint_key,
                                  dkg.trustee_commitments(e.feldman), first)
    b.created()
    b.head()
    b.ceremony()
    b.key()
    b.credentials()
    b.opened()
    b.move("open", "credentials:1")
    b.head()
    b.vote([(0, 0), (1, 1), (2, 0)])
    b.finish()
    return b


@case("R-PHASE-05-second-tally", "tally_posted appears twice (the same tally, signed by the "
      "official).",
      by="the official", expect=(Expect("R-PHASE-05", "wrong_phase", "tally2"),))
def _phase05b() -> Builder:
    b = standard("R-PHASE-05-second-tally")
    _again(b, "tally", "partial:1", "tally2")
    return b


def _abandon(b: Builder, reason: str = "trustee keys reused from another election") -> Step:
    return b.command("election_abandoned", b.e.official, {"reason": reason}, "abandon")


@case("honest-abandoned",
      "The official abandons the election in setup (R-PHASE-07) after the trustees "
      "announced: the record of an abandoned election, with no key, credentials, ballots "
      "or tally; it verifies, the checks with nothing to judge skipped.", abandoned=True)
def _honest_abandoned() -> Builder:
    b = Builder(election("honest-abandoned"))
    b.created()
    b.head()
    for a in b.e.messages.announcements:
        b.trustee("trustee_announced", a.trustee, a, f"announce:{a.trustee}")
    _abandon(b)
    b.head()
    return b


@case("R-PHASE-07-abandon-after-open",
      "The official posts election_abandoned while the election is open (only an election "
      "in setup may be abandoned); voting, the tally and the result go on honestly.",
      by="the official", expect=(Expect("R-PHASE-07", "wrong_phase", "abandon"),))
def _phase07() -> Builder:
    b = standard("R-PHASE-07-abandon-after-open")
    step = _abandon(b, "changed our mind")
    b.insert_before("cast:1", step)
    return b


@case("R-PHASE-07-entry-after-abandon",
      "The official abandons the election in setup, then the trustees go on with the key "
      "ceremony: nothing may be appended after election_abandoned.",
      by="trustee 1", expect=(Expect("R-PHASE-07", "wrong_phase", "shares:1"),),
      abandoned=True)
def _phase07b() -> Builder:
    b = Builder(election("R-PHASE-07-entry-after-abandon"))
    b.created()
    b.head()
    m = b.e.messages
    for a in m.announcements:
        b.trustee("trustee_announced", a.trustee, a, f"announce:{a.trustee}")
    _abandon(b)
    for sh in m.shares:
        b.trustee("trustee_shares", sh.dealer, sh, f"shares:{sh.dealer}")
    b.head()
    return b


# ==========================================================================
# Command signatures (R-SIG-*)
# ==========================================================================


@case("R-SIG-01-replayed-signature",
      "election_closed carries the official's signature made for another election "
      "(a replay): right key, wrong signed bytes.",
      by=SERVER, expect=(Expect("R-SIG-01", "invalid_signature", "close"),))
def _sig01() -> Builder:
    b = standard("R-SIG-01-replayed-signature")
    i = b.find("close")
    b.steps[i] = b.command("election_closed", b.e.official, {}, "close",
                           election="another-election")
    b.steps.pop()
    return b


@case("R-SIG-02-wrong-signer",
      "election_closed is validly signed, but by the credential authority, not the official.",
      by="the credential authority", expect=(Expect("R-SIG-02", "wrong_signer", "close"),))
def _sig02() -> Builder:
    b = standard("R-SIG-02-wrong-signer")
    i = b.find("close")
    b.steps[i] = b.command("election_closed", b.e.authority, {}, "close")
    b.steps.pop()
    return b


@case("R-SIG-02-trustee-impersonation",
      "Trustee 2 posts trustee 3's commitments message (trustee 3's own inner signature "
      "intact) under its own command signature: the command speaks for trustee 3 but is "
      "signed by trustee 2.",
      by="trustee 2", expect=(Expect("R-SIG-02", "wrong_signer", "commit:3"),))
def _sig02b() -> Builder:
    b = standard("R-SIG-02-trustee-impersonation")
    i = b.find("commit:3")
    msg = b.e.messages.commitments[2]
    b.steps[i] = b.trustee("trustee_committed", 2, msg, "commit:3")
    b.steps.pop()
    return b


# ==========================================================================
# The key ceremony (R-DKG-*)
# ==========================================================================


def _again(b: Builder, tag: str, before: str, new_tag: str) -> None:
    """Post step ``tag``'s message a second time (re-signed: same bytes), before ``before``."""
    src = b.steps[b.find(tag)]
    step = b.add(src.kind, src.payload, new_tag)
    b.insert_before(before, step)


@case("R-DKG-01-second-announcement", "Trustee 2 announces twice (the same message again).",
      by="trustee 2", expect=(Expect("R-DKG-01", "already_exists", "announce2:2"),))
def _dkg01() -> Builder:
    b = standard("R-DKG-01-second-announcement")
    _again(b, "announce:2", "announce:3", "announce2:2")
    return b


@case("R-DKG-02-early-reveal",
      "Trustee 1 reveals its Feldman values (trustee_committed) before the official's "
      "ceremony_qualified has fixed QUAL: the joint key's contribution is public while QUAL "
      "can still change (the bias GJKR's cut prevents).",
      by="trustee 1", expect=(Expect("R-DKG-02", "wrong_phase", "commit:1"),))
def _dkg02() -> Builder:
    b = standard("R-DKG-02-early-reveal")
    b.move("commit:1", "qualified")
    return b


@case("R-DKG-03-second-commitments", "Trustee 2 reveals its Feldman values twice.",
      by="trustee 2", expect=(Expect("R-DKG-03", "already_exists", "commit2:2"),))
def _dkg03() -> Builder:
    b = standard("R-DKG-03-second-commitments")
    _again(b, "commit:2", "key", "commit2:2")
    return b


@case("R-DKG-04-shares-before-announcements",
      "Dealer 1 deals its encrypted shares before trustee 3 has announced.",
      by="trustee 1", expect=(Expect("R-DKG-04", "wrong_phase", "shares:1"),))
def _dkg04() -> Builder:
    b = standard("R-DKG-04-shares-before-announcements")
    b.move("shares:1", "announce:3")
    return b


@case("R-DKG-05-second-shares", "Dealer 2 deals its shares twice (before the cut).",
      by="trustee 2", expect=(Expect("R-DKG-05", "already_exists", "shares2:2"),))
def _dkg05() -> Builder:
    b = standard("R-DKG-05-second-shares")
    _again(b, "shares:2", "qualified", "shares2:2")
    return b


@case("R-DKG-06-late-complaint",
      "Trustee 3 complains about trustee 1 after key_published (QUAL is already fixed).",
      by="trustee 3", expect=(Expect("R-DKG-06", "wrong_phase", "late-complaint"),))
def _dkg06() -> Builder:
    b = standard("R-DKG-06-late-complaint")
    c = dkg.Complaint.create(b.e.eid, b.e.trustee_keys[3], accuser=3, accused=1,
                             reason="bad-share")
    step = b.trustee("trustee_complaint", 3, c, "late-complaint")
    b.insert_before("credentials:0", step)
    return b


@case("R-DKG-06-late-answer",
      "Dealer 1 answers trustee 3's complaint in time, then posts the same answer again "
      "after key_published.",
      by="trustee 1", expect=(Expect("R-DKG-06", "wrong_phase", "answer2"),))
def _dkg06b() -> Builder:
    b = standard("R-DKG-06-late-answer", fault=Fault(1, 3, "good"))
    _again(b, "answer:1:3", "credentials:0", "answer2")
    return b


@case("R-DKG-07-second-complaint",
      "Trustee 3 complains twice about dealer 1 (who answers once, correctly).",
      by="trustee 3", expect=(Expect("R-DKG-07", "already_exists", "complaint2"),))
def _dkg07() -> Builder:
    b = standard("R-DKG-07-second-complaint", fault=Fault(1, 3, "good"))
    _again(b, "complaint:3:1", "answer:1:3", "complaint2")
    return b


def _answer(b: Builder, dealer: int, accuser: int) -> dkg.ComplaintAnswer:
    """Dealer's honest answer to ``accuser``: the pair it owes it."""
    share, blinding = b.e.owed[(dealer, accuser)]
    return dkg.ComplaintAnswer.create(b.e.eid, b.e.trustee_keys[dealer], dealer=dealer,
                                      accuser=accuser, share=share, blinding=blinding)


@case("R-DKG-08-unsolicited-answer",
      "Dealer 1 publishes an answer (the right pair for trustee 3) although no one "
      "complained.",
      by="trustee 1", expect=(Expect("R-DKG-08", "key_ceremony", "answer"),))
def _dkg08() -> Builder:
    b = standard("R-DKG-08-unsolicited-answer")
    b.insert_before("qualified", b.trustee("trustee_complaint_answer", 1, _answer(b, 1, 3),
                                           "answer"))
    return b


@case("R-DKG-09-second-answer", "Dealer 1 answers trustee 3's complaint twice (before the cut).",
      by="trustee 1", expect=(Expect("R-DKG-09", "already_exists", "answer2"),))
def _dkg09() -> Builder:
    b = standard("R-DKG-09-second-answer", fault=Fault(1, 3, "good"))
    _again(b, "answer:1:3", "qualified", "answer2")
    return b


@case("R-DKG-10-bad-answer",
      "Dealer 2 seals a wrong share to trustee 3 and, when 3 complains, reveals that same "
      "wrong pair (it fails Pedersen's check). QUAL and the key published are without "
      "dealer 2 (QUAL = {1, 3}).",
      by="trustee 2", expect=(Expect("R-DKG-10", "key_ceremony", "answer:2:3"),))
def _dkg10() -> Builder:
    return standard("R-DKG-10-bad-answer", fault=Fault(2, 3, "bad"))


@case("R-DKG-10-shares-missing-a-box",
      "Dealer 1's shares message (signed by dealer 1) holds a box for trustee 2 only, none "
      "for trustee 3: not a well-formed shares message.",
      by="trustee 1", expect=(Expect("R-DKG-10", "key_ceremony", "shares:1"),))
def _dkg10b() -> Builder:
    b = standard("R-DKG-10-shares-missing-a-box")
    e = b.e
    honest = e.messages.shares[0]
    short = dkg.EncryptedShares.create(e.eid, e.trustee_keys[1], dealer=1,
                                       boxes=[bx for bx in honest.boxes if bx[0] == 2])
    i = b.find("shares:1")
    b.steps[i] = b.trustee("trustee_shares", 1, short, "shares:1")
    b.steps.pop()
    return b


@case("R-DKG-11-wrong-verification-key",
      "key_published gives trustee 3 a verification key that is not the one the ceremony "
      "yields (the joint key itself is right; trustees 1 and 2 decrypt).",
      by="the official", expect=(Expect("R-DKG-11", "key_ceremony", "key"),))
def _dkg11() -> Builder:
    b = Builder(election("R-DKG-11-wrong-verification-key"))
    j = b.e.joint
    vks = dict(j.verification_keys)
    vks[3] = Point.base_mul(Scalar.from_int(3))
    fake = dkg.JointKey(j.joint_key, j.threshold, vks, j.qualified)
    b.created()
    b.head()
    b.ceremony()
    b.key(fake)
    b.credentials()
    b.opened()
    b.head()
    b.vote([(0, 0), (1, 1), (2, 0)])
    b.finish(partials=[1, 2])
    return b


@case("R-DKG-12-answer-before-announcement",
      "Trustee 2 relays a complaint of trustee 3 against dealer 1 (missing) under its own "
      "command signature before dealer 1 has announced, and dealer 1 answers it (with the "
      "right pair) before announcing. An answer needs a complaint (R-DKG-08) and a valid "
      "complaint needs both trustees announced (R-DKG-10), so R-DKG-12 can only be reached "
      "after another violation: here the relayed complaint's wrong signer (R-SIG-02), which "
      "keeps its own ceremony rules from being evaluated.",
      by="trustees 1 and 2",
      expect=(Expect("R-DKG-12", "wrong_phase", "early-answer"),
              Expect("R-SIG-02", "wrong_signer", "early-complaint")))
def _dkg12() -> Builder:
    b = standard("R-DKG-12-answer-before-announcement")
    e = b.e
    c = dkg.Complaint.create(e.eid, e.trustee_keys[3], accuser=3, accused=1, reason="missing")
    b.insert_before("announce:1", b.trustee("trustee_complaint", 2, c, "early-complaint"))
    b.insert_before("announce:1", b.trustee("trustee_complaint_answer", 1, _answer(b, 1, 3),
                                            "early-answer"))
    return b


@case("R-DKG-14-second-announcement-after-cut",
      "Trustee 2 posts its announcement again after ceremony_qualified (a phase-1 message "
      "once QUAL is fixed).",
      by="trustee 2", expect=(Expect("R-DKG-14", "wrong_phase", "announce2:2"),))
def _dkg14() -> Builder:
    b = standard("R-DKG-14-second-announcement-after-cut")
    _again(b, "announce:2", "commit:1", "announce2:2")
    return b


@case("R-DKG-14-answer-after-cut",
      "Dealer 1 answers trustee 3's complaint in time, then posts the answer again after "
      "ceremony_qualified.",
      by="trustee 1", expect=(Expect("R-DKG-14", "wrong_phase", "answer2"),))
def _dkg14b() -> Builder:
    b = standard("R-DKG-14-answer-after-cut", fault=Fault(1, 3, "good"))
    _again(b, "answer:1:3", "key", "answer2")
    return b


@case("R-DKG-15-wrong-qual",
      "Dealer 2 never answers trustee 3's complaint, so QUAL = {1, 3}; the official's "
      "ceremony_qualified names {1, 2, 3}. Dealer 2 does not reveal and the key published "
      "is the right one (without dealer 2).",
      by="the official", expect=(Expect("R-DKG-15", "key_ceremony", "qualified"),))
def _dkg15() -> Builder:
    b = standard("R-DKG-15-wrong-qual", fault=Fault(2, 3, "none"))
    i = b.find("qualified")
    b.steps[i] = b.qualified([1, 2, 3])
    b.steps.pop()
    return b


@case("R-DKG-15-second-cut",
      "The official posts ceremony_qualified twice (the same QUAL).",
      by="the official", expect=(Expect("R-DKG-15", "key_ceremony", "qualified2"),))
def _dkg15b() -> Builder:
    b = standard("R-DKG-15-second-cut")
    _again(b, "qualified", "commit:1", "qualified2")
    return b


@case("R-DKG-16-needless-reconstruct",
      "Every QUAL dealer revealed, yet the official posts ceremony_reconstruct naming "
      "dealer 1 (inviting the others to publish dealer 1's shares).",
      by="the official", expect=(Expect("R-DKG-16", "key_ceremony", "reconstruct"),))
def _dkg16() -> Builder:
    b = standard("R-DKG-16-needless-reconstruct")
    b.insert_before("key", b.reconstruct([1]))
    return b


@case("R-DKG-16-reveal-after-reconstruct",
      "Dealer 2 withholds its reveal, the official posts ceremony_reconstruct [2] and the "
      "others publish dealer 2's shares; then dealer 2 reveals after all (too late).",
      by="trustee 2", expect=(Expect("R-DKG-16", "key_ceremony", "commit:2"),))
def _dkg16b() -> Builder:
    b = standard("R-DKG-16-reveal-after-reconstruct", withhold=(2,))
    e = b.e
    late = dkg_trustee.step5_reveal(e.states[2], e.rng)
    b.insert_before("key", b.trustee("trustee_committed", 2, late, "commit:2"))
    return b


@case("R-DKG-17-unrequested-reconstruction",
      "Trustee 3 publishes the pair dealer 1 dealt it although no ceremony_reconstruct "
      "names dealer 1 (dealer 1 revealed).",
      by="trustee 3", expect=(Expect("R-DKG-17", "key_ceremony", "rebuild"),))
def _dkg17() -> Builder:
    b = standard("R-DKG-17-unrequested-reconstruction")
    e = b.e
    share, blinding = e.owed[(1, 3)]
    r = dkg.Reconstruction.create(e.eid, e.trustee_keys[3], trustee=3, dealer=1, share=share,
                                  blinding=blinding)
    b.insert_before("key", b.trustee("trustee_reconstruction", 3, r, "rebuild"))
    return b


@case("R-DKG-17-second-reconstruction",
      "Dealer 2 withholds its reveal and is rebuilt in public; trustee 1 publishes its "
      "share from dealer 2 twice.",
      by="trustee 1", expect=(Expect("R-DKG-17", "key_ceremony", "rebuild2"),))
def _dkg17b() -> Builder:
    b = standard("R-DKG-17-second-reconstruction", withhold=(2,))
    _again(b, "rebuild:1:2", "key", "rebuild2")
    return b


@case("R-DKG-18-key-before-cut",
      "The official publishes the (right) joint key before ceremony_qualified; the cut and "
      "the reveals follow it (each of those also breaks R-DKG-06, in the same check after "
      "its first failure).",
      by="the official", expect=(Expect("R-DKG-18", "wrong_phase", "key"),))
def _dkg18() -> Builder:
    b = standard("R-DKG-18-key-before-cut")
    b.move("key", "qualified")
    return b


# ==========================================================================
# Credentials, opening (R-CRED-*, R-OPEN-*)
# ==========================================================================


@case("R-CRED-01-repeated-credential",
      "A third credential batch lists voter 0's credential again (with weight 5). The "
      "official's fingerprint is over the first two batches.",
      by="the credential authority",
      expect=(Expect("R-CRED-01", "already_exists", "credentials:2"),))
def _cred01() -> Builder:
    b = Builder(election("R-CRED-01-repeated-credential", batches=[2, 1]))
    e = b.e
    b.created()
    b.head()
    b.ceremony()
    b.key()
    b.credentials()
    again = CredentialList((PublicCredential(e.voters[0].verify_key, 5),))
    b.command("credentials_published", e.authority, {"credentials": again.to_json()},
              "credentials:2")
    b.opened()
    b.head()
    b.vote([(0, 0), (1, 1), (2, 0)])
    b.finish()
    return b


@case("R-OPEN-01-ghost-fingerprint",
      "The official opens with a fingerprint over the published credentials plus a ghost "
      "credential that was never published. Everyone else goes on with the fingerprint the "
      "board gives (as docs/rules.md says a verifier does after a violation): the voters' "
      "ballots and the trustees' partial decryptions are bound to it.",
      by="the official", expect=(Expect("R-OPEN-01", "fingerprint_mismatch", "open"),))
def _open01() -> Builder:
    b = Builder(election("R-OPEN-01-ghost-fingerprint"))
    e = b.e
    ghost = SigningKey.generate(e.rng)
    listed = CredentialList((*e.credentials.entries, PublicCredential(ghost.verify_key, 1)))
    bad = ElectionContext.build(e.manifest, e.joint.joint_key, dkg.trustee_commitments(e.feldman),
                                listed)
    e.ctx = ElectionContext(e.manifest, e.joint.joint_key, bad.fingerprint, e.credentials)
    b.setup()
    b.vote([(0, 0), (1, 1), (2, 0)])
    b.finish()
    return b


# ==========================================================================
# Ballots (R-BAL-*)
# ==========================================================================


@case("R-BAL-01-ghost-ballot",
      "A ballot signed by a credential that is not on the list (valid proofs, bound to the "
      "election's fingerprint); the tally rightly leaves it out.",
      by="the server or the official (a ghost voter)",
      expect=(Expect("R-BAL-01", "bad_credential", "ghost"),))
def _bal01() -> Builder:
    b = Builder(election("R-BAL-01-ghost-ballot"))
    e = b.e
    ghost = SigningKey.generate(e.rng)
    with_ghost = CredentialList((*e.credentials.entries, PublicCredential(ghost.verify_key, 1)))
    ctx = ElectionContext(e.manifest, e.ctx.joint_key, e.ctx.fingerprint, with_ghost)
    b.setup()
    b.vote([(0, 0), (1, 1)])
    ballot, _ = b.ballot(0, 0, ctx=ctx, credential=ghost)
    b.cast(0, 0, ballot=ballot, counts=False, tag="ghost")
    b.vote([(2, 0)])
    b.finish()
    return b


@case("R-BAL-01-ghost-audit",
      "An audited ballot (honestly made and opened) from a credential that is not on the "
      "list.",
      by="the server or the official (a ghost voter)",
      expect=(Expect("R-BAL-01", "bad_credential", "ghost"),))
def _bal01b() -> Builder:
    b = Builder(election("R-BAL-01-ghost-audit"))
    e = b.e
    ghost = SigningKey.generate(e.rng)
    with_ghost = CredentialList((*e.credentials.entries, PublicCredential(ghost.verify_key, 1)))
    ctx = ElectionContext(e.manifest, e.ctx.joint_key, e.ctx.fingerprint, with_ghost)
    b.setup()
    b.vote([(0, 0)])
    ballot, secrets = b.ballot(0, 1, ctx=ctx, credential=ghost)
    b.add("ballot_audited", {"audited": AuditedBallot.from_secrets(ballot, secrets).to_json()},
          "ghost")
    b.vote([(1, 1), (2, 0)])
    b.finish()
    return b


def _resigned_with_swapped_proofs(b: Builder, voter: int) -> Any:
    """Voter ``voter``'s device swaps the two option proofs and signs with the credential."""
    ballot, _ = b.ballot(voter, 0)
    a = ballot.answers[0]
    swapped = EncryptedAnswer(a.choices, (a.proofs[1], a.proofs[0]), a.sum_proof)
    return sign_ballot(b.e.ctx, b.e.voters[voter], [swapped])


@case("R-BAL-02-invalid-proof",
      "Voter 1's device posts a ballot whose two option proofs are swapped, signed with "
      "voter 1's credential: the signature verifies, the range proofs do not. Not counted.",
      by="voter 1's device", expect=(Expect("R-BAL-02", "invalid_proof", "cast:1"),))
def _bal02() -> Builder:
    b = Builder(election("R-BAL-02-invalid-proof"))
    b.setup()
    b.vote([(0, 0)])
    b.cast(1, 0, ballot=_resigned_with_swapped_proofs(b, 1), counts=False)
    b.vote([(2, 0)])
    b.finish()
    return b


@case("R-BAL-02-invalid-revote",
      "Voter 1 votes validly, then its device posts an invalid re-vote (swapped option "
      "proofs, signed with the credential). The counted set is the last *valid* ballot of "
      "each credential (docs/rules.md 3.1), so voter 1's first ballot counts and the tally "
      "is right.",
      by="voter 1's device", expect=(Expect("R-BAL-02", "invalid_proof", "recast:1"),))
def _bal02c() -> Builder:
    b = Builder(election("R-BAL-02-invalid-revote"))
    b.setup()
    b.vote([(0, 0), (1, 1), (2, 0)])
    b.cast(1, 0, ballot=_resigned_with_swapped_proofs(b, 1), counts=False, tag="recast:1")
    b.finish()
    return b


def _weak_fiat_shamir_forgery(rng: Any) -> tuple[Scalar, Scalar, Scalar, Scalar, Scalar]:
    """The Helios 2012 / Swiss Post 2019 forgery of a "0 or 1" proof for an encryption
    of 2, against a challenge that hashes only the commitments (Bernhard, Pereira,
    Warinschi 2012): commit A_j = a_j·G, B_j = b_j·G, take c = H(A_0, B_0, A_1, B_1),
    then choose the split c_0 + c_1 = c and the secret key x so that both branches
    close (a_j·x = b_j + c_j·(2 − v_j)).  Returns (x, c_0, c_1, a_0, a_1)."""
    a0, b0, a1, b1 = (Scalar.random(rng) for _ in range(4))
    two = Scalar.from_int(2)
    weak = hash_to_scalar(TAG_RANGE, *(Point.base_mul(k).raw for k in (a0, b0, a1, b1)))
    c0 = (a0 * b1 + a0 * weak - a1 * b0) * (two * a1 + a0).inverse()
    c1 = weak - c0
    x = (b0 + two * c0) * a0.inverse()
    assert x == (b1 + c1) * a1.inverse()
    return x, c0, c1, a0, a1


def _weakly_valid(key: Point, ct: Any, proof: RangeProof) -> bool:
    """The weak verifier a broken system runs: the challenge hashes the commitments only."""
    commitments, total = [], Scalar.from_int(0)
    for v, (c, s) in enumerate(proof.branches):
        commitments.append(Point.base_mul(s) - ct.alpha * c)
        commitments.append(key * s - (ct.beta - small_multiple(v)) * c)
        total = total + c
    return hash_to_scalar(TAG_RANGE, *(p.raw for p in commitments)) == total


@case("R-BAL-02-weak-fiat-shamir",
      "Approval question (0 to 2 of 2 options, so no sum proof). The trustees collude to "
      "choose the election key after a challenge, and voter 0's ballot encrypts 2 for "
      "option A with a '0 or 1' proof that verifies under the weak Fiat-Shamir hash "
      "(commitments only, as in Helios 2012 and Swiss Post 2019) but not under evote's "
      "strong one (protocol.md). Not counted.",
      by="the trustees and voter 0",
      expect=(Expect("R-BAL-02", "invalid_proof", "cast:0"),))
def _bal02_weak() -> Builder:
    name = "R-BAL-02-weak-fiat-shamir"
    manifest = {"election_id": eid(name), "title": "Approval poll",
                "questions": [{"id": "approve", "title": "Approve any",
                               "options": ["A", "B"], "kind": "choice", "min": 0, "max": 2}]}
    forge_rng = SeededRng(b"evote/conformance/weak-fiat-shamir")
    x, c0, c1, a0, a1 = _weak_fiat_shamir_forgery(forge_rng)
    b = Builder(election(name, manifest=manifest, joint_secret=x))
    e = b.e
    assert e.joint.joint_key == Point.base_mul(x)
    b.setup()
    rho = Scalar.random(forge_rng)
    forged_ct = encrypt(e.joint.joint_key, 2, rho)
    forged = RangeProof(((c0, a0 + c0 * rho), (c1, a1 + c1 * rho)))
    # the forgery is real: a weak verifier accepts it, and it holds 2
    assert _weakly_valid(e.joint.joint_key, forged_ct, forged)
    assert forged_ct.beta - forged_ct.alpha * x == small_multiple(2)
    honest, _ = encrypt_ballot(e.ctx, e.voters[0], [[0, 1]], e.rng)
    a = honest.answers[0]
    answer = EncryptedAnswer((forged_ct, a.choices[1]), (forged, a.proofs[1]), None)
    b.cast(0, 0, ballot=sign_ballot(e.ctx, e.voters[0], [answer]), counts=False)
    b.vote([(1, 0), (2, 1)])
    b.finish()
    return b


@case("R-BAL-02-altered-ballot",
      "The server swaps the two ciphertexts (and their proofs) of voter 1's ballot, turning "
      "a Yes into a No; it cannot re-sign with the voter's credential. Not counted.",
      by=SERVER, expect=(Expect("R-BAL-02", "invalid_signature", "cast:1"),))
def _bal02b() -> Builder:
    b = Builder(election("R-BAL-02-altered-ballot"))
    b.setup()
    b.vote([(0, 0)])
    ballot, _ = b.ballot(1, 0)
    obj = ballot.to_json()
    ans = obj["answers"][0]
    ans["choices"].reverse()
    ans["proofs"].reverse()
    b.add("ballot_cast", {"ballot": obj}, "cast:1")
    b.vote([(2, 0)])
    b.finish()
    return b


@case("R-BAL-03-reused-randomness",
      "Voter 1 re-votes with a new choice but the same encryption randomness as its first "
      "ballot (fresh proofs, valid signature): the alphas repeat. The re-vote counts.",
      by="voter 1's device", expect=(Expect("R-BAL-03", "duplicate_ciphertext", "recast:1"),))
def _bal03() -> Builder:
    b = Builder(election("R-BAL-03-reused-randomness"))
    e = b.e
    b.setup()
    b.vote([(0, 0)])
    first, secrets = b.ballot(1, 0)
    b.cast(1, 0, ballot=first)
    b.vote([(2, 0)])
    again = encrypt_ballot_deterministic(e.ctx, e.voters[1], [[0, 1]], secrets.randomness,
                                         e.rng)
    b.cast(1, 1, ballot=again, tag="recast:1")
    b.finish()
    return b


@case("R-BAL-04-lying-device",
      "Voter 0's device encrypted No but, asked to audit, reveals the choice Yes with the "
      "real randomness: the revealed choice does not re-encrypt to the ciphertexts.",
      by="voter 0's device", expect=(Expect("R-BAL-04", "audit_mismatch", "audit:0"),))
def _bal04() -> Builder:
    b = Builder(election("R-BAL-04-lying-device"))
    b.setup()
    ballot, secrets = b.ballot(0, 1)  # encrypts No
    lie = AuditedBallot(ballot, ((1, 0),), secrets.randomness)
    b.add("ballot_audited", {"audited": lie.to_json()}, "audit:0")
    b.vote([(0, 0), (1, 1), (2, 0)])
    b.finish()
    return b


# ==========================================================================
# Tally, partial decryptions, result (R-TAL-*)
# ==========================================================================


@case("R-TAL-01-count-inflated",
      "tally_posted says four ballots were counted; the board's counted set has three.",
      by="the official", expect=(Expect("R-TAL-01", "tally", "tally"),))
def _tal01() -> Builder:
    b = standard("R-TAL-01-count-inflated")
    i = b.find("tally")
    b.steps[i] = b.tally(counted=4)
    b.steps.pop()
    return b


@case("R-TAL-01-weight-inflated",
      "tally_posted gives total weight 4; the counted credentials weigh 3.",
      by="the official", expect=(Expect("R-TAL-01", "tally", "tally"),))
def _tal01b() -> Builder:
    b = standard("R-TAL-01-weight-inflated")
    i = b.find("tally")
    b.steps[i] = b.tally(total_weight=4)
    b.steps.pop()
    return b


@case("R-TAL-02-dropped-ballot",
      "The official's encrypted tally leaves out voter 0's ballot (count and weight claimed "
      "right); the trustees decrypt that tally and the result is its decryption.",
      by="the official", expect=(Expect("R-TAL-02", "tally", "tally"),))
def _tal02() -> Builder:
    b = Builder(election("R-TAL-02-dropped-ballot"))
    b.setup()
    b.vote([(0, 0), (1, 1), (2, 0)])
    b.head()
    b.closed()
    b.tally(tally=b.honest_tally(leave_out=1))
    b.partial(1)
    b.partial(2)
    b.result()
    b.head()
    return b


@case("honest-invalid-partial",
      "Trustee 3 posts its partial decryption first, made with a wrong share: its DLEQ "
      "proofs do not verify against trustee 3's verification key. Trustees 1 and 2 then "
      "post valid ones and the result is theirs. Robust decryption: the invalid partial is "
      "evidence against trustee 3, recorded and never used, not a fault of the board, so "
      "the record PASSES and the decryption check's note names the partial (R-TAL-06).",
      named=(Expect("R-TAL-06", "invalid_proof", "partial:3"),))
def _tal06() -> Builder:
    b = Builder(election("honest-invalid-partial"))
    b.setup()
    b.vote([(0, 0), (1, 1), (2, 0)])
    b.head()
    b.closed()
    b.tally()
    b.partial(3, share=Scalar.from_int(12345))
    b.partial(1)
    b.partial(2)
    b.result()
    b.head()
    return b


@case("R-TAL-03-unqualified-partial",
      "Trustee 2 was disqualified in the ceremony (an unanswered complaint) but posts a "
      "partial decryption anyway; trustees 1 and 3 decrypt.",
      by="trustee 2", expect=(Expect("R-TAL-03", "decryption", "partial:2"),))
def _tal03b() -> Builder:
    b = Builder(election("R-TAL-03-unqualified-partial", fault=Fault(2, 3, "none")))
    b.setup()
    b.vote([(0, 0), (1, 1), (2, 0)])
    b.head()
    b.closed()
    b.tally()
    b.partial(1)
    b.partial(2, share=Scalar.from_int(777))
    b.partial(3)
    b.result()
    b.head()
    return b


@case("R-TAL-04-second-partial", "Trustee 1 posts its partial decryption twice.",
      by="trustee 1", expect=(Expect("R-TAL-04", "already_exists", "partial2:1"),))
def _tal04() -> Builder:
    b = standard("R-TAL-04-second-partial")
    _again(b, "partial:1", "partial:2", "partial2:1")
    return b


@case("R-TAL-05-wrong-result",
      "result_published swaps the counts of Yes and No.",
      by="the official", expect=(Expect("R-TAL-05", "tally", "result"),))
def _tal05() -> Builder:
    b = standard("R-TAL-05-wrong-result")
    honest = b.decryption()
    i = b.find("result")
    b.steps[i] = b.result(Result(tuple(tuple(reversed(row)) for row in honest.counts)))
    b.steps.pop()
    return b


# ==========================================================================
# Ranked and graded elections: the mixnet (R-MIX-*, docs/protocol-mixnet.md)
# ==========================================================================


def ranked(name: str, *, methods: str = "irv", voters: int = 4) -> Builder:
    """Setup and ``voters`` ballots of a ranked election (tools/conformance_mixnet.py)."""
    b = Builder(election(name, voters=voters, manifest=ranked_manifest(eid(name), methods=methods)))
    b.setup()
    b.vote([(v, v) for v in range(voters)])
    return b


def _resigned_mix(b: Builder, q: int, mixer: int, inputs: Any, rows: Any, proof: Any) -> Mix:
    """A mix of ``rows`` with ``proof``, signed by the mixer (its trustee key)."""
    e = b.e
    digest = inputs.digest()
    sig = e.trustee_keys[mixer].sign(TAG_MIX_SIGNATURE, mixnet_signed_fields(
        e.ctx.fingerprint, q, mixer, digest, rows, proof))
    return Mix(q, mixer, digest, rows, proof, sig)


def _replace_last(b: Builder, kind: str, key: SigningKey, body: dict[str, Any]) -> None:
    tag = b.steps.pop().tag
    b.command(kind, key, body, tag)


def _mix_input_of(run: MixnetRun, b: Builder, q: int, m: int) -> Any:
    return run.mixes[q][m - 2].rows if m > 1 else initial_lists(b)[q]


@case("honest-ranked-irv-grades",
      "A choice question (homomorphic tally), a mayor by instant-runoff voting (4 "
      "candidates) and three projects graded Poor/Fair/Good (Majority Judgment); four "
      "voters, one with a ranking that leaves the last candidate out. Three mixers (the "
      "trustees) shuffle each list in turn, trustees 1 and 2 decrypt the final lists, the "
      "official posts each count sheet.")
def _honest_ranked() -> Builder:
    b = ranked("honest-ranked-irv-grades")
    finish_ranked(b)
    return b


@case("honest-ranked-stv-schulze-borda",
      "A council of two seats by STV (Droop quota, 4 candidates), a logo by Schulze and a "
      "motto by Borda (3 candidates each); four voters; three mixers; trustees 2 and 3 "
      "decrypt the final lists.")
def _honest_ranked_stv() -> Builder:
    b = ranked("honest-ranked-stv-schulze-borda", methods="stv")
    finish_ranked(b, decryptors=(2, 3))
    return b


@case("R-MIX-01-second-mix",
      "Mixer 2 posts a second mix of the mayor's list after its first (mixer 3 is next).",
      by="mixer 2 (trustee 2)", expect=(Expect("R-MIX-01", "mix_order", "mix-again:1:2"),))
def _mix01() -> Builder:
    b = ranked("R-MIX-01-second-mix")

    def hook(b: Builder, run: MixnetRun, tag: str) -> None:
        if tag == "mix:1:2":
            again = honest_mix(b, 1, 2, run.mixes[1][0].rows)
            b.command("mix_posted", b.e.trustee_keys[2], again.to_json(), "mix-again:1:2")
    finish_ranked(b, hook=hook)
    return b


@case("R-MIX-02-dropped-row",
      "Mixer 2 drops one row of mixer 1's output and shuffles the rest, with a valid proof "
      "and signature for that shorter list; mixer 3 and the trustees carry on from it.",
      by="mixer 2 (trustee 2)", expect=(Expect("R-MIX-02", "mix_input", "mix:1:2"),))
def _mix02() -> Builder:
    b = ranked("R-MIX-02-dropped-row")

    def hook(b: Builder, run: MixnetRun, tag: str) -> None:
        if tag == "mix:1:2":
            prev = run.mixes[1][0].rows
            shorter = RowList(prev.width, prev.rows[:-1])
            m = honest_mix(b, 1, 2, shorter)
            _replace_last(b, "mix_posted", b.e.trustee_keys[2], m.to_json())
            run.mixes[1][-1] = m
    finish_ranked(b, hook=hook)
    return b


@case("R-MIX-02-dropped-ballot",
      "Mixer 1 leaves voter 0's row out of the counted ballots' rows of the graded question "
      "and shuffles the rest (a valid proof for that list).",
      by="mixer 1 (trustee 1)", expect=(Expect("R-MIX-02", "mix_input", "mix:2:1"),))
def _mix02b() -> Builder:
    b = ranked("R-MIX-02-dropped-ballot")

    def hook(b: Builder, run: MixnetRun, tag: str) -> None:
        if tag == "mix:2:1":
            first = initial_lists(b)[2]
            m = honest_mix(b, 2, 1, RowList(first.width, first.rows[1:]))
            _replace_last(b, "mix_posted", b.e.trustee_keys[1], m.to_json())
            run.mixes[2][-1] = m
    finish_ranked(b, hook=hook)
    return b


@case("R-MIX-03-bad-proof",
      "Mixer 2's shuffle proof of the mayor's list has one response scalar (s1) changed; "
      "the mix is re-signed, so only the proof fails.",
      by="mixer 2 (trustee 2)", expect=(Expect("R-MIX-03", "invalid_shuffle", "mix:1:2"),))
def _mix03() -> Builder:
    b = ranked("R-MIX-03-bad-proof")

    def hook(b: Builder, run: MixnetRun, tag: str) -> None:
        if tag == "mix:1:2":
            honest = run.mixes[1][-1]
            proof = dataclasses.replace(honest.proof, s1=honest.proof.s1 + Scalar.from_int(1))
            m = _resigned_mix(b, 1, 2, run.mixes[1][0].rows, honest.rows, proof)
            _replace_last(b, "mix_posted", b.e.trustee_keys[2], m.to_json())
            run.mixes[1][-1] = m
    finish_ranked(b, hook=hook)
    return b


@case("R-MIX-03-substituted-row",
      "After proving its shuffle, mixer 3 replaces one output row of the mayor's list by a "
      "fresh encryption of the ranking Dee, Cid, Bob, Ann and re-signs: the signature holds, "
      "the proof does not. The trustees decrypt the substituted list.",
      by="mixer 3 (trustee 3)", expect=(Expect("R-MIX-03", "invalid_shuffle", "mix:1:3"),))
def _mix03b() -> Builder:
    b = ranked("R-MIX-03-substituted-row")

    def hook(b: Builder, run: MixnetRun, tag: str) -> None:
        if tag == "mix:1:3":
            honest = run.mixes[1][-1]
            key = b.e.joint.joint_key
            row = tuple(encrypt(key, v, Scalar.random(b.e.rng)) for v in (4, 3, 2, 1))
            rows = RowList(honest.rows.width, (row, *honest.rows.rows[1:]))
            m = _resigned_mix(b, 1, 3, run.mixes[1][1].rows, rows, honest.proof)
            _replace_last(b, "mix_posted", b.e.trustee_keys[3], m.to_json())
            run.mixes[1][-1] = m
    finish_ranked(b, hook=hook)
    return b


@case("R-MIX-04-early-decryption",
      "Trustee 3 decrypts the mayor's list as mixer 2 left it, before mixer 3 has mixed "
      "(valid proofs for that list); trustees 1 and 2 decrypt the final list.",
      by="trustee 3", expect=(Expect("R-MIX-04", "wrong_phase", "mixdec-early:1:3"),))
def _mix04() -> Builder:
    b = ranked("R-MIX-04-early-decryption")

    def hook(b: Builder, run: MixnetRun, tag: str) -> None:
        if tag == "mix:1:2":
            p = honest_decryption(b, 1, 3, run.mixes[1][-1].rows)
            b.command("mix_decryption", b.e.trustee_keys[3], p.to_json(), "mixdec-early:1:3")
    finish_ranked(b, hook=hook)
    return b


@case("R-MIX-05-second-decryption",
      "Trustee 1 posts its decryption of the graded question's final list twice.",
      by="trustee 1", expect=(Expect("R-MIX-05", "already_exists", "mixdec-again:2:1"),))
def _mix05() -> Builder:
    b = ranked("R-MIX-05-second-decryption")

    def hook(b: Builder, run: MixnetRun, tag: str) -> None:
        if tag == "mixdec:2:1":
            b.command("mix_decryption", b.e.trustee_keys[1], run.partials[2][-1].to_json(),
                      "mixdec-again:2:1")
    finish_ranked(b, hook=hook)
    return b


@case("R-MIX-06-wrong-decryption",
      "Trustee 1 decrypts the mayor's final list with a wrong share: its DLEQ proofs do not "
      "verify. Trustees 2 and 3 decrypt it correctly and the result is theirs.",
      by="trustee 1", expect=(Expect("R-MIX-06", "decryption", "mixdec:1:1"),))
def _mix06() -> Builder:
    b = ranked("R-MIX-06-wrong-decryption")

    def hook(b: Builder, run: MixnetRun, tag: str) -> None:
        if tag == "mixdec:1:1":
            e = b.e
            p = partial_decrypt_rows(e.ctx.fingerprint, 1, 1, Scalar.from_int(12345),
                                     run.mixes[1][-1].rows, e.rng)
            _replace_last(b, "mix_decryption", e.trustee_keys[1], p.to_json())
            run.partials[1][-1] = p
    finish_ranked(b, hook=hook, decryptors=(1, 2, 3))
    return b


@case("R-MIX-07-wrong-rows",
      "The official's ranked_result for the mayor changes one decrypted ranking (row 0 "
      "reversed) and posts the count of those rows, so only the decryption is wrong.",
      by="the official", expect=(Expect("R-MIX-07", "tally", "ranked:1"),))
def _mix07() -> Builder:
    b = ranked("R-MIX-07-wrong-rows")

    def hook(b: Builder, run: MixnetRun, tag: str) -> None:
        if tag == "ranked:1":
            honest = run.results[1].decrypted
            rows = (tuple(reversed(honest.rows[0])), *honest.rows[1:])
            forged = DecryptedRows(1, honest.list_digest, rows)
            sheet = expected_count(b.e.manifest, 1, forged, run.seed)
            _replace_last(b, "ranked_result", b.e.official,
                          RankedResult(forged, sheet.to_json()).to_json())
    finish_ranked(b, hook=hook)
    return b


@case("R-MIX-08-second-result", "The official posts the mayor's ranked_result twice.",
      by="the official", expect=(Expect("R-MIX-08", "already_exists", "ranked-again:1"),))
def _mix08() -> Builder:
    b = ranked("R-MIX-08-second-result")

    def hook(b: Builder, run: MixnetRun, tag: str) -> None:
        if tag == "ranked:1":
            b.command("ranked_result", b.e.official, run.results[1].to_json(), "ranked-again:1")
    finish_ranked(b, hook=hook)
    return b


@case("R-MIX-09-wrong-count",
      "The official's count sheet for the mayor names another winner than the recount of "
      "the (correctly decrypted) rows by instant-runoff voting.",
      by="the official", expect=(Expect("R-MIX-09", "count_mismatch", "ranked:1"),))
def _mix09() -> Builder:
    b = ranked("R-MIX-09-wrong-count")

    def hook(b: Builder, run: MixnetRun, tag: str) -> None:
        if tag == "ranked:1":
            honest = run.results[1]
            sheet = dict(honest.count)
            winner = sheet["winners"][0]
            sheet["winners"] = [(winner + 1) % 4]
            _replace_last(b, "ranked_result", b.e.official,
                          RankedResult(honest.decrypted, sheet).to_json())
    finish_ranked(b, hook=hook)
    return b


@case("R-MIX-10-result-before-count",
      "The graded question is mixed and decrypted but the official never posts its "
      "ranked_result, and publishes the result anyway.",
      by="the official", expect=(Expect("R-MIX-10", "wrong_phase", "result"),
                                 Expect(None, "not_reached", check="ranked-count")))
def _mix10() -> Builder:
    b = ranked("R-MIX-10-result-before-count")

    def hook(b: Builder, run: MixnetRun, tag: str) -> None:
        if tag == "ranked:2":
            b.steps.pop()
    finish_ranked(b, hook=hook)
    return b


@case("R-MIX-11-tally-sums-ranked",
      "The official's encrypted tally adds up every question, the ranked and graded ones "
      "too (their ranks summed as if they were scores); the trustees decrypt it and the "
      "result is its decryption. The mixnet runs as it should.",
      by="the official", expect=(Expect("R-MIX-11", "tally", "tally"),
                                 Expect(None, "tally", check="combination")))
def _mix11() -> Builder:
    b = ranked("R-MIX-11-tally-sums-ranked")
    e = b.e
    b.head()
    b.closed()
    shape = [len(q.options) for q in e.manifest.questions]
    rows = [(1, [list(a.choices) for a in ballot.answers]) for ballot in b.counted.values()]
    b.tally(tally=aggregate(shape, rows))
    for j in (1, 2):
        b.partial(j)
    post_mixnet(b)
    bounds = [[len(b.counted) * max(q.max_score, 1)] * len(q.options)
              for q in e.manifest.questions]
    assert b.tally_value is not None
    b.result(combine(e.ctx.fingerprint, b.tally_value, b.partials, e.joint, bounds))
    b.head()
    return b


# ==========================================================================
# Witnesses (R-WIT-*)
# ==========================================================================


@case("R-WIT-01-too-few-cosigners",
      "The manifest needs 2 of 3 witnesses; the final checkpoint is cosigned by one.",
      by=SERVER, expect=(Expect("R-WIT-01", "witness_policy"),))
def _wit01() -> Builder:
    b = standard("R-WIT-01-too-few-cosigners", witnesses=3, witness_threshold=2)
    b.cosigners = (1,)
    return b


@case("R-WIT-01-missing-checkpoint",
      "The manifest needs 2 of 3 witnesses; the record has no checkpoint.txt.",
      by=SERVER, expect=(Expect("R-WIT-01", "missing_checkpoint"),))
def _wit01b() -> Builder:
    return standard("R-WIT-01-missing-checkpoint", witnesses=3, witness_threshold=2)


# ==========================================================================
# Scheduled elections (R-TIME-*): the manifest's opens_at / closes_at
# ==========================================================================

#: The window of the scheduled cases: it opens 20 s after the first entry (after
#: set-up) and closes an hour later; the witnesses cosign a day after START_TIME.
T_OPENS = START_TIME + 20_000
T_CLOSES = T_OPENS + 3_600_000
WINDOW = {"opens_at": format_time(T_OPENS), "closes_at": format_time(T_CLOSES)}


def scheduled(name: str, *, window: dict[str, str] | None = None, open_at: int | None = T_OPENS,
              close_at: int = T_CLOSES, votes=((0, 0), (1, 1), (2, 0)),
              **kw: Any) -> Builder:
    """A scheduled election run on time: the pre-signed election_opened appended at
    ``open_at``, the votes, the pre-signed close ``{"at": closes_at}`` at ``close_at``."""
    kw.setdefault("witnesses", 3)
    kw.setdefault("witness_threshold", 2)
    b = Builder(election(name, schedule=window or WINDOW, **kw))
    b.setup()
    b.steps[b.find("open")].at = open_at
    b.vote(votes)
    b.head()
    close = b.command("election_closed", b.e.official, {"at": (window or WINDOW)["closes_at"]},
                      "close")
    close.at = close_at
    b.tally()
    for j in sorted(b.e.finished)[: b.e.t]:
        b.partial(j)
    b.result()
    b.head()
    b.cosigners = (0, 2)
    return b


@case("honest-scheduled",
      "A scheduled election (opens_at, closes_at in the manifest) with a 2-of-3 witness "
      "policy: the official's pre-signed election_opened is appended at opens_at, three "
      "ballots inside the window, the pre-signed election_closed {at: closes_at} at "
      "closes_at; the witnesses cosign the final board a day later.")
def _honest_scheduled() -> Builder:
    return scheduled("honest-scheduled")


@case("honest-scheduled-early-close",
      "A scheduled election that the official closes early with a plain election_closed "
      "({}): valid at any time in the open phase (R-TIME-04); the scheduled close is "
      "then never appended.")
def _honest_early_close() -> Builder:
    b = Builder(election("honest-scheduled-early-close", schedule=WINDOW))
    b.setup()
    b.steps[b.find("open")].at = T_OPENS
    b.vote(((0, 0), (1, 1)))
    b.finish()
    return b


@case("R-TIME-01-opened-early",
      "The election is opened 7 seconds before the manifest's opens_at.",
      by=SERVER, expect=(Expect("R-TIME-01", "not_open_yet", "open"),))
def _time01() -> Builder:
    return scheduled("R-TIME-01-opened-early", open_at=None)


@case("R-TIME-02-ballot-before-opening",
      "Voter 0's ballot entry is backdated to before opens_at (and so before the entry "
      "before it).",
      by=SERVER, expect=(Expect("R-TIME-02", "not_open_yet", "cast:0"),
                         Expect("R-REC-02", "time_goes_back", "cast:0")))
def _time02() -> Builder:
    b = scheduled("R-TIME-02-ballot-before-opening")
    b.steps[b.find("cast:0")].edit = lambda o: {**o, "time": T_OPENS - 1}
    return b


@case("R-TIME-03-ballot-after-closing",
      "The server lets voter 2's ballot in 1 ms after closes_at, before it appends the "
      "scheduled close.",
      by=SERVER, expect=(Expect("R-TIME-03", "closed", "cast:2"),))
def _time03() -> Builder:
    b = scheduled("R-TIME-03-ballot-after-closing", close_at=T_CLOSES + 5_000)
    b.steps[b.find("cast:2")].at = T_CLOSES + 1
    b.steps.insert(b.find("cast:2"), Step(tag="head", head=True))  # ballots 0, 1 on time
    return b


@case("R-TIME-04-scheduled-close-early",
      "The server appends the official's pre-signed close ({at: closes_at}) ten minutes "
      "before closes_at, cutting the election short.",
      by=SERVER, expect=(Expect("R-TIME-04", "too_early", "close"),))
def _time04() -> Builder:
    return scheduled("R-TIME-04-scheduled-close-early", close_at=T_CLOSES - 600_000)


def _late_head(e, size, tree, time):
    """A head over the ballots signed after closes_at: their acknowledgement was late."""
    return TreeHead(e.eid, size, tree.root(size), T_CLOSES + 1_000).sign(e.board_key)


@case("R-TIME-05-late-ballot-backdated",
      "Voter 2's ballot is dated inside the window, but the first signed tree head that "
      "covers it (the one its receipt carries) was signed after closes_at: a late ballot "
      "whose entry was backdated.",
      by=SERVER, expect=(Expect("R-TIME-05", "head_outside_window", "cast:2"),))
def _time05() -> Builder:
    b = scheduled("R-TIME-05-late-ballot-backdated", close_at=T_CLOSES + 2_000)
    b.steps.insert(b.find("cast:2"), Step(tag="head", head=True))  # ballots 0, 1 on time
    heads = [i for i, st in enumerate(b.steps) if st.head is not None]
    b.steps[heads[-2]].head = _late_head  # the head right after voter 2's ballot
    return b


@case("R-TIME-06-clock-after-cosignature",
      "The board's clock runs ahead: the election closes two days after the first entry, "
      "but the witnesses cosigned the whole board (close included) one day after it.",
      by=SERVER, expect=(Expect("R-TIME-06", "clock_contradiction", "close"),))
def _time06() -> Builder:
    late = T_OPENS + 2 * 86_400_000
    return scheduled("R-TIME-06-clock-after-cosignature",
                     window={"opens_at": format_time(T_OPENS), "closes_at": format_time(late)},
                     close_at=late)


# ==========================================================================
# The suite
# ==========================================================================


def expected_of(c: Case, plan: Plan) -> dict[str, Any]:
    """The case's ``expected.json``: verdict, exit code, and every check that fails."""
    entry_of: dict[str, int] = {}
    index = 0
    for step in plan.steps:
        if step.head is None:
            entry_of.setdefault(step.tag, index)
            index += 1
    failures = []
    optional = sorted({x.check or RULES[x.rule].check for x in c.expect if x.optional
                       if x.rule or x.check})
    for x in c.expect:
        if x.optional:
            continue
        kind = None
        if x.at is not None:
            kind = plan.steps[[s.tag for s in plan.steps].index(x.at)].kind
        check = x.check or (check_of(x.rule, kind) if x.rule else None)
        assert check is not None, c.name
        failures.append({
            "check": check,
            "code": x.code,
            "rule": x.rule,
            "index": None if x.at is None else entry_of[x.at],
            "consequence": x.rule is None,
        })
    failures.sort(key=lambda f: f["check"])
    honest = c.tampered_by is None
    exit_code = c.exit_code if c.exit_code is not None else (0 if honest else 1)
    verdict = {0: "pass", 1: "fail", 2: "unreadable"}[exit_code]
    rules = sorted({x.rule for x in c.expect if x.rule and not x.optional})
    # rules a check names in its note while passing (a recorded invalid partial, R-TAL-06)
    named = [{"check": x.check or RULES[x.rule].check, "rule": x.rule,
              "index": None if x.at is None else entry_of[x.at]} for x in c.named if x.rule]
    out = {
        "case": c.name,
        "description": c.description,
        "tampered_by": c.tampered_by,
        "breaks": rules,
        "verdict": verdict,
        "exit_code": exit_code,
        "failures": failures,
        "may_also_fail": optional,
        "named": named,
    }
    if c.abandoned:  # only then, so the other cases' files stay as they were
        out["abandoned"] = True
    return out


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def generate(out: Path) -> None:
    """Write the whole suite into ``out`` (which must not exist or be empty)."""
    out.mkdir(parents=True, exist_ok=True)
    index = []
    names = set()
    for c in CASES:
        assert c.name not in names, c.name
        names.add(c.name)
        plan = c.build()
        files = render(plan)
        if c.post is not None:
            files = c.post(files)
        expected = expected_of(c, plan)
        files["expected.json"] = json_bytes(expected)
        write_record(out / c.name, files)
        index.append(expected)
    (out / INDEX_FILE).write_bytes(json_bytes({
        "format": SUITE_FORMAT,
        "version": SUITE_VERSION,
        "description": "evote conformance suite: whole election records and the verdict a "
                       "verifier must reach on each (docs/conformance.md). Generated by "
                       "tools/make_conformance.py; do not edit.",
        "cases": index,
    }))


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where to write (default conformance/)")
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temporary directory and compare with --out")
    args = parser.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp))
            fresh, committed = tree_bytes(Path(tmp)), tree_bytes(args.out)
        stale = sorted(k for k in fresh.keys() | committed.keys()
                       if fresh.get(k) != committed.get(k))
        if stale:
            print("conformance suite is stale (run tools/make_conformance.py):",
                  ", ".join(stale[:10]), "..." if len(stale) > 10 else "")
            return 1
        return 0
    # build next to the target and swap, so a failing case never leaves half a suite
    fresh = args.out.with_name(args.out.name + ".new")
    if fresh.exists():
        shutil.rmtree(fresh)
    generate(fresh)
    if args.out.exists():
        shutil.rmtree(args.out)
    fresh.rename(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

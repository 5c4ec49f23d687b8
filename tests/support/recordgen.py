"""Build complete, valid election records directly with the core (no server).

A record made here goes through every step a real election does, with real
keys and proofs: official, credential authority, board and trustee keys; the
trustees' key ceremony (``evote.dkg.trustee.run_ceremony``), posted message by message;
the credential list; the election opening with its fingerprint; ballots
(including re-votes and audited ballots); closing; the encrypted tally; t
partial decryptions; the result; and signed tree heads along the way.

Used by the verifier tests (which then tamper with the files) and by
``bench/verifier.py`` (which generates the ballots in parallel and caches
them; see :func:`cast_payload` and :func:`write_record`).

Everything is deterministic from a seed (``evote.drbg.SeededRng``), so a
record can be rebuilt byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evote.ballot import AuditedBallot, Ballot, encrypt_ballot
from evote.board import Entry, Receipt, SignedTreeHead, TreeHead, next_entry
from evote.commands import sign_command
from evote.credentials import CredentialList, PublicCredential
from evote.dkg import JointKey, trustee_commitments
from evote.dkg.trustee import TrusteeState, run_ceremony
from evote.drbg import SeededRng
from evote.encoding import b64encode, canonical_json
from evote.fingerprint import ElectionContext
from evote.manifest import Manifest
from evote.merkle import MemoryTree
from evote.record import (
    BOARD_FILE,
    RECORD_FILE,
    TREE_HEADS_FILE,
    RecordHeader,
    board_line,
    record_json,
    tree_head_line,
)
from evote.signing import SigningKey, VerifyKey
from evote.tally import Result, aggregate, combine, partial_decrypt

START_TIME = 1_700_000_000_000



def park_question() -> dict[str, Any]:
    """The one-of-three choice question most test elections start with (a fresh copy each call)."""
    return {
        "id": "park",
        "title": "Which park should be renovated first?",
        "options": ["North", "South", "East"],
        "kind": "choice",
        "min": 1,
        "max": 1,
    }


DEFAULT_MANIFEST = {
    "election_id": "test-election",
    "title": {"en": "City poll", "ru": "Городской опрос"},
    "questions": [
        park_question(),
        {
            "id": "budget",
            "title": "Give up to 3 points to each project",
            "options": ["Library", "Pool"],
            "kind": "score",
            "min": 0,
            "max": 4,
            "max_score": 3,
        },
    ],
}


def bench_manifest(election_id: str = "bench-election") -> dict[str, Any]:
    """One choice question with five options (the benchmark's ballot)."""
    return {
        "election_id": election_id,
        "title": "Benchmark poll",
        "questions": [
            {
                "id": "q",
                "title": "Pick one",
                "options": ["A", "B", "C", "D", "E"],
                "kind": "choice",
                "min": 1,
                "max": 1,
            }
        ],
    }


@dataclass
class Election:
    """A generated election: every secret and public artefact."""

    election_id: str
    manifest: Manifest
    official: SigningKey
    authority: SigningKey
    board_key: SigningKey
    threshold: int
    states: list[TrusteeState]
    joint: JointKey
    messages: Any  # evote.dkg.CeremonyMessages
    voters: list[SigningKey]
    credentials: CredentialList
    ctx: ElectionContext

    @property
    def trustee_keys(self) -> list[SigningKey]:
        return [s.signing_key for s in self.states]


def make_election(
    *,
    manifest: dict[str, Any] | None = None,
    voters: int = 6,
    trustees: int = 3,
    threshold: int = 2,
    weights: Sequence[int] | None = None,
    seed: bytes = b"recordgen",
) -> Election:
    """Keys, ceremony and credentials for a new election (nothing posted yet)."""
    rng = SeededRng(seed)
    m = Manifest.from_json(manifest or DEFAULT_MANIFEST)
    eid = m.election_id
    official = SigningKey.generate(rng)
    authority = SigningKey.generate(rng)
    board_key = SigningKey.generate(rng)
    joint, states, messages = run_ceremony(eid, trustees, threshold, rng)
    voter_keys = [SigningKey.generate(rng) for _ in range(voters)]
    ws = list(weights) if weights is not None else [1] * voters
    creds = CredentialList(
        tuple(PublicCredential(k.verify_key, w) for k, w in zip(voter_keys, ws, strict=True))
    )
    comms = {c.trustee: c.coefficients for c in messages.commitments}
    ctx = ElectionContext.build(m, joint.joint_key, trustee_commitments(comms), creds)
    return Election(eid, m, official, authority, board_key, threshold, states, joint, messages,
                    voter_keys, creds, ctx)


def cast_payload(election: Election, voter: int, selections: Sequence[Sequence[int]],
                 seed: bytes) -> dict[str, Any]:
    """The ``ballot_cast`` payload of one voter's ballot (pure; safe in worker processes)."""
    ballot, _ = encrypt_ballot(election.ctx, election.voters[voter], selections, SeededRng(seed))
    return {"ballot": ballot.to_json()}


def audited_payload(election: Election, voter: int, selections: Sequence[Sequence[int]],
                    seed: bytes) -> dict[str, Any]:
    """The ``ballot_audited`` payload: a ballot with its randomness revealed."""
    ballot, secrets = encrypt_ballot(election.ctx, election.voters[voter], selections,
                                     SeededRng(seed))
    return {"audited": AuditedBallot.from_secrets(ballot, secrets).to_json()}


@dataclass
class BoardBuilder:
    """Appends entries with a fake clock, keeps the tree, signs heads on request."""

    election: Election
    entries: list[Entry] = field(default_factory=list)
    heads: list[SignedTreeHead] = field(default_factory=list)
    tree: MemoryTree = field(default_factory=MemoryTree)
    keep_entries: bool = True
    lines_out: Any = None  # a binary file to stream board lines to (bench)
    _prev: Entry | None = None
    _time: int = START_TIME

    def append(self, kind: str, payload: dict[str, Any]) -> Entry:
        self._time += 1000
        entry = next_entry(self._prev, election=self.election.election_id, kind=kind,
                           time=self._time, payload=payload)
        self._prev = entry
        self.tree.append(entry.leaf_hash())
        if self.keep_entries:
            self.entries.append(entry)
        if self.lines_out is not None:
            self.lines_out.write(board_line(entry))
        return entry

    def command(self, kind: str, key: SigningKey, body: dict[str, Any]) -> Entry:
        return self.append(kind, sign_command(key, self.election.election_id, kind, body).to_json())

    def sign_head(self) -> SignedTreeHead:
        self._time += 1
        head = TreeHead(self.election.election_id, self.tree.size, self.tree.root(), self._time)
        signed = head.sign(self.election.board_key)
        self.heads.append(signed)
        return signed

    def receipt(self, entry: Entry, tracking_code: str) -> Receipt:
        head = self.heads[-1]
        return Receipt.issue(
            entry=entry, tracking_code=tracking_code, tree_head=head,
            inclusion_proof=self.tree.inclusion_proof(entry.index, head.size),
            key=self.election.board_key,
        )


def post_created(b: BoardBuilder) -> None:
    """election_created: the manifest, the official, the authority, the trustees, the threshold."""
    e = b.election
    b.command("election_created", e.official, {
        "manifest": e.manifest.to_json(),
        "official": e.official.verify_key.to_json(),
        "credential_authority": e.authority.verify_key.to_json(),
        "trustees": [k.verify_key.to_json() for k in e.trustee_keys],
        "threshold": e.threshold,
    })


def post_setup(b: BoardBuilder) -> None:
    """election_created, the ceremony, key, credentials and opening."""
    e = b.election
    post_created(b)
    b.sign_head()
    keys = {s.trustee: s.signing_key for s in e.states}
    m = e.messages
    for a in m.announcements:
        b.command("trustee_announced", keys[a.trustee], a.to_json())
    for s in m.shares:
        b.command("trustee_shares", keys[s.dealer], s.to_json())
    for c in m.complaints:
        b.command("trustee_complaint", keys[c.accuser], c.to_json())
    for a in m.answers:
        b.command("trustee_complaint_answer", keys[a.dealer], a.to_json())
    b.command("ceremony_qualified", e.official, m.qualified.to_json())
    for c in m.commitments:
        b.command("trustee_committed", keys[c.trustee], c.to_json())
    b.command("key_published", e.official, {"joint_key": e.joint.to_json()})
    b.command("credentials_published", e.authority, {"credentials": e.credentials.to_json()})
    b.command("election_opened", e.official, {"fingerprint": b64encode(e.ctx.fingerprint)})
    b.sign_head()


def post_tally(b: BoardBuilder, counted: dict[bytes, Ballot | dict], *,
               partials: int | None = None, seed: bytes = b"tally") -> Result:
    """election_closed, tally_posted, partial decryptions and result_published.

    ``counted`` maps credential bytes to the last ballot (a Ballot or its JSON).
    """
    e = b.election
    rng = SeededRng(seed)
    b.command("election_closed", e.official, {})
    shape = [len(q.options) for q in e.manifest.questions]
    rows = []
    total_weight = 0
    for cred, ballot in counted.items():
        if not isinstance(ballot, Ballot):
            ballot = Ballot.from_json(ballot, e.manifest)
        w = e.credentials.weight_of(VerifyKey(cred))
        total_weight += w
        rows.append((w, [list(a.choices) for a in ballot.answers]))
    tally = aggregate(shape, rows)
    b.command("tally_posted", e.official, {
        "tally": tally.to_json(), "counted": len(counted), "total_weight": total_weight,
    })
    states = {s.trustee: s for s in e.states}
    use = sorted(states)[: partials if partials is not None else e.threshold]
    posted = []
    for j in use:
        p = partial_decrypt(e.ctx.fingerprint, j, states[j].share, tally, rng)
        posted.append(p)
        b.command("partial_decryption", states[j].signing_key, p.to_json())
    bounds = [[total_weight * q.max_score] * len(q.options) for q in e.manifest.questions]
    result = combine(e.ctx.fingerprint, tally, posted, e.joint, bounds)
    b.command("result_published", e.official, {"result": result.to_json()})
    b.sign_head()
    return result


def write_files(directory: Path, election: Election, b: BoardBuilder) -> Path:
    """Write record.json, tree-heads.jsonl and (unless streamed) board.jsonl."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    header = RecordHeader(election.election_id, election.board_key.verify_key)
    (directory / RECORD_FILE).write_bytes(record_json(header))
    (directory / TREE_HEADS_FILE).write_bytes(b"".join(tree_head_line(h) for h in b.heads))
    if b.lines_out is None:
        (directory / BOARD_FILE).write_bytes(b"".join(board_line(e) for e in b.entries))
    return directory


@dataclass
class GeneratedRecord:
    """What :func:`build_record` made: the election, the board and some receipts."""

    path: Path
    election: Election
    builder: BoardBuilder
    result: Result
    receipts: list[Receipt]
    audited_files: list[dict[str, Any]]

    @property
    def entries(self) -> list[Entry]:
        return self.builder.entries


def build_record(
    directory: Path,
    *,
    voters: int = 6,
    revotes: int = 2,
    audits: int = 1,
    trustees: int = 3,
    threshold: int = 2,
    weights: Sequence[int] | None = None,
    manifest: dict[str, Any] | None = None,
    seed: bytes = b"recordgen",
    again: Sequence[int] = (),
) -> GeneratedRecord:
    """A complete valid record directory with re-votes, audited ballots and receipts.

    ``again``: voters who cast one more ballot each after the re-votes, with a
    choice different from their earlier ones (so the counted one is visible)."""
    e = make_election(manifest=manifest, voters=voters, trustees=trustees, threshold=threshold,
                      weights=weights, seed=seed)
    b = BoardBuilder(e)
    post_setup(b)
    rng = SeededRng(seed + b"/ballots")
    choices = _selections(e.manifest)
    last: dict[bytes, Ballot] = {}
    receipts: list[Receipt] = []
    audited: list[dict[str, Any]] = []
    plan = list(range(voters)) + list(range(min(revotes, voters)))
    changed = {len(plan) + k: (v + 1 + k) % len(choices) for k, v in enumerate(again)}
    plan += list(again)
    for n, v in enumerate(plan):
        if n < audits:
            payload = audited_payload(e, v, choices[(v + 1) % len(choices)], rng(32))
            b.append("ballot_audited", payload)
            audited.append(payload["audited"])
        pick = changed.get(n, v % len(choices))
        ballot, _ = encrypt_ballot(e.ctx, e.voters[v], choices[pick], rng)
        entry = b.append("ballot_cast", {"ballot": ballot.to_json()})
        last[e.voters[v].verify_key.raw] = ballot
        if n == voters // 2:
            b.sign_head()
            receipts.append(b.receipt(entry, ballot.tracking_code))
    b.sign_head()
    result = post_tally(b, last, seed=seed + b"/tally")
    write_files(directory, e, b)
    return GeneratedRecord(Path(directory), e, b, result, receipts, audited)


def _selections(manifest: Manifest) -> list[list[list[int]]]:
    """A few valid selections for every question, to vary the ballots."""
    out = []
    for k in range(4):
        sel = []
        for q in manifest.questions:
            n = len(q.options)
            values = [0] * n
            if q.kind == "choice":
                for i in range(max(q.min, min(q.max, 1 + k % max(1, q.max)))):
                    values[(k + i) % n] = 1
            else:
                budget = min(q.max, q.max_score * n)
                i = 0
                while sum(values) < max(q.min, budget - k) and i < 10 * n:
                    if values[(k + i) % n] < q.max_score:
                        values[(k + i) % n] += 1
                    i += 1
            sel.append(values)
        out.append(sel)
    return out


def rewrite_board(directory: Path, lines: Iterable[bytes]) -> None:
    """Replace board.jsonl with ``lines`` (each without its newline)."""
    (Path(directory) / BOARD_FILE).write_bytes(b"".join(line + b"\n" for line in lines))


def read_board(directory: Path) -> list[bytes]:
    """The lines of board.jsonl without their newlines."""
    data = (Path(directory) / BOARD_FILE).read_bytes()
    return data.split(b"\n")[:-1]


def resign_heads(directory: Path, election: Election, entries: Sequence[Entry],
                 sizes: Sequence[int] | None = None) -> None:
    """Re-sign heads over a (tampered) board, as a dishonest server holding the key would."""
    tree = MemoryTree(e.leaf_hash() for e in entries)
    heads = []
    t = START_TIME * 2
    for size in sizes or [len(entries)]:
        t += 1
        heads.append(TreeHead(election.election_id, size, tree.root(size), t)
                     .sign(election.board_key))
    (Path(directory) / TREE_HEADS_FILE).write_bytes(b"".join(tree_head_line(h) for h in heads))


def rechain(election: Election, entries: Sequence[Entry],
            payload_of: Iterable[tuple[str, dict[str, Any]]] | None = None) -> list[Entry]:
    """Rebuild a consistent chain from (kind, payload) pairs, keeping times increasing."""
    pairs = list(payload_of) if payload_of is not None else [(e.kind, e.payload) for e in entries]
    out: list[Entry] = []
    prev = None
    t = START_TIME
    for kind, payload in pairs:
        t += 1000
        prev = next_entry(prev, election=election.election_id, kind=kind, time=t,
                          payload=payload)
        out.append(prev)
    return out


def canonical(obj: Any) -> bytes:
    return canonical_json(obj)


def iter_lines(entries: Iterable[Entry]) -> Iterator[bytes]:
    for e in entries:
        yield e.canonical()

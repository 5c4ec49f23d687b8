"""What a dishonest server, official or trustee can do with the keys it holds.

The attack modules build their evidence with these helpers, so that every
tampered record is one a real adversary could produce: the server holds the
board key (it can rewrite the board and re-sign tree heads), the official holds
the official key (it can sign any command), the trustees hold their shares.
What none of them holds is a voter's credential or a voter's login; the
helpers never use either on a voter's behalf unless a test says so.

Records are built with :mod:`tests.support.recordgen` and checked with the real
verifier (:func:`verifier.checks.verify_record`), in-process.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from evote.ballot import Ballot
from evote.board import Entry, SignedTreeHead, TreeHead
from evote.commands import sign_command
from evote.drbg import SeededRng
from evote.elgamal import Ciphertext
from evote.merkle import MemoryTree
from evote.record import TREE_HEADS_FILE, tree_head_line
from evote.signing import SigningKey, VerifyKey
from evote.tally import EncryptedTally, aggregate, combine, partial_decrypt
from tests.support.recordgen import START_TIME, Election, rechain, rewrite_board
from verifier.checks import verify_record
from verifier.record import Record
from verifier.report import Report
from verifier.sources import DirectorySource, ZipSource

Pair = tuple[str, dict[str, Any]]


# --- running the verifier -----------------------------------------------------------


def verify(directory: Path, **options: Any) -> Report:
    """``evote-verify DIRECTORY`` in-process (one worker, no progress bar)."""
    return verify_record(Record.load(DirectorySource(Path(directory))), **options)


def failures(report: Report) -> dict[str, str]:
    """``{check name: code of its first failure}`` for every check that did not pass."""
    return {
        c.name: c.first_failure.code if c.first_failure else c.status
        for c in report.checks
        if not c.passed
    }


def copy_record(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


# --- a dishonest server: rewrite the board and re-sign it --------------------------


def pairs_of(entries: Iterable[Entry]) -> list[Pair]:
    return [(e.kind, e.payload) for e in entries]


def signed_heads(
    election: Election, entries: Sequence[Entry], sizes: Sequence[int], *, time: int
) -> list[SignedTreeHead]:
    """Heads over ``entries`` at ``sizes``, signed with the board key (times ``time+1``, ...)."""
    tree = MemoryTree(e.leaf_hash() for e in entries)
    return [
        TreeHead(election.election_id, size, tree.root(size), time + i + 1).sign(
            election.board_key
        )
        for i, size in enumerate(sizes)
    ]


def write_heads(directory: Path, heads: Iterable[SignedTreeHead]) -> None:
    """Replace tree-heads.jsonl; ``heads`` must be in ascending (size, time) order."""
    (Path(directory) / TREE_HEADS_FILE).write_bytes(b"".join(tree_head_line(h) for h in heads))


def forge_board(
    directory: Path,
    election: Election,
    pairs: Sequence[Pair],
    *,
    head_sizes: Sequence[int] | None = None,
) -> list[Entry]:
    """Rebuild a consistent hash chain from ``pairs`` and re-sign heads over it.

    This is everything a server holding the board key can do to make a
    rewritten board look internally consistent.  Returns the new entries.
    """
    entries = rechain(election, [], pairs)
    rewrite_board(directory, [e.canonical() for e in entries])
    write_heads(
        directory,
        signed_heads(election, entries, head_sizes or [len(entries)], time=START_TIME * 2),
    )
    return entries


# --- a dishonest official: sign anything --------------------------------------------


def command(election: Election, kind: str, key: SigningKey, body: dict[str, Any]) -> Pair:
    return kind, sign_command(key, election.election_id, kind, body).to_json()


def cut_at(entries: Sequence[Entry], kind: str) -> list[Pair]:
    """The board's entries before the first entry of ``kind``."""
    out = []
    for e in entries:
        if e.kind == kind:
            return out
        out.append((e.kind, e.payload))
    raise ValueError(f"no {kind} entry on the board")


def ballot_rows(
    election: Election, ballots: Iterable[Ballot | dict[str, Any]]
) -> list[tuple[int, list[list[Ciphertext]]]]:
    """(weight, ciphertexts) rows for :func:`evote.tally.aggregate`, one per ballot given."""
    rows = []
    for ballot in ballots:
        if not isinstance(ballot, Ballot):
            ballot = Ballot.from_json(ballot, election.manifest)
        weight = election.credentials.weight_of(ballot.credential)
        rows.append((weight, [list(a.choices) for a in ballot.answers]))
    return rows


def tally_pairs(
    election: Election,
    tally: EncryptedTally,
    *,
    counted: int,
    total_weight: int,
    trustees: Sequence[int] | None = None,
    seed: bytes = b"adversary-tally",
) -> list[Pair]:
    """tally_posted for ``tally`` (whatever it holds), then honest partial decryptions of it
    by ``trustees`` (default: the first t) and the result they give."""
    e = election
    rng = SeededRng(seed)
    out = [
        command(
            e,
            "tally_posted",
            e.official,
            {"tally": tally.to_json(), "counted": counted, "total_weight": total_weight},
        )
    ]
    states = {s.trustee: s for s in e.states}
    use = list(trustees) if trustees is not None else sorted(states)[: e.threshold]
    partials = []
    for j in use:
        p = partial_decrypt(e.ctx.fingerprint, j, states[j].share, tally, rng)
        partials.append(p)
        out.append(command(e, "partial_decryption", states[j].signing_key, p.to_json()))
    if len(partials) >= e.threshold:
        bound = max(1, total_weight + 4) * max(q.max_score for q in e.manifest.questions)
        bounds = [[bound] * len(q.options) for q in e.manifest.questions]
        result = combine(e.ctx.fingerprint, tally, partials, e.joint, bounds)
        out.append(command(e, "result_published", e.official, {"result": result.to_json()}))
    return out


def stuffed_tally(election: Election, rows: list[tuple[int, list[list[Ciphertext]]]]) -> EncryptedTally:
    return aggregate([len(q.options) for q in election.manifest.questions], rows)


def credential_of(payload: dict[str, Any]) -> VerifyKey:
    return VerifyKey.from_json(payload["ballot"]["credential"])


# --- a live server's record ------------------------------------------------------------


def download_record(election: Any, target: Path) -> Path:
    """Save the live server's record archive (GET .../record) to ``target`` (a .zip)."""
    response = election.client.get(f"{election.url}/record")
    assert response.status_code == 200, response.get_data()[:200]
    Path(target).write_bytes(response.get_data())
    return Path(target)


def verify_zip(path: Path, **options: Any) -> Report:
    source = ZipSource(Path(path))
    try:
        return verify_record(Record.load(source), **options)
    finally:
        source.close()

"""Every ballot-server route the CLI calls, in one place (routes: docs/api.md).

Functions take a :class:`~cli.client.Client` and return parsed evote objects,
so the command modules never see a URL or a raw JSON answer.
"""

from __future__ import annotations

import contextlib
from typing import Any, BinaryIO
from urllib.parse import quote

from cli.board_view import BoardView
from cli.client import Client, ServerError
from cli.console import progress
from evote.ballot import AuditedBallot, Ballot
from evote.board import Entry, Receipt, SignedTreeHead
from evote.commands import SignedCommand
from evote.encoding import b64decode
from evote.errors import BoardError, NotFound, SchemaError, ServiceUnavailable
from evote.kinds import ELECTION_OPENED
from evote.signing import VerifyKey

PAGE = 1000
#: Boards longer than this show a progress bar while they download.
PROGRESS_FROM = 5 * PAGE


def _election_path(election_id: str) -> str:
    return "/elections/" + quote(election_id, safe="")


def create_election(client: Client, command: SignedCommand) -> dict[str, Any]:
    """Post the signed ``election_created`` command (the election's entry 0)."""
    return client.post("/elections", command.to_json())


def post_command(
    client: Client, election_id: str, kind: str, command: SignedCommand
) -> dict[str, Any]:
    """Append a signed lifecycle command of ``kind`` to the election's board."""
    return client.post(f"{_election_path(election_id)}/commands/{kind}", command.to_json())


def election_info(client: Client, election_id: str) -> dict[str, Any]:
    """The server's summary of an election (phase, counts, manifest)."""
    return client.get(_election_path(election_id))


def fetch_entries(
    client: Client, election_id: str, *, start: int = 0, until_kind: str | None = None
) -> list[Entry]:
    """Every entry from ``start`` to the current end of the board, page by page
    (or up to and including the first entry of ``until_kind``)."""
    out: list[Entry] = []
    index = start
    with contextlib.ExitStack() as stack:
        advance = None
        while True:
            page = client.get(
                f"{_election_path(election_id)}/entries", params={"start": index, "limit": PAGE}
            )
            items = page.get("entries") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise ServerError("the entries answer has no list of entries")
            size = page.get("size")
            if advance is None and isinstance(size, int) and size - start > PROGRESS_FROM:
                advance = stack.enter_context(progress("downloading the board", size - start))
            for obj in items:
                entry = Entry.from_json(obj)
                if entry.index != index:
                    raise BoardError(
                        f"asked for entry {index}, the server sent entry {entry.index}"
                    )
                out.append(entry)
                index += 1
                if entry.kind == until_kind:
                    return out
            if advance is not None:
                advance(len(items))
            if page.get("next") is None or not items:
                return out


def fetch_board(client: Client, election_id: str) -> BoardView:
    """The whole board of an election, chain-checked."""
    return BoardView(election_id, fetch_entries(client, election_id))


def fetch_setup(client: Client, election_id: str) -> BoardView:
    """The board up to the opening (what a voter's device needs), chain-checked."""
    return BoardView(election_id, fetch_entries(client, election_id, until_kind=ELECTION_OPENED))


def board_key(client: Client) -> VerifyKey:
    """The key the server signs tree heads and receipts with."""
    body = client.get("/board-key")
    return VerifyKey.from_json(body.get("board_key") if isinstance(body, dict) else None)


def signed_head(client: Client, election_id: str) -> SignedTreeHead:
    return SignedTreeHead.from_json(client.get(f"{_election_path(election_id)}/tree-head"))


def consistency_proof(client: Client, election_id: str, old: int, new: int) -> list[bytes]:
    body = client.get(
        f"{_election_path(election_id)}/consistency", params={"first": old, "second": new}
    )
    return _proof_hashes(body, "consistency")


def _proof_hashes(body: Any, what: str, most: int | None = None) -> list[bytes]:
    """The ``proof`` of a proof answer: a list of 32-byte hashes (at most ``most``)."""
    proof = body.get("proof") if isinstance(body, dict) else None
    if not isinstance(proof, list) or (most is not None and len(proof) > most):
        raise SchemaError(f"{what} answer: expected a list of hashes")
    return [b64decode(h, length=32, what=f"{what} proof[{i}]") for i, h in enumerate(proof)]


def entry(client: Client, election_id: str, index: int) -> Entry:
    return Entry.from_json(client.get(f"{_election_path(election_id)}/entries/{index}"))


def register_voters(client: Client, election_id: str, command: SignedCommand) -> dict[str, str]:
    """Register voter ids; the server answers with each voter's login code (shown once)."""
    body = client.post(f"{_election_path(election_id)}/voters", command.to_json())
    codes = body.get("logins") if isinstance(body, dict) else None
    if not isinstance(codes, dict) or not all(isinstance(v, str) for v in codes.values()):
        raise ServerError("the voter registration answer has no login codes")
    return codes


def cast_ballot(client: Client, election_id: str, ballot: Ballot, login_code: str) -> Receipt:
    """Cast ``ballot`` as the voter whose login code this is; returns the board's receipt."""
    return Receipt.from_json(
        client.post(f"{_election_path(election_id)}/ballots", ballot.to_json(), token=login_code)
    )


def audit_ballot(
    client: Client, election_id: str, audited: AuditedBallot, login_code: str
) -> Receipt:
    """Post an audited (revealed, never counted) ballot; returns the board's receipt."""
    return Receipt.from_json(
        client.post(f"{_election_path(election_id)}/audits", audited.to_json(), token=login_code)
    )


def download_record(client: Client, election_id: str, target: BinaryIO) -> None:
    """Stream the election record archive (.zip) into ``target``."""
    client.download(f"{_election_path(election_id)}/record", target)


def served_booth_sha256(client: Client) -> bytes | None:
    """SHA-256 of the booth bundle the server serves (``GET /booth/assets.json``,
    outside ``/api/v1``), or None when it serves no booth."""
    try:
        body = client.get(client.server + "/booth/assets.json")
    except (NotFound, ServiceUnavailable):
        return None
    digest = body.get("booth_sha256") if isinstance(body, dict) else None
    if not isinstance(digest, str) or len(digest) != 64:
        raise SchemaError("booth assets answer: booth_sha256 is not a hex SHA-256")
    try:
        return bytes.fromhex(digest)
    except ValueError:
        raise SchemaError("booth assets answer: booth_sha256 is not a hex SHA-256") from None


def cosigned_checkpoint(client: Client, election_id: str) -> str | None:
    """The largest checkpoint that meets the election's witness policy (a C2SP
    note), or None while there is none (``GET …/checkpoint/cosigned``)."""
    try:
        body = client.get(f"{_election_path(election_id)}/checkpoint/cosigned")
    except NotFound:
        return None
    note = body.get("checkpoint") if isinstance(body, dict) else None
    if not isinstance(note, str):
        raise SchemaError("cosigned checkpoint answer: 'checkpoint' is not text")
    return note


def inclusion_proof(client: Client, election_id: str, index: int, size: int) -> list[bytes]:
    """The RFC 9162 audit path of entry ``index`` in the board's first ``size`` entries."""
    body = client.get(
        f"{_election_path(election_id)}/inclusion", params={"index": index, "size": size}
    )
    return _proof_hashes(body, "inclusion", most=64)  # an audit path of a 2**64 tree

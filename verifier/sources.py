"""Where an election record comes from: a directory, a .zip archive, or a live server.

Every source offers the same three things (see ``docs/record-format.md``):

* ``record.json`` -- the small header naming the election and the board key;
* ``tree-heads.jsonl`` -- the signed tree heads, one per line;
* ``board.jsonl`` -- the entries, one canonical JSON document per line,
  *streamed*: :meth:`Source.board_lines` yields raw lines one at a time, so the
  verifier never holds the board in memory, whatever its size;
* ``checkpoint.txt`` -- optional: the witness-cosigned checkpoint of an
  election with a witness policy (:meth:`Source.checkpoint`, None if absent).

Sources only move bytes.  They do not parse or judge entries (that is
:mod:`verifier.record` and :mod:`verifier.checks`); the one thing they refuse
is a record they cannot read at all, with :class:`RecordUnreadable`.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import quote, urlsplit

import httpx

from evote.board import SignedTreeHead, verify_heads
from evote.encoding import b64decode, canonical_json, parse_json
from evote.errors import EvoteError, SchemaError
from evote.limits import MAX_LINE_BYTES as MAX_LINE_BYTES
from evote.limits import MAX_SMALL_FILE_BYTES as MAX_SMALL_FILE_BYTES
from evote.record import (
    BOARD_FILE,
    CHECKPOINT_FILE,
    RECORD_FILE,
    RecordHeader,
    record_json,
    tree_head_line,
)
from evote.record import TREE_HEADS_FILE as HEADS_FILE
from evote.signing import VerifyKey
from verifier.errors import BoardKeyMismatch, RecordUnreadable


class Source(Protocol):
    """The bytes of one election record."""

    description: str

    def record_json(self) -> bytes:
        """The content of ``record.json``."""
        ...

    def tree_heads(self) -> bytes:
        """The content of ``tree-heads.jsonl``."""
        ...

    def board_lines(self) -> Iterator[bytes]:
        """The lines of ``board.jsonl`` in order, each with its ``\\n`` if it had one."""
        ...

    def checkpoint(self) -> bytes | None:
        """The server's largest witness-cosigned checkpoint within the board being
        checked (``GET …/checkpoint/cosigned?max_size=``: the witnesses may cosign a
        larger one meanwhile); None when it has none (404: no witness policy, or not
        cosigned yet)."""
        path = f"{self._e}/checkpoint/cosigned"
        body = self._get_json(path, {"max_size": self.target.size}, missing_ok=True)
        if body is None:
            return None
        note = body.get("checkpoint") if isinstance(body, dict) else None
        if not isinstance(note, str):
            raise RecordUnreadable("the server's cosigned checkpoint is not a note", where=path)
        return note.encode("utf-8")

    def close(self) -> None: ...


def _read_lines(stream: IO[bytes], where: str) -> Iterator[bytes]:
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES:
            raise RecordUnreadable(
                f"a board line is longer than {MAX_LINE_BYTES} bytes", where=where
            )
        yield line


def _read_small(stream: IO[bytes], where: str) -> bytes:
    data = stream.read(MAX_SMALL_FILE_BYTES + 1)
    if len(data) > MAX_SMALL_FILE_BYTES:
        raise RecordUnreadable(f"file is larger than {MAX_SMALL_FILE_BYTES} bytes", where=where)
    return data


@dataclass
class DirectorySource:
    """A record exported as a directory (``evote export`` or the server's download)."""

    path: Path

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.is_dir():
            raise RecordUnreadable("not a directory", where=str(self.path))
        self.description = str(self.path)

    def _open(self, name: str) -> IO[bytes]:
        where = str(self.path / name)
        try:
            return open(self.path / name, "rb")  # noqa: SIM115 -- closed by the callers
        except OSError as exc:
            raise RecordUnreadable(f"cannot open {name}: {exc.strerror}", where=where) from None

    def record_json(self) -> bytes:
        with self._open(RECORD_FILE) as f:
            return _read_small(f, str(self.path / RECORD_FILE))

    def tree_heads(self) -> bytes:
        with self._open(HEADS_FILE) as f:
            return _read_small(f, str(self.path / HEADS_FILE))

    def board_lines(self) -> Iterator[bytes]:
        with self._open(BOARD_FILE) as f:
            yield from _read_lines(f, str(self.path / BOARD_FILE))

    def checkpoint(self) -> bytes | None:
        if not (self.path / CHECKPOINT_FILE).exists():
            return None
        with self._open(CHECKPOINT_FILE) as f:
            return _read_small(f, str(self.path / CHECKPOINT_FILE))

    def close(self) -> None:
        pass


class ZipSource:
    """A record as a single .zip archive of the same files.

    The files may sit at the archive's root or inside one top-level folder
    (what ``zip -r record.zip record/`` produces).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.description = str(self.path)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise RecordUnreadable(f"not a readable zip archive: {exc}", where=str(path)) from None
        names = set(self._zip.namelist())
        if RECORD_FILE in names:
            self._prefix = ""
        else:
            tops = {n.split("/", 1)[0] for n in names if "/" in n}
            found = [t for t in sorted(tops) if f"{t}/{RECORD_FILE}" in names]
            if len(found) != 1:
                self._zip.close()
                raise RecordUnreadable(
                    f"archive has no {RECORD_FILE} at its root or in one top-level folder",
                    where=str(path),
                )
            self._prefix = found[0] + "/"

    def _open(self, name: str) -> IO[bytes]:
        full = self._prefix + name
        try:
            return self._zip.open(full)
        except KeyError:
            raise RecordUnreadable(f"archive has no {full}", where=str(self.path)) from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise RecordUnreadable(f"cannot read {full}: {exc}", where=str(self.path)) from None

    def _guard(self, name: str, fn):  # type: ignore[no-untyped-def]
        try:
            return fn()
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            # Includes a CRC mismatch: the archive was damaged after it was written.
            raise RecordUnreadable(
                f"cannot read {self._prefix + name}: {exc}", where=str(self.path)
            ) from None

    def record_json(self) -> bytes:
        with self._open(RECORD_FILE) as f:
            return self._guard(RECORD_FILE, lambda: _read_small(f, RECORD_FILE))

    def tree_heads(self) -> bytes:
        with self._open(HEADS_FILE) as f:
            return self._guard(HEADS_FILE, lambda: _read_small(f, HEADS_FILE))

    def board_lines(self) -> Iterator[bytes]:
        with self._open(BOARD_FILE) as f:
            lines = _read_lines(f, f"{self.path}:{self._prefix}{BOARD_FILE}")
            while True:
                line = self._guard(BOARD_FILE, lambda: next(lines, None))
                if line is None:
                    return
                yield line

    def checkpoint(self) -> bytes | None:
        if self._prefix + CHECKPOINT_FILE not in self._zip.namelist():
            return None
        with self._open(CHECKPOINT_FILE) as f:
            return self._guard(CHECKPOINT_FILE, lambda: _read_small(f, CHECKPOINT_FILE))

    def close(self) -> None:
        self._zip.close()


# --------------------------------------------------------------------------
# A live ballot server
# --------------------------------------------------------------------------

API_PREFIX = "/api/v1"
PAGE_SIZE = 1000
#: Ask the server for its newest head (and a consistency proof to it) every
#: this many entries downloaded.
HEAD_EVERY = 10_000


@dataclass(frozen=True, slots=True)
class LiveObservation:
    """A consistency proof the server gave between two heads it signed, and its verdict."""

    older: SignedTreeHead
    newer: SignedTreeHead
    error: EvoteError | None


class ServerSource:
    """A running ballot server, read through its public API (``docs/api.md``).

    On opening, the newest signed tree head is fetched: it fixes the board the
    verifier checks (entries ``0 .. size-1``; later entries are not signed yet
    and are left for the next run).  :meth:`board_lines` then downloads the
    entries page by page; every :data:`HEAD_EVERY` entries, and at the end,
    it fetches the server's newest head again together with the server's
    consistency proof from the previous head, and checks it
    (:func:`evote.board.verify_heads`): a server that rewrites or forks its
    board while it is being audited is caught, and the signed heads are kept as
    evidence (:attr:`observations`, reported by checks 8 and 9).

    The board key is the server's unless ``board_key`` pins one: an auditor
    should pin the key published with the election (the server could
    otherwise answer with a key of its own choosing).
    """

    def __init__(
        self,
        url: str,
        election: str,
        *,
        board_key: VerifyKey | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
    ) -> None:
        text = url.strip().rstrip("/")
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RecordUnreadable("a server URL must start with http:// or https://", where=url)
        self.election = election
        self.description = f"{text} (election {election})"
        self._http = httpx.Client(
            base_url=text + API_PREFIX, timeout=timeout, transport=transport,
            headers={"Accept": "application/json", "User-Agent": "evote-verify"},
        )
        self._e = "/elections/" + quote(election, safe="")
        self.observations: list[LiveObservation] = []
        try:
            key_json = self._get_json("/board-key")
            try:
                served = VerifyKey.from_json(
                    key_json.get("board_key") if isinstance(key_json, dict) else None)
            except EvoteError as exc:
                raise RecordUnreadable(f"the server's board key: {exc.message}",
                                       where=url) from None
            if board_key is not None and board_key.raw != served.raw:
                raise BoardKeyMismatch(
                    f"the server's board key ({served.to_json()}) is not the pinned "
                    f"--board-key ({board_key.to_json()}): this server does not sign with "
                    "the key published with the election (a wrong URL, a wrong key, or a "
                    "server that is not the election's)", where=url)
            self.board_key = board_key or served
            self.target = self._head()
        except RecordUnreadable:
            self._http.close()
            raise

    # -- HTTP ----------------------------------------------------------------
    def _get(self, path: str, params: dict[str, Any] | None = None,
             *, missing_ok: bool = False) -> bytes | None:
        """The body of ``GET path``; None for a 404 when ``missing_ok``."""
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise RecordUnreadable(f"cannot reach the server: {exc or type(exc).__name__}",
                                   where=str(self._http.base_url) + path) from None
        if missing_ok and response.status_code == 404:
            return None
        if response.status_code != 200:
            raise RecordUnreadable(f"the server answered HTTP {response.status_code}",
                                   where=str(self._http.base_url) + path)
        return response.content

    def _get_json(self, path: str, params: dict[str, Any] | None = None,
                  *, missing_ok: bool = False) -> Any:
        data = self._get(path, params, missing_ok=missing_ok)
        if data is None:
            return None
        try:
            return parse_json(data)
        except EvoteError as exc:
            raise RecordUnreadable(f"the server's answer is not JSON: {exc.message}",
                                   where=path) from None

    def _head(self) -> SignedTreeHead:
        try:
            return SignedTreeHead.from_json(self._get_json(f"{self._e}/tree-head"))
        except RecordUnreadable:
            raise
        except EvoteError as exc:
            raise RecordUnreadable(f"the server's tree head: {exc.message}",
                                   where=f"{self._e}/tree-head") from None

    def _consistency(self, older: SignedTreeHead, newer: SignedTreeHead) -> None:
        """Fetch and check the server's proof that ``newer`` extends ``older``."""
        error: EvoteError | None = None
        try:
            proof: list[bytes] = []
            if older.size < newer.size:
                body = self._get_json(f"{self._e}/consistency",
                                      params={"first": older.size, "second": newer.size})
                raw = body.get("proof") if isinstance(body, dict) else None
                if not isinstance(raw, list):
                    raise SchemaError("consistency answer: expected a list of hashes")
                proof = [b64decode(h, length=32, what=f"proof[{i}]") for i, h in enumerate(raw)]
            verify_heads(older, newer, proof, board_key=self.board_key)
        except RecordUnreadable:
            raise
        except EvoteError as exc:
            error = exc
        self.observations.append(LiveObservation(older, newer, error))

    # -- Source ----------------------------------------------------------------
    def record_json(self) -> bytes:
        header = RecordHeader(self.election, self.board_key)
        return record_json(header)

    def tree_heads(self) -> bytes:
        """The head that fixes the board being checked; the heads seen while
        downloading are checked by the server's consistency proofs instead."""
        return tree_head_line(self.target)

    def board_lines(self) -> Iterator[bytes]:
        index = 0
        last_head = self.target
        since = 0
        while index < self.target.size:
            limit = min(PAGE_SIZE, self.target.size - index)
            body = self._get_json(f"{self._e}/entries", params={"start": index, "limit": limit})
            items = body.get("entries") if isinstance(body, dict) else None
            if not isinstance(items, list) or not items:
                raise RecordUnreadable(
                    f"the server stopped at entry {index} of the {self.target.size} its signed "
                    "head covers", where=f"{self._e}/entries")
            for obj in items[:limit]:
                try:
                    line = canonical_json(obj)
                except EvoteError as exc:
                    line = f"<entry {index}: {exc.message}>".encode()
                yield line + b"\n"
                index += 1
            since += len(items)
            if since >= HEAD_EVERY:
                since = 0
                newer = self._head()
                self._consistency(last_head, newer)
                last_head = newer
        newer = self._head()
        self._consistency(last_head, newer)

    def checkpoint(self) -> bytes | None:
        """The server's largest witness-cosigned checkpoint (``GET …/checkpoint/cosigned``);
        None when it has none (404: no witness policy, or not cosigned yet)."""
        path = f"{self._e}/checkpoint/cosigned"
        try:
            response = self._http.get(path)
        except httpx.HTTPError as exc:
            raise RecordUnreadable(f"cannot reach the server: {exc or type(exc).__name__}",
                                   where=str(self._http.base_url) + path) from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise RecordUnreadable(f"the server answered HTTP {response.status_code}",
                                   where=str(self._http.base_url) + path)
        try:
            body = parse_json(response.content)
        except EvoteError as exc:
            raise RecordUnreadable(f"the server's answer is not JSON: {exc.message}",
                                   where=path) from None
        note = body.get("checkpoint") if isinstance(body, dict) else None
        if not isinstance(note, str):
            raise RecordUnreadable("the server's cosigned checkpoint is not a note", where=path)
        return note.encode("utf-8")

    def close(self) -> None:
        self._http.close()

"""The voter roster: a CSV file with one row per voter.

Used by ``evote voters register`` (the server learns the ids, to check logins)
and ``evote credentials issue --from`` (the ids only name the files the
credential authority hands out; they never reach the server with a
credential).  Format::

    voter_id,weight
    alice,1
    bob,2

``voter_id`` is required (``id`` is accepted as its name too); ``weight`` is
optional (default 1) and becomes the credential's public weight.  Other
columns (names, addresses for the mail merge) are ignored.  Ids name files,
so they are 1–128 characters of letters, digits and ``. _ - @``, not starting
with a dot; every error names the file and line.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from cli.keyfiles import read_bytes
from evote.credentials import MAX_WEIGHT
from evote.errors import SchemaError

VOTER_ID = re.compile(r"[A-Za-z0-9_@-][A-Za-z0-9._@-]{0,127}")
ID_COLUMNS = ("voter_id", "id")


@dataclass(frozen=True, slots=True)
class RosterEntry:
    voter_id: str
    weight: int
    line: int


def parse_roster(data: bytes, name: str) -> list[RosterEntry]:
    """Every row of a roster CSV, validated; :class:`SchemaError` names file and line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SchemaError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not header:
        raise SchemaError(f"{name}: empty file; the first line must name the columns (voter_id)")
    reader.fieldnames = header
    id_column = next((c for c in ID_COLUMNS if c in header), None)
    if id_column is None:
        raise SchemaError(f"{name}:1: no voter_id column (columns: {', '.join(header)})")
    entries: list[RosterEntry] = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                raise SchemaError(f"{name}:{line}: more fields than the header names")
            voter_id = (row.get(id_column) or "").strip()
            if not voter_id and not any((v or "").strip() for v in row.values()):
                continue  # a blank line
            if not VOTER_ID.fullmatch(voter_id):
                raise SchemaError(
                    f"{name}:{line}: voter id {voter_id!r} must be 1 to 128 characters of "
                    "letters, digits and . _ - @ (not starting with a dot)"
                )
            if voter_id in seen:
                raise SchemaError(
                    f"{name}:{line}: duplicate voter id {voter_id!r} "
                    f"(first on line {seen[voter_id]})"
                )
            seen[voter_id] = line
            raw_weight = (row.get("weight") or "").strip()
            weight = 1
            if raw_weight:
                if not raw_weight.isdigit() or not 1 <= int(raw_weight) <= MAX_WEIGHT:
                    raise SchemaError(
                        f"{name}:{line}: weight {raw_weight!r} must be a whole number "
                        f"from 1 to {MAX_WEIGHT}"
                    )
                weight = int(raw_weight)
            entries.append(RosterEntry(voter_id, weight, line))
    except csv.Error as exc:
        raise SchemaError(f"{name}:{reader.line_num}: not valid CSV: {exc}") from None
    if not entries:
        raise SchemaError(f"{name}: no voters listed")
    return entries


def load_roster(path: str | Path) -> list[RosterEntry]:
    return parse_roster(read_bytes(path, "voter list"), str(path))

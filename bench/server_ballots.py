"""Ballots for ``bench/server.py``, made before the load starts, on every core.

A ballot costs several milliseconds to encrypt, prove and sign: far more than
the server spends checking it.  Made inside the load generator's timed loop,
it would measure the client, so the whole pool is made beforehand by a
process pool, once the election is open (a ballot binds the election's
fingerprint, which exists only then).  Each voter casts exactly one ballot
with their own credential, choosing ``bench/crypto.py``'s
``selections_for(ctx, voter)`` (in every question, option ``voter mod
options``, and the next ones, wrapping around, up to the question's minimum),
so the choices cycle through the options.

Children are started with ``spawn`` and import only :mod:`evote` and
``bench/crypto.py`` (for ``selections_for``).
"""

from __future__ import annotations

import json
import multiprocessing
import secrets
from collections.abc import Sequence
from typing import Any

from bench.crypto import selections_for
from evote.ballot import encrypt_ballot
from evote.fingerprint import ElectionContext
from evote.signing import SigningKey

CHUNK = 32

_WORKER: dict[str, Any] = {}


def _init(ctx: ElectionContext, keys: Sequence[SigningKey]) -> None:
    _WORKER["ctx"], _WORKER["keys"] = ctx, keys


def wire_bytes(ballot_json: Any) -> bytes:
    """The request body the CLI would send (cli/client.py: compact JSON, UTF-8)."""
    return json.dumps(ballot_json, ensure_ascii=False, separators=(",", ":")).encode()


def _make(voter: int) -> tuple[int, bytes]:
    ctx: ElectionContext = _WORKER["ctx"]
    key: SigningKey = _WORKER["keys"][voter]
    ballot, _ = encrypt_ballot(ctx, key, selections_for(ctx, voter), secrets.token_bytes)
    return voter, wire_bytes(ballot.to_json())


def make_ballots(ctx: ElectionContext, keys: Sequence[SigningKey], processes: int) -> list[bytes]:
    """One ballot per key, in key order, as request bodies; made by ``processes`` processes."""
    out: list[bytes] = [b""] * len(keys)
    with multiprocessing.get_context("spawn").Pool(
        processes, initializer=_init, initargs=(ctx, list(keys))
    ) as pool:
        for voter, body in pool.imap_unordered(_make, range(len(keys)), chunksize=CHUNK):
            out[voter] = body
    return out

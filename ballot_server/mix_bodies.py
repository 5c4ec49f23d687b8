"""The mixnet's commands may be large: their body cap, computed from the election.

A mix is one row of k ciphertexts per counted ballot and a shuffle proof of
four vectors as long as the list, so its size follows the election rather
than a setting: 100,000 ballots of width 5 take some 75 MB of canonical JSON,
above ``EVOTE_MAX_COMMAND_BODY``.  :func:`mix_large_body` is the
:class:`~ballot_server.bodies.LargeBody` of the ``mix_posted``,
``mix_decryption`` and ``ranked_result`` routes: who may send a body above the
small cap (the kind's party, with an ``Evote-Body-Signature``) and the cap
(:func:`mix_body_cap`).  Listed in docs/api.md ("Request size caps").

Apart from :mod:`ballot_server.commands` because it reads request bodies
(Flask), which the command path itself never imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ballot_server.bodies import LargeBody
from evote.kinds import (
    MIX_DECRYPTION,
    MIX_KINDS,
    MIX_POSTED,
    MIXER,
    OFFICIAL,
    RANKED_RESULT,
    TRUSTEE,
)
from evote.mix_payloads import MAX_SHEET_BYTES
from evote.signing import VerifyKey

if TYPE_CHECKING:
    from ballot_server.service import ElectionService

#: Bytes of a mix body (``mix_posted``) per ciphertext, per row (the shuffle proof's four
#: commitment and response vectors), and fixed (envelope, the width-long responses):
#: canonical JSON takes ~110, ~184 and a few KiB; the margins allow a client's own
#: spacing.  :func:`mix_body_cap` is the route's cap.
MIX_BYTES_PER_CIPHERTEXT = 160
MIX_BYTES_PER_ROW = 256
#: ``mix_decryption``: a factor and its DLEQ proof (~170 in canonical JSON);
#: ``ranked_result``: a decrypted value (a small integer and a comma).
DECRYPTION_BYTES_PER_CIPHERTEXT = 256
RESULT_BYTES_PER_CIPHERTEXT = 8
MIX_FIXED_BYTES = 64 * 1024


def mix_body_cap(kind: str, rows: int, width: int, *, sheet: int = 0) -> int:
    """The largest body a mixnet command of an election with ``rows`` counted ballots may
    have for a question of ``width`` options: what an honest body of that size takes,
    with a margin (constants above), so a 100,000-row mix fits and nothing larger does."""
    per = {
        "mix_posted": width * MIX_BYTES_PER_CIPHERTEXT + MIX_BYTES_PER_ROW,
        "mix_decryption": width * DECRYPTION_BYTES_PER_CIPHERTEXT,
        "ranked_result": width * RESULT_BYTES_PER_CIPHERTEXT,
    }[kind]
    return MIX_FIXED_BYTES + sheet + rows * per


def mix_large_body(svc: ElectionService, election_id: str, kind: str) -> LargeBody | None:
    """A mixnet command may be larger than ``EVOTE_MAX_BODY``: a mix of 100,000 rows of
    width 5 is some 75 MB.  Its cap is computed from the election
    (:func:`mix_body_cap`: the counted ballots times the widest
    mixed question) and it needs an ``Evote-Body-Signature`` from the party the kind
    names (the mixers, the trustees, the official).  None for every other kind."""
    if kind not in MIX_KINDS:
        return None
    role = {MIX_POSTED: MIXER, MIX_DECRYPTION: TRUSTEE, RANKED_RESULT: OFFICIAL}[kind]

    def allowed(signer: VerifyKey) -> bool:
        created = svc.facts(election_id).created
        if role == OFFICIAL:
            return signer.raw == created.official.raw
        keys = [m.verify_key for m in created.mixers] if role == MIXER else created.trustees
        return any(signer.raw == k.raw for k in keys)

    def cap() -> int:
        facts = svc.facts(election_id)
        manifest = facts.created.manifest
        widths = [len(manifest.questions[q].options) for q in manifest.mixed_questions]
        if facts.closed is None or not widths:
            return 0  # nothing to mix yet: the small cap
        rows = svc.store.counted_ballot_indices(election_id)
        sheet = MAX_SHEET_BYTES if kind == RANKED_RESULT else 0
        return mix_body_cap(kind, len(rows), max(widths), sheet=sheet)

    return LargeBody(election_id, kind, allowed, cap)

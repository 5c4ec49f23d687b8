"""Item 7 — ghost voters and ballot stuffing by the server or an official.

Ballot stuffing is the oldest election fraud and the one a dishonest server is
best placed to commit online.  In the Helios model the server could add
ballots for voters who never voted, which is why Belenios (Cortier, Gaudry,
Glondu, "Belenios: a simple private and verifiable electronic voting system",
2019) splits eligibility between a credential authority (which knows the
signing credentials) and the server (which knows the voters' logins):
neither can vote for an abstaining voter alone.

evote's defences, each shown here:

* every counted ballot must be signed by a credential on the published list
  (server: 403 bad_credential; verifier: ballots check, bad_credential);
* each credential counts once, its last ballot; the tally must be exactly the
  homomorphic sum of that set and say how many it counted (verifier:
  counted-set and aggregation), so an official who adds ghost ballots, or
  counts a re-voting credential twice, fails the election;
* the credential authority, which generated every private credential, still
  cannot cast: the server requires a voter login (401 unauthenticated) and
  binds each credential to the first login that uses it (403 binding), so
  stuffing needs one real voter's login per ballot.
"""

from __future__ import annotations

from evote.ballot import encrypt_ballot
from evote.credentials import CredentialList, PublicCredential
from evote.drbg import SeededRng
from evote.elgamal import encrypt
from evote.fingerprint import ElectionContext
from evote.group import Scalar
from evote.signing import SigningKey
from tests.attacks.adversary import (
    ballot_rows,
    credential_of,
    cut_at,
    failures,
    forge_board,
    pairs_of,
    stuffed_tally,
    tally_pairs,
    verify,
)
from tests.support.api_election import ApiElection
from tests.support.recordgen import GeneratedRecord

rng = SeededRng(b"attack-ghost-voters")


def refused(e: ApiElection, response, status: int, code: str, size: int) -> None:
    assert response.status_code == status, response.get_json()
    assert response.get_json()["code"] == code, response.get_json()
    assert e.size() == size


# --- ghost credentials -------------------------------------------------------------------


def test_helios_ballot_stuffing_ghost_credential_is_refused_by_the_server(live: ApiElection) -> None:
    """A ghost voter: a key the server (or anyone) made up, not on the list.  Its
    ballot is perfectly formed, with valid proofs for a context that lists it,
    and it is refused with 403 bad_credential even with a real voter's login."""
    ghost = SigningKey.generate(rng)
    listed = live.credential_list
    with_ghost = CredentialList((*listed.entries, PublicCredential(ghost.verify_key)))
    ghost_ctx = ElectionContext(live.ctx.manifest, live.ctx.joint_key, live.ctx.fingerprint,
                                with_ghost)
    ballot, _ = encrypt_ballot(ghost_ctx, ghost, [[1, 0, 0]], rng)
    size = live.size()
    refused(live, live.cast(ballot, login=live.login(2)), 403, "bad_credential", size)


def test_helios_ballot_stuffing_ghost_ballot_on_the_board_fails_the_verifier(
    honest: GeneratedRecord, record_copy
) -> None:
    """A server that writes the ghost's ballot onto the board itself (and re-signs
    the board) fails the ballots check at that entry with bad_credential; the
    ghost ballot is never counted."""
    e = honest.election
    ghost = SigningKey.generate(rng)
    with_ghost = CredentialList((*e.credentials.entries, PublicCredential(ghost.verify_key)))
    ghost_ctx = ElectionContext(e.manifest, e.ctx.joint_key, e.ctx.fingerprint, with_ghost)
    ballot, _ = encrypt_ballot(ghost_ctx, ghost, [[1, 0, 0], [3, 1]], rng)
    pairs = cut_at(honest.entries, "election_closed")
    rest = pairs_of(honest.entries)[len(pairs) :]
    forge_board(record_copy, e, [*pairs, ("ballot_cast", {"ballot": ballot.to_json()}), *rest])
    report = verify(record_copy)
    assert failures(report) == {"ballots": "bad_credential"}
    assert report.check("ballots").first_failure.index == len(pairs)


# --- stuffing the tally ---------------------------------------------------------------------


def _counted(pairs) -> dict[bytes, dict]:
    last: dict[bytes, dict] = {}
    for kind, payload in pairs:
        if kind == "ballot_cast":
            last[credential_of(payload).raw] = payload["ballot"]
    return last


def test_helios_ballot_stuffing_more_counted_than_credentials_fails_the_verifier(
    honest: GeneratedRecord, record_copy
) -> None:
    """The official adds a ghost encryption of "North" to the aggregate for every
    listed credential plus one, claims that many counted ballots, and the
    trustees honestly decrypt what was posted.  The verifier fails counted-set
    (count_mismatch: the board has fewer) and aggregation (the tally is not the
    sum of the counted ballots)."""
    e = honest.election
    pairs = cut_at(honest.entries, "tally_posted")
    last = _counted(pairs)
    rows = ballot_rows(e, last.values())
    key = e.ctx.joint_key
    ghosts = len(e.credentials) + 1 - len(rows)
    assert ghosts >= 1
    for _ in range(ghosts):
        ghost_row = [
            [encrypt(key, 1 if (q, o) == (0, 0) else 0, Scalar.random(rng))
             for o in range(len(question.options))]
            for q, question in enumerate(e.manifest.questions)
        ]
        rows.append((1, ghost_row))
    counted = len(rows)
    assert counted == len(e.credentials) + 1
    tally = stuffed_tally(e, rows)
    forge_board(record_copy, e, [*pairs, *tally_pairs(e, tally, counted=counted,
                                                       total_weight=counted)])
    report = verify(record_copy)
    failed = failures(report)
    assert failed["counted-set"] == "tally"  # R-TAL-01
    assert failed["aggregation"] == "tally"
    assert report.check("counted-set").counts["credentials"] == len(e.credentials)


def test_helios_ballot_stuffing_a_credential_counted_twice_fails_the_verifier(
    honest: GeneratedRecord, record_copy
) -> None:
    """A voter re-voted; the official aggregates both of its ballots (the first
    one should have been replaced).  The verifier fails counted-set and
    aggregation."""
    e = honest.election
    pairs = cut_at(honest.entries, "tally_posted")
    seen: dict[bytes, list[dict]] = {}
    for kind, payload in pairs:
        if kind == "ballot_cast":
            seen.setdefault(credential_of(payload).raw, []).append(payload["ballot"])
    twice = next(v for v in seen.values() if len(v) == 2)
    ballots = [v[-1] for v in seen.values()] + [twice[0]]
    rows = ballot_rows(e, ballots)
    tally = stuffed_tally(e, rows)
    forge_board(record_copy, e, [*pairs, *tally_pairs(e, tally, counted=len(rows),
                                                       total_weight=len(rows))])
    report = verify(record_copy)
    failed = failures(report)
    assert failed["counted-set"] == "tally"  # R-TAL-01
    assert failed["aggregation"] == "tally"
    # Claiming the honest count does not help: the sum still gives it away.
    forge_board(record_copy, e, [*pairs, *tally_pairs(e, tally, counted=len(seen),
                                                       total_weight=len(seen))])
    assert failures(verify(record_copy)) == {"aggregation": "tally"}


# --- the credential authority cannot cast ---------------------------------------------------


def test_helios_ballot_stuffing_credential_authority_cannot_cast_without_a_login(
    live: ApiElection,
) -> None:
    """The credential authority knows every private credential.  Casting for an
    abstaining voter without that voter's login is 401 unauthenticated (no login,
    or a login code it made up)."""
    abstainer = 2
    ballot, _ = live.ballot(abstainer)  # made with the abstainer's private credential
    size = live.size()
    refused(live, live.cast(ballot, login=None), 401, "unauthenticated", size)
    fake = live.login(abstainer)[:-4] + ("AAAA" if not live.login(abstainer).endswith("AAAA")
                                         else "BBBB")
    refused(live, live.cast(ballot, login=fake), 401, "unauthenticated", size)


def test_helios_ballot_stuffing_one_login_casts_for_one_credential_only(live: ApiElection) -> None:
    """Even with one colluding voter's login, the authority can cast for at most
    one credential: the login is bound to the first credential it casts with
    (403 binding for a second abstainer), and a credential already bound to its
    voter's login cannot be used with another login to override that vote."""
    colluder, abstainer_a, abstainer_b, honest_voter = 3, 1, 2, 0
    live.cast_ok(honest_voter)
    first, _ = live.ballot(abstainer_a)
    assert live.cast(first, login=live.login(colluder)).status_code == 201
    size = live.size()
    second, _ = live.ballot(abstainer_b)
    refused(live, live.cast(second, login=live.login(colluder)), 403, "binding", size)
    override, _ = live.ballot(honest_voter, [[0, 0, 1]])
    refused(live, live.cast(override, login=live.login(colluder)), 403, "binding", size)
    # The colluder has spent its own login: its own credential is refused too.
    own, _ = live.ballot(colluder)
    refused(live, live.cast(own, login=live.login(colluder)), 403, "binding", size)
    # The honest voter's re-vote with its own login is of course fine.
    assert live.cast(override, login=live.login(honest_voter)).status_code == 201

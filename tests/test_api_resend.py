"""Idempotent casting (docs/api.md §5.1) and the receipt lookup by tracking code (§5.2).

A voter's device whose answer was lost sends the same bytes again.  The server
must answer with the receipt of the entry already on the board -- the same
entry, the same tracking code, the same signed statement -- and append
nothing; a copy of the ciphertexts under another credential or another login
is still refused with its own error.  The same for audits.  These run on
SQLite and PostgreSQL (the ``api_db`` fixture), with real ballots, the real
group commit (racing threads) and the real lookup route.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask

from ballot_server.casting import PendingCast
from ballot_server.context import get_service
from ballot_server.service import _alphas, pending_cast
from evote.ballot import AuditedBallot, Ballot, sign_ballot
from evote.board import Entry, Receipt, verify_chain
from evote.errors import RuleViolation
from evote.kinds import BALLOT_AUDITED, BALLOT_CAST
from evote.payloads import ballot_cast_payload
from tests import api_election
from tests.api_election import ApiElection

api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client
election = api_election.election


def refused(e: ApiElection, response: Any, status: int, code: str, size: int) -> None:
    assert response.status_code == status, response.get_json()
    assert response.get_json()["code"] == code, response.get_json()
    assert e.size() == size


def heads(app: Flask, e: ApiElection) -> int:
    with app.test_request_context():
        return len(get_service().store.signed_heads(e.election_id))


def lookup(e: ApiElection, tracking_code: str) -> Any:
    return e.client.get(f"{e.url}/ballots/{tracking_code}/receipt")


# --- casts --------------------------------------------------------------------------


def test_a_lost_answer_then_the_same_bytes_again_gives_the_original_receipt(
    api_app: Flask, election: ApiElection
) -> None:
    """The first answer is lost (never read); the board moves on; the resend gets the
    very receipt the first send was answered with, as a 200, and appends nothing."""
    e = election
    ballot, _ = e.ballot(0)
    first = e.cast(ballot, login=e.login(0))
    assert first.status_code == 201
    lost = first.get_json()  # what the voter never saw
    e.cast_ok(1)  # the board grows meanwhile: later heads exist
    e.cast_ok(2)
    size, signed = e.size(), heads(api_app, e)

    again = e.cast(ballot, login=e.login(0))

    assert again.status_code == 200, again.get_json()
    assert again.get_json() == lost  # same entry, tracking code, head, proof, signature
    receipt = Receipt.from_json(again.get_json())
    receipt.verify(e.board_key)
    assert receipt.tracking_code == ballot.tracking_code
    entry = e.entries()[receipt.index]
    receipt.verify_entry(entry)
    assert entry.payload == {"ballot": ballot.to_json()}
    assert e.size() == size  # nothing appended
    assert heads(api_app, e) == signed  # and no head signed for it
    # And again, any number of times.
    assert e.cast(ballot, login=e.login(0)).get_json() == lost


def test_the_same_ballot_under_another_login_is_still_refused(election: ApiElection) -> None:
    e = election
    ballot, _ = e.ballot(0)
    assert e.cast(ballot, login=e.login(0)).status_code == 201
    size = e.size()
    refused(e, e.cast(ballot, login=e.login(1)), 403, "binding", size)
    # A login that never cast is refused too (it would have to bind a taken credential).
    refused(e, e.cast(ballot, login=e.login(3)), 403, "binding", size)


def test_the_same_ciphertexts_under_another_credential_are_still_refused(
    election: ApiElection,
) -> None:
    """Voter 0's answers re-signed with credential 1: the proofs bind the credential
    (strong Fiat-Shamir), so the copy fails there, before the board is consulted."""
    e = election
    ballot, _ = e.ballot(0)
    assert e.cast(ballot, login=e.login(0)).status_code == 201
    assert e.ctx is not None
    copy = sign_ballot(e.ctx, e.credentials[1], list(ballot.answers))
    size = e.size()
    refused(e, e.cast(copy, login=e.login(1)), 422, "invalid_proof", size)


def test_a_copy_reaching_the_board_check_is_a_duplicate_not_a_resend(
    api_app: Flask, election: ApiElection
) -> None:
    """Past the proofs (as a future proof bug would let it), a cast whose ciphertexts
    are on the board under another credential is 409 duplicate_ciphertext: only the
    identical ballot is a resend."""
    e = election
    ballot, _ = e.ballot(0)
    original = Receipt.from_json(e.cast(ballot, login=e.login(0)).get_json())
    other, _ = e.ballot(1)
    payload = ballot_cast_payload(ballot)
    payload["ballot"] = {**payload["ballot"], "credential": other.to_json()["credential"]}
    size = e.size()
    with api_app.test_request_context():
        svc = get_service()
        login = svc.authenticate(e.election_id, "Bearer " + e.login(1))
        copy = PendingCast(
            voter_id=login.voter_id,
            known=login.voter,
            credential=other.credential.raw,
            tracking_code=other.tracking_code,
            alphas=_alphas(ballot),
            payload=payload,
        )
        svc._write_casts(e.election_id, [copy])
    try:
        copy.outcome()
        raise AssertionError("the copy was accepted")
    except RuleViolation as exc:
        assert (exc.rule, exc.code) == ("R-BAL-03", "duplicate_ciphertext")
        assert exc.detail == {"index": original.index}
    assert e.size() == size


def test_a_ballot_sharing_only_some_ciphertexts_is_a_duplicate(
    api_app: Flask, election: ApiElection
) -> None:
    """Half of a cast ballot's ciphertexts in a new ballot of the same voter: refused
    (not a resend: not every ciphertext belongs to the one entry)."""
    e = election
    ballot, _ = e.ballot(0)
    original = Receipt.from_json(e.cast(ballot, login=e.login(0)).get_json())
    fresh, _ = e.ballot(0)
    mixed_alphas = [*_alphas(ballot)[:1], *_alphas(fresh)[1:]]
    size = e.size()
    with api_app.test_request_context():
        svc = get_service()
        cast = pending_cast(svc.authenticate(e.election_id, "Bearer " + e.login(0)), fresh)
        cast.alphas = mixed_alphas
        svc._write_casts(e.election_id, [cast])
    try:
        cast.outcome()
        raise AssertionError("accepted")
    except RuleViolation as exc:
        assert (exc.rule, exc.code) == ("R-BAL-03", "duplicate_ciphertext")
        assert exc.detail == {"index": original.index}
    assert e.size() == size


def test_a_resend_after_re_voting_changes_nothing(api_app: Flask, election: ApiElection) -> None:
    """The old ballot sent again after a re-vote is answered with its old receipt and does
    not become the last (counted) one."""
    e = election
    old, _ = e.ballot(0, [[1, 0, 0]])
    new, _ = e.ballot(0, [[0, 0, 1]])
    old_receipt = e.cast(old, login=e.login(0)).get_json()
    new_receipt = Receipt.from_json(e.cast(new, login=e.login(0)).get_json())
    size = e.size()
    again = e.cast(old, login=e.login(0))
    assert again.status_code == 200 and again.get_json() == old_receipt
    assert e.size() == size
    with api_app.test_request_context():
        counted = get_service().store.counted_ballot_indices(e.election_id)
    assert counted == [new_receipt.index]


def test_a_resend_after_closing_is_refused_but_the_lookup_recovers_it(
    election: ApiElection,
) -> None:
    e = election
    ballot, _ = e.ballot(0)
    original = e.cast(ballot, login=e.login(0)).get_json()
    e.close()
    size = e.size()
    refused(e, e.cast(ballot, login=e.login(0)), 409, "wrong_phase", size)
    found = lookup(e, ballot.tracking_code)
    assert found.status_code == 200
    assert found.get_json()["receipt"] == original


# --- racing duplicates ----------------------------------------------------------------


def race(app: Flask, send: Callable[[Any], Any], copies: int) -> list[Any]:
    """``copies`` threads, each with its own client, send at once; their responses."""
    barrier = threading.Barrier(copies)
    out: list[Any] = [None] * copies

    def run(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        out[n] = send(client)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(r is not None for r in out), "a sender did not finish"
    return out


def test_racing_identical_casts_give_one_entry_and_one_receipt(
    api_app: Flask, election: ApiElection
) -> None:
    e = election
    ballot, _ = e.ballot(0)
    size = e.size()
    headers = {"Authorization": f"Bearer {e.login(0)}"}
    answers = race(
        api_app,
        lambda c: c.post(f"{e.url}/ballots", json=ballot.to_json(), headers=headers),
        6,
    )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * 5 + [201], [r.get_json() for r in answers]
    bodies = [r.get_json() for r in answers]
    assert all(b == bodies[0] for b in bodies)
    assert e.size() == size + 1
    entries = e.entries()
    verify_chain(entries)
    assert sum(1 for x in entries if x.payload.get("ballot") == ballot.to_json()) == 1
    Receipt.from_json(bodies[0]).verify(e.board_key)


def test_identical_casts_in_one_batch_share_the_entry_and_head(
    api_app: Flask, election: ApiElection
) -> None:
    """Group commit: the same ballot twice in one batch (and a third voter between) is
    appended once; the copy is answered from the first one's entry and head."""
    e = election
    ballot, other = e.ballot(0)[0], e.ballot(1)[0]
    size = e.size()
    with api_app.test_request_context():
        svc = get_service()

        def pending(voter: int, b: Ballot) -> PendingCast:
            return pending_cast(svc.authenticate(e.election_id, "Bearer " + e.login(voter)), b)

        casts = [pending(0, ballot), pending(1, other), pending(0, ballot)]
        svc._write_casts(e.election_id, casts)
        first, between, copy = (c.outcome() for c in casts)
    assert not first.resent and not between.resent and copy.resent
    assert copy.entry == first.entry and copy.head == first.head and copy.proof == first.proof
    assert between.entry.index == size + 1
    assert e.size() == size + 2


# --- audits ------------------------------------------------------------------------------


def test_an_audit_sent_again_gets_its_original_receipt(
    api_app: Flask, election: ApiElection
) -> None:
    e = election
    ballot, secrets = e.ballot(0)
    audited = AuditedBallot.from_secrets(ballot, secrets)
    first = e.audit(audited, login=e.login(0))
    assert first.status_code == 201
    e.cast_ok(1)
    size, signed = e.size(), heads(api_app, e)
    again = e.audit(audited, login=e.login(0))
    assert again.status_code == 200, again.get_json()
    assert again.get_json() == first.get_json()
    assert e.size() == size and heads(api_app, e) == signed
    # Its ciphertexts still can never be cast.
    refused(e, e.cast(ballot, login=e.login(0)), 409, "duplicate_ciphertext", size)


def test_an_audit_resent_by_another_voters_login_is_refused(election: ApiElection) -> None:
    """Audits record no login, so the binding decides: once credential 0 belongs to
    login 0, another login re-posting its audit is refused as before."""
    e = election
    ballot, secrets = e.ballot(0)
    audited = AuditedBallot.from_secrets(ballot, secrets)
    original = e.audit(audited, login=e.login(0)).get_json()
    e.cast_ok(0)  # binds credential 0 to login 0
    e.cast_ok(1)  # binds login 1 to credential 1
    size = e.size()
    refused(e, e.audit(audited, login=e.login(1)), 409, "duplicate_ciphertext", size)
    refused(e, e.audit(audited, login=e.login(2)), 409, "duplicate_ciphertext", size)
    again = e.audit(audited, login=e.login(0))
    assert again.status_code == 200 and again.get_json() == original


def test_a_cast_ballot_still_cannot_be_audited(election: ApiElection) -> None:
    """Never a resend: the audit of a cast ballot would publish a counted vote."""
    e = election
    ballot, secrets = e.ballot(0)
    assert e.cast(ballot, login=e.login(0)).status_code == 201
    size = e.size()
    audited = AuditedBallot.from_secrets(ballot, secrets)
    refused(e, e.audit(audited, login=e.login(0)), 409, "duplicate_ciphertext", size)


def test_an_audited_ballot_still_cannot_be_cast(election: ApiElection) -> None:
    e = election
    ballot, secrets = e.ballot(0)
    assert e.audit(AuditedBallot.from_secrets(ballot, secrets), login=e.login(0)).status_code == 201
    size = e.size()
    refused(e, e.cast(ballot, login=e.login(0)), 409, "duplicate_ciphertext", size)


def test_racing_identical_audits_give_one_entry(api_app: Flask, election: ApiElection) -> None:
    e = election
    ballot, secrets = e.ballot(0)
    doc = AuditedBallot.from_secrets(ballot, secrets).to_json()
    size = e.size()
    headers = {"Authorization": f"Bearer {e.login(0)}"}
    answers = race(api_app, lambda c: c.post(f"{e.url}/audits", json=doc, headers=headers), 4)
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 201]
    assert all(r.get_json() == answers[0].get_json() for r in answers)
    assert e.size() == size + 1


# --- the lookup by tracking code -------------------------------------------------------


def test_the_lookup_gives_the_entry_and_the_original_receipt(election: ApiElection) -> None:
    e = election
    ballot, _ = e.ballot(0)
    original = e.cast(ballot, login=e.login(0)).get_json()
    e.cast_ok(1)
    found = lookup(e, ballot.tracking_code)
    assert found.status_code == 200
    body = found.get_json()
    assert set(body) == {"entry", "receipt"}
    assert body["receipt"] == original
    receipt = Receipt.from_json(body["receipt"])
    receipt.verify(e.board_key)
    entry = Entry.from_json(body["entry"])
    receipt.verify_entry(entry)
    assert entry.kind == BALLOT_CAST and entry.payload == {"ballot": ballot.to_json()}
    assert entry == e.entries()[receipt.index]


def test_the_lookup_of_an_audited_ballot(election: ApiElection) -> None:
    e = election
    ballot, secrets = e.ballot(2)
    audited = AuditedBallot.from_secrets(ballot, secrets)
    original = e.audit(audited, login=e.login(2)).get_json()
    body = lookup(e, ballot.tracking_code).get_json()
    assert body["receipt"] == original
    assert body["entry"]["kind"] == BALLOT_AUDITED
    assert body["entry"]["payload"] == {"audited": audited.to_json()}


def test_the_lookup_of_an_unknown_tracking_code_is_404(election: ApiElection) -> None:
    e = election
    ballot, _ = e.ballot(0)  # never sent
    for code in (ballot.tracking_code, "x" * 201, "a%00b"):
        response = lookup(e, code)
        assert response.status_code == 404, code
        assert response.get_json()["code"] == "not_found"
    response = e.client.get(f"{api_election.API}/elections/no-such-poll/ballots/ABCD/receipt")
    assert response.status_code == 404


def test_every_answer_of_a_resend_is_error_free(election: ApiElection) -> None:
    """The 200 of a resend is still the API's JSON with its headers (no 5xx, no HTML)."""
    e = election
    ballot, _ = e.ballot(0)
    e.cast(ballot, login=e.login(0))
    again = e.cast(ballot, login=e.login(0))
    assert again.status_code == 200
    assert again.headers["Content-Type"].startswith("application/json")
    assert again.headers["Cache-Control"] == "no-store"
    Receipt.from_json(again.get_json()).verify(e.board_key)


# --- witnessed elections -------------------------------------------------------------------


def test_a_resend_in_a_witnessed_election_keeps_the_receipt_checkpoint_before_the_ballot(
    api_client,
) -> None:
    """The attached cosigned checkpoint of a receipt never includes its ballot
    (docs/api.md §5): a resend made after the witnesses cosigned a checkpoint that does
    include it still attaches one that precedes it; the signed statement is unchanged."""
    from evote.checkpoint import Checkpoint, Note
    from tests.api_election import MANIFEST, build_election
    from tests.test_witness_api import POLICY, checkpoint, cosign_line, post

    e = build_election(api_client, manifest={**MANIFEST, "witnesses": POLICY.to_json()})

    def cosign_now() -> int:
        text = checkpoint(e)["checkpoint"]
        for i in (0, 1):
            assert post(e, text, cosign_line(text, i)).status_code == 200
        return Checkpoint.parse(Note.parse(text).text).size

    before = cosign_now()
    ballot, _ = e.ballot(0)
    first = e.cast(ballot, login=e.login(0)).get_json()
    index = first["index"]
    assert before == index
    assert cosign_now() == index + 1  # the witnesses now cosigned a tree with the ballot

    for answer in (e.cast(ballot, login=e.login(0)).get_json(),
                   lookup(e, ballot.tracking_code).get_json()["receipt"]):
        note = answer.pop("cosigned_checkpoint")
        assert Checkpoint.parse(Note.parse(note).text).size <= index
        assert answer == {k: v for k, v in first.items() if k != "cosigned_checkpoint"}


# --- random sequences of sends, resends and copies, in random batches ----------------------


def test_random_sends_and_resends_in_random_batches(api_app: Flask, api_client) -> None:
    """Hypothesis drives sequences of new ballots, resends of earlier ones (by their
    login, or by another login) split into random group-commit batches, on one board.
    Invariants: every ballot is on the board at most once; every answer to the same
    ballot from its own login is the same entry and head; a copy under another login is
    refused with ``binding``; the chain stays one chain."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from evote.errors import BindingError
    from tests.api_election import build_election

    e = build_election(api_client, voters=3)
    first_answer: dict[str, tuple[int, Any]] = {}  # tracking code -> (index, head)
    ballots: list[tuple[int, Ballot]] = []

    op = st.one_of(
        st.tuples(st.just("new"), st.integers(0, 2)),
        st.tuples(st.just("again"), st.integers(0, 50)),
        st.tuples(st.just("other_login"), st.integers(0, 50)),
    )

    @settings(max_examples=15, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(ops=st.lists(op, min_size=1, max_size=6), cuts=st.lists(st.booleans(), max_size=6))
    def run(ops: list[tuple[str, int]], cuts: list[bool]) -> None:
        size = e.size()
        with api_app.test_request_context():
            svc = get_service()
            casts: list[tuple[str, int, Ballot, PendingCast]] = []
            for kind, n in ops:
                if kind == "new" or not ballots:
                    voter = n % 3
                    ballot = e.ballot(voter)[0]
                    ballots.append((voter, ballot))
                    login_of = voter
                else:
                    voter, ballot = ballots[n % len(ballots)]
                    login_of = voter if kind == "again" else (voter + 1) % 3
                login = svc.authenticate(e.election_id, "Bearer " + e.login(login_of))
                casts.append((kind if kind != "new" else "again", voter, ballot,
                              pending_cast(login, ballot)))
            batch: list[PendingCast] = []
            for i, (_, _, _, cast) in enumerate(casts):
                batch.append(cast)
                if i < len(cuts) and cuts[i]:
                    svc._write_casts(e.election_id, batch)
                    batch = []
            if batch:
                svc._write_casts(e.election_id, batch)
        for kind, _voter, ballot, cast in casts:
            try:
                w = cast.outcome()
            except BindingError:
                assert kind == "other_login"
                continue
            assert kind == "again"
            seen = first_answer.setdefault(ballot.tracking_code, (w.entry.index, w.head))
            assert (w.entry.index, w.head) == seen
        entries = e.entries()
        verify_chain(entries)
        on_board = [x.payload["ballot"]["signature"] for x in entries if x.kind == BALLOT_CAST]
        assert len(on_board) == len(set(on_board))  # no ballot twice
        appended = {code for code, (index, _) in first_answer.items() if index >= size}
        assert e.size() - size == len(appended)  # one entry per ballot new in this run

    run()

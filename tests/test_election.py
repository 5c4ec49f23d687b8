"""The lifecycle table: every kind in every phase, legal or refused by name."""

from __future__ import annotations

import pytest

from evote.election import ALLOWED, KINDS, ElectionState, Phase
from evote.errors import LifecycleError
from evote.kinds import MIX_KINDS  # the mixnet's kinds: closed phase only (R-PHASE-03)

TRUSTEE = [  # the key ceremony's kinds (their order is the rulebook's, R-DKG-*)
    "trustee_announced",
    "trustee_committed",
    "trustee_shares",
    "trustee_complaint",
    "trustee_complaint_answer",
    "ceremony_qualified",
    "ceremony_reconstruct",
    "trustee_reconstruction",
]

# Representative states, each with the kinds the rules in the brief allow there
# (written out by hand, not derived from the table under test).
STATES: dict[str, tuple[list[str], set[str]]] = {
    "empty": ([], {"election_created"}),
    "setup": (
        ["election_created"],
        set(TRUSTEE) | {"key_published", "credentials_published", "election_abandoned"},
    ),
    "setup-key-only": (
        ["election_created", "trustee_announced", "key_published"],
        set(TRUSTEE) | {"credentials_published", "election_abandoned"},
    ),
    "setup-credentials-only": (
        ["election_created", "credentials_published"],
        set(TRUSTEE) | {"key_published", "credentials_published", "election_abandoned"},
    ),
    "setup-ready": (
        ["election_created", "key_published", "credentials_published"],
        set(TRUSTEE) | {"credentials_published", "election_opened", "election_abandoned"},
    ),
    "abandoned": (
        ["election_created", "trustee_announced", "election_abandoned"],
        set(),
    ),
    "open": (
        ["election_created", "key_published", "credentials_published", "election_opened"],
        {"ballot_cast", "ballot_audited", "election_closed"},
    ),
    "open-with-ballots": (
        [
            "election_created",
            "credentials_published",
            "key_published",
            "election_opened",
            "ballot_cast",
            "ballot_audited",
            "ballot_cast",
        ],
        {"ballot_cast", "ballot_audited", "election_closed"},
    ),
    "closed": (
        [
            "election_created",
            "key_published",
            "credentials_published",
            "election_opened",
            "election_closed",
        ],
        {"tally_posted", *MIX_KINDS},
    ),
    "tally-posted": (
        [
            "election_created",
            "key_published",
            "credentials_published",
            "election_opened",
            "election_closed",
            "tally_posted",
        ],
        {"partial_decryption", "result_published", *MIX_KINDS},
    ),
    "tallied": (
        [
            "election_created",
            "key_published",
            "credentials_published",
            "election_opened",
            "ballot_cast",
            "election_closed",
            "tally_posted",
            "partial_decryption",
            "partial_decryption",
            "result_published",
        ],
        set(),
    ),
}

PHASE_AFTER = {
    "empty": None,
    "setup": Phase.SETUP,
    "setup-key-only": Phase.SETUP,
    "setup-credentials-only": Phase.SETUP,
    "setup-ready": Phase.SETUP,
    "open": Phase.OPEN,
    "open-with-ballots": Phase.OPEN,
    "closed": Phase.CLOSED,
    "tally-posted": Phase.CLOSED,
    "tallied": Phase.TALLIED,
    "abandoned": Phase.ABANDONED,
}


@pytest.mark.parametrize("name", STATES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_in_every_state(name, kind):
    history, legal = STATES[name]
    state = ElectionState.replay(history)
    assert state.phase is PHASE_AFTER[name]
    assert state.allowed_kinds() == legal
    if kind in legal:
        after = state.apply(kind)
        assert kind in after.seen
        return
    with pytest.raises(LifecycleError) as exc:
        state.apply(kind)
    phase = "none" if state.phase is None else state.phase.value
    assert kind in exc.value.message and phase in exc.value.message
    assert exc.value.code == "wrong_phase" and exc.value.http_status == 409


def test_transitions():
    state = ElectionState()
    assert state.apply("election_created").phase is Phase.SETUP
    ready = ElectionState.replay(["election_created", "key_published", "credentials_published"])
    assert ready.apply("election_opened").phase is Phase.OPEN
    opened = ready.apply("election_opened")
    assert opened.apply("election_closed").phase is Phase.CLOSED
    closed = opened.apply("election_closed").apply("tally_posted")
    assert closed.apply("result_published").phase is Phase.TALLIED


def test_specific_messages():
    with pytest.raises(LifecycleError, match="ballot_cast is not allowed in phase closed"):
        ElectionState.replay(STATES["closed"][0] + ["ballot_cast"])
    with pytest.raises(LifecycleError, match="election_opened .* setup before credentials_published"):
        ElectionState.replay(["election_created", "key_published", "election_opened"])
    with pytest.raises(LifecycleError, match="before credentials_published and key_published"):
        ElectionState.replay(["election_created", "election_opened"])
    with pytest.raises(LifecycleError, match="partial_decryption .* closed before tally_posted"):
        ElectionState.replay(STATES["closed"][0] + ["partial_decryption"])
    with pytest.raises(LifecycleError, match="election_created is not allowed in phase setup"):
        ElectionState.replay(["election_created", "election_created"])
    with pytest.raises(LifecycleError, match="key_published is not allowed twice"):
        ElectionState.replay(["election_created", "key_published", "key_published"])
    with pytest.raises(LifecycleError, match="tally_posted is not allowed twice"):
        ElectionState.replay(STATES["tally-posted"][0] + ["tally_posted"])
    with pytest.raises(LifecycleError, match="unknown entry kind 'vote' in phase open"):
        ElectionState.replay(STATES["open"][0] + ["vote"])
    with pytest.raises(LifecycleError, match="ballot_cast is not allowed in phase none"):
        ElectionState().apply("ballot_cast")


def test_table_covers_every_kind_once():
    listed = [kind for moves in ALLOWED.values() for kind in moves]
    assert sorted(listed) == sorted(KINDS) and len(set(listed)) == len(listed)
    assert ALLOWED[Phase.TALLIED] == {}

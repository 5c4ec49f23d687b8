"""The retry loop of ``evote vote`` (cli/sending.py) over random sequences of network
outcomes: each send may be lost before the server, committed with its answer lost,
refused with 503, or answered; each lookup may fail, find nothing, or find the ballot.

The "server" here is a tiny board that holds the one ballot at most once, as the real
one does (that part is tested against the real server in tests/server/test_api_resend.py and
tests/cli/test_vote_faults.py); what is tested is the client's loop: it ends with the
board's receipt whenever the board has the ballot and someone answers, it raises
OutcomeUnknown only when nothing answered, it stops at a certain refusal, and it
waits between attempts with bounded back-off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.client import ServerUnreachable
from cli.sending import OutcomeUnknown, RetryPolicy, deliver
from evote.errors import AuthenticationError, BoardError, ServiceUnavailable

SEND = st.sampled_from(["lost_before", "committed_lost", "unavailable", "answered", "refused"])
LOOK = st.sampled_from(["unreachable", "answered"])


@dataclass
class Board:
    """The server's side: the ballot is on it at most once."""

    sends: list[str]
    looks: list[str]
    on_board: bool = False
    log: list[str] = field(default_factory=list)

    def send(self) -> object:
        outcome = self.sends.pop(0) if self.sends else "answered"
        self.log.append(f"send:{outcome}")
        if outcome == "lost_before":
            raise ServerUnreachable("connection reset")
        if outcome == "unavailable":
            raise ServiceUnavailable("lock timeout")
        if outcome == "refused":
            raise AuthenticationError("unknown voter login")
        self.on_board = True
        if outcome == "committed_lost":
            raise ServerUnreachable("server disconnected without sending a response")
        return "receipt"

    def lookup(self) -> object | None:
        outcome = self.looks.pop(0) if self.looks else "answered"
        self.log.append(f"look:{outcome}")
        if outcome == "unreachable":
            raise ServerUnreachable("connection refused")
        return "receipt" if self.on_board else None


def run(board: Board, policy: RetryPolicy, waits: list[float]) -> object:
    return deliver(
        board.send,  # type: ignore[arg-type]
        board.lookup,  # type: ignore[arg-type]
        lambda r: None if r == "receipt" else (_ for _ in ()).throw(BoardError("bad")),
        tracking_code="ABCD-EFGH-JKMN-PQRS",
        policy=policy,
        sleep=waits.append,
    )


@settings(max_examples=300, deadline=None)
@given(sends=st.lists(SEND, max_size=8), looks=st.lists(LOOK, max_size=8),
       attempts=st.integers(1, 6))
def test_random_network_outcomes(sends: list[str], looks: list[str], attempts: int) -> None:
    board = Board(list(sends), list(looks))
    policy = RetryPolicy(attempts=attempts, first_delay=0.5, max_delay=4.0)
    waits: list[float] = []
    try:
        result = run(board, policy, waits)
    except OutcomeUnknown as exc:
        # Nothing answered for certain: every send left the outcome open (or a refusal
        # followed one and the board could not be asked), and the board, if it answered
        # at the end, did not have the ballot.
        sent = [x for x in board.log if x.startswith("send:")]
        uncertain = ("send:lost_before", "send:committed_lost", "send:unavailable")
        assert all(x in uncertain for x in sent[:-1]) and sent[0] in uncertain
        assert board.log[-1] == "look:unreachable" or not board.on_board
        assert exc.detail == {"tracking_code": "ABCD-EFGH-JKMN-PQRS"}
    except AuthenticationError:
        # A certain refusal: either nothing was uncertain before it, or the board
        # answered that it does not hold the ballot.
        assert board.log[-1] == "send:refused" or (
            board.log[-1] == "look:answered" and not board.on_board
        )
    else:
        assert result == "receipt" and board.on_board
    sends_made = sum(1 for x in board.log if x.startswith("send:"))
    assert sends_made <= attempts
    assert len(waits) <= attempts - 1
    assert all(0 <= w <= policy.max_delay for w in waits)


def test_a_lost_answer_is_recovered_from_the_board_without_a_resend() -> None:
    board = Board(["committed_lost"], ["answered"])
    waits: list[float] = []
    assert run(board, RetryPolicy(), waits) == "receipt"
    assert board.log == ["send:committed_lost", "look:answered"]
    assert waits == []


def test_a_refusal_after_a_lost_answer_asks_the_board_first() -> None:
    """The first send committed but its answer was lost; the resend is refused (say the
    election closed meanwhile): the board still has the ballot, so that is the answer."""
    board = Board(["committed_lost", "refused"], ["unreachable", "answered"])
    assert run(board, RetryPolicy(), []) == "receipt"


def test_a_certain_refusal_is_not_retried() -> None:
    board = Board(["refused"], [])
    with pytest.raises(AuthenticationError):
        run(board, RetryPolicy(), [])
    assert board.log == ["send:refused"]


def test_a_wrong_receipt_is_an_alarm_not_a_retry() -> None:
    def send() -> str:
        return "forged"

    with pytest.raises(BoardError):
        deliver(send, lambda: None,  # type: ignore[arg-type]
                lambda r: (_ for _ in ()).throw(BoardError("the server's receipt is for another ballot")),
                tracking_code="X", policy=RetryPolicy(), sleep=lambda _s: None)


def test_back_off_doubles_and_honours_retry_after() -> None:
    policy = RetryPolicy(attempts=6, first_delay=1.0, max_delay=8.0)
    for failures, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 8.0)):
        for _ in range(50):
            assert ceiling / 2 <= policy.delay(failures) <= ceiling
    assert policy.delay(1, at_least=30.0) == 30.0
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)

"""Sending a signed ballot over an unreliable network, and ending with its receipt.

A voter's answer can be lost after the server has committed the ballot (a
dropped connection, a timeout, a proxy's 502).  The client then does not know
whether its ballot is on the board.  What it must never do is encrypt the
choices again (a second ballot) or audit the ballot (that would publish the
randomness of a ballot that may be counted).  What it does, with back-off:

1. send **the same bytes** again -- the server answers a ballot already on the
   board with its original receipt (docs/api.md §5.1), so a resend is safe;
2. before each resend, look the ballot's tracking code up on the board
   (docs/api.md §5.2): if it is there, its receipt is taken from the board;
3. every receipt, whichever way it came, is checked (signature, inclusion
   proof, the entry holds exactly this ballot) before it is believed.

If neither answers after the last attempt, :class:`OutcomeUnknown` says so
with the tracking code: the voter can look it up later or run ``evote vote
--resend`` with the saved ballot file; nothing has been revealed.

A refusal that is certain (4xx: wrong login, election closed, binding) ends
the loop at once -- unless an earlier send's outcome was unknown, in which case
the board is asked once more first (the earlier send may have made it).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from cli.client import ServerError, ServerUnreachable
from cli.console import note
from evote.board import Receipt
from evote.errors import EvoteError, RateLimited, ServiceUnavailable

UNCERTAIN: tuple[type[EvoteError], ...] = (
    ServerUnreachable,
    ServerError,
    ServiceUnavailable,
    RateLimited,
)
"""Failures after which the ballot may or may not be on the board."""


class OutcomeUnknown(EvoteError):
    """Every attempt to send the ballot or find it on the board failed: the voter does
    not know whether it arrived (it was not revealed either way)."""

    code = "outcome_unknown"
    http_status = 503


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to resend: ``attempts`` sends in all, waiting
    ``first_delay`` seconds after the first failure, doubling up to ``max_delay``
    (each wait drawn between half and all of that, so that many voters cut off
    together do not come back together)."""

    attempts: int = 6
    first_delay: float = 0.5
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.first_delay < 0 or self.max_delay < self.first_delay:
            raise ValueError("attempts >= 1 and 0 <= first_delay <= max_delay")

    def delay(self, failures: int, at_least: float = 0.0) -> float:
        """Seconds to wait after ``failures`` failed sends (``at_least``: a Retry-After)."""
        ceiling = min(self.max_delay, self.first_delay * 2 ** max(failures - 1, 0))
        jittered = ceiling * (0.5 + secrets.randbelow(1001) / 2000)
        return max(jittered, at_least)


Send = Callable[[], Receipt]
Lookup = Callable[[], Receipt | None]
Check = Callable[[Receipt], None]


def deliver(
    send: Send,
    lookup: Lookup,
    check: Check,
    *,
    tracking_code: str,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
) -> Receipt:
    """Send one signed ballot until a checked receipt is had (see the module docstring).

    ``send`` posts the same bytes every time; ``lookup`` asks the board for the
    ballot by its tracking code (None: not there); ``check`` raises unless a
    receipt is for exactly this ballot.  A lookup that fails is "not found yet".
    """
    unknown: EvoteError | None = None  # the last failure that left the outcome open
    for attempt in range(policy.attempts):
        if unknown is not None:
            found = _look_up(lookup)
            if found is not None:
                check(found)
                note(f"your ballot {tracking_code} is on the board; its receipt was recovered")
                return found
            wait = policy.delay(attempt, _retry_after(unknown))
            note(f"sending the same ballot again in {wait:.1f} s (attempt {attempt + 1} "
                 f"of {policy.attempts})")
            sleep(wait)
        try:
            receipt = send()
        except UNCERTAIN as exc:
            unknown = exc
            note(f"no answer to the ballot ({exc.message})")
            continue
        except EvoteError as refusal:
            if unknown is None:
                raise
            # An earlier send may have arrived after all: only the board can say.
            try:
                found = lookup()
            except UNCERTAIN as exc:
                raise _unknown(tracking_code, exc, asked=False) from refusal
            if found is None:
                raise
            check(found)
            return found
        check(receipt)
        return receipt
    try:
        found = lookup()
    except UNCERTAIN:
        found, asked = None, False
    else:
        asked = True
    if found is not None:
        check(found)
        return found
    assert unknown is not None
    raise _unknown(tracking_code, unknown, asked=asked)


def _unknown(tracking_code: str, cause: EvoteError, *, asked: bool) -> OutcomeUnknown:
    board = (
        "the board does not show it yet"
        if asked
        else "the board could not be asked either"
    )
    return OutcomeUnknown(
        f"the ballot with tracking code {tracking_code} was sent but no answer came back "
        f"({cause.message}), and {board}. It may or may not have arrived; nothing was "
        "revealed. Look it up later by its tracking code (`evote receipt fetch "
        f"{tracking_code} --election ...`), or send the very same ballot again with "
        "`evote vote --resend`.",
        detail={"tracking_code": tracking_code},
    )


def _look_up(lookup: Lookup) -> Receipt | None:
    """A look-up that fails counts as "not found yet" (the loop goes on)."""
    try:
        return lookup()
    except UNCERTAIN:
        return None


def _retry_after(exc: EvoteError) -> float:
    return float(exc.retry_after) if isinstance(exc, RateLimited) else 0.0

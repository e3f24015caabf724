"""What every transport shares: the receipt of a send, and the signal to try again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from . import __version__

USER_AGENT = f"herald-python/{__version__}"


@dataclass(frozen=True)
class Receipt:
    """What the hub took: the events' ids, how many it accepted, and how many of those its
    formatter then dropped (logged by the hub; sending them again fails the same way). The
    stream transport also gives the entries' stream ids, the webhook none."""

    ids: List[str]
    accepted: int
    dropped: int = 0
    entries: Tuple[str, ...] = ()


class TryAgain(Exception):
    """One attempt failed in a way that a later attempt may not: 503, 504, a timeout, a lost
    connection. `retry_after` is the hub's own delay in seconds, when it named one."""

    def __init__(self, reason: str, retry_after: Optional[float] = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after

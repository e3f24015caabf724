"""When to try again: within a bounded total time, after the hub's Retry-After when it gives
one, else after a short back-off that doubles."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class RetryPolicy:
    """`total`: seconds that every attempt and wait of one send may take together (0: a single
    attempt). `first_delay` doubles after each failure up to `max_delay`, with jitter, unless
    the hub names its own delay (Retry-After)."""

    total: float = 15.0
    first_delay: float = 0.1
    max_delay: float = 2.0

    def start(self, clock: Callable[[], float] = time.monotonic) -> "Attempts":
        return Attempts(self, clock)


class Attempts:
    """The retry state of one send."""

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float]) -> None:
        self.policy = policy
        self.clock = clock
        self.deadline = clock() + policy.total
        self.count = 0
        self._delay = policy.first_delay

    def remaining(self) -> float:
        return max(0.0, self.deadline - self.clock())

    def next_delay(self, retry_after: Optional[float] = None) -> Optional[float]:
        """Seconds to wait before the next attempt, or None when it would end past the deadline.
        Called after each failed attempt."""
        self.count += 1
        if retry_after is not None:
            delay = retry_after
        else:
            delay = self._delay * random.uniform(0.5, 1.0)
            self._delay = min(self._delay * 2, self.policy.max_delay)
        if delay >= self.remaining():
            return None
        return delay


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """Retry-After as seconds: a number of seconds, or an HTTP date; None when absent or
    malformed."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())

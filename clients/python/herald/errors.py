"""The exceptions of the herald package: each names what was refused and why."""

from __future__ import annotations

from typing import Optional, Sequence


class HeraldError(Exception):
    """Base class of every error the package raises.

    `events` names the events concerned, as "event_type id" strings (empty when the error is not
    about particular events, such as a bad setting)."""

    def __init__(self, message: str, events: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.events = tuple(events)


class ConfigurationError(HeraldError):
    """A client or a Django setting is wrong (unknown key, missing URL, bad value)."""


class InvalidEvent(HeraldError, ValueError):
    """An event was refused before anything was sent: a field is missing, has the wrong type, or
    cannot be encoded as JSON. The message names the field."""


class Refused(HeraldError):
    """The hub (or Redis) answered, and refused the request; sending it again as it is fails
    again. `status` is the HTTP status (0 for Redis), `reason` the hub's own explanation and
    `index` the position of the refused event in a batch, when the hub named one."""

    def __init__(self, message: str, events: Sequence[str] = (), *, status: int = 0,
                 reason: str = "", index: Optional[int] = None) -> None:
        super().__init__(message, events)
        self.status = status
        self.reason = reason
        self.index = index


class AuthenticationFailed(Refused):
    """The credentials were refused: a wrong or missing bearer token or HMAC secret (HTTP 401),
    or a Redis password or ACL user that Redis refused."""


class Unavailable(HeraldError):
    """The hub could not be reached, or kept answering "try again later" (503, 504, a timeout,
    a lost connection), until the time allowed for retries ran out. After a 504 or a lost
    answer the hub may have taken the events all the same: send them again with the same ids
    (`Batch` keeps them), so that the hub can drop the duplicates."""

    def __init__(self, message: str, events: Sequence[str] = (), *, attempts: int = 0) -> None:
        super().__init__(message, events)
        self.attempts = attempts

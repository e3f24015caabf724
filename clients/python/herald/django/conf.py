"""herald.django's settings: the HERALD dict of the project's settings, checked."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping, Optional

from ..errors import ConfigurationError
from ..stream import DEFAULT_FIELD, DEFAULT_MAXLEN, DEFAULT_STREAM, DEFAULT_URL

# A user id no real user has (the largest integer JSON keeps exact): herald_check's event goes
# to this user's room, which nobody joins.
CHECK_USER = 2 ** 53 - 1


@dataclass(frozen=True)
class Settings:
    TRANSPORT: str = "webhook"  # "webhook" or "stream"
    # webhook
    URL: str = "http://127.0.0.1:8001/events"
    TOKEN: Optional[str] = None
    HMAC_SECRET: Optional[str] = None
    # stream
    REDIS_URL: str = DEFAULT_URL
    REDIS_PASSWORD: Optional[str] = None
    STREAM: str = DEFAULT_STREAM
    FIELD: str = DEFAULT_FIELD
    MAXLEN: Optional[int] = DEFAULT_MAXLEN
    # both
    TIMEOUT: float = 5.0  # seconds per attempt
    RETRY_FOR: float = 15.0  # seconds for all the attempts of one send
    ON_COMMIT: bool = True  # send once the transaction commits
    DATABASE: Optional[str] = None  # the connection whose commit counts (None: default)
    BACKGROUND: bool = False  # send from a background thread
    QUEUE_SIZE: int = 1000  # batches the background thread may hold
    CHECK_USER: int = CHECK_USER
    CHECK_TIMEOUT: float = 10.0  # herald_check: how long the round trip may take


KEYS = [f.name for f in fields(Settings)]


def load(raw: Optional[Mapping[str, Any]]) -> Settings:
    """Settings from the HERALD dict; an unknown key or a wrong value raises
    ConfigurationError naming it."""
    raw = dict(raw or {})
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise ConfigurationError(f"HERALD: unknown key{'s' if len(unknown) > 1 else ''} "
                                 f"{', '.join(unknown)} (valid: {', '.join(KEYS)})")
    settings = Settings(**raw)
    if settings.TRANSPORT not in ("webhook", "stream"):
        raise ConfigurationError(f"HERALD['TRANSPORT']: must be 'webhook' or 'stream', "
                                 f"got {settings.TRANSPORT!r}")
    if settings.TRANSPORT == "webhook" and not (settings.TOKEN or settings.HMAC_SECRET):
        raise ConfigurationError("HERALD: the webhook needs TOKEN (its bearer_token) or "
                                 "HMAC_SECRET (its hmac_secret)")
    for key in ("TIMEOUT", "RETRY_FOR", "CHECK_TIMEOUT"):
        value = getattr(settings, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigurationError(f"HERALD['{key}']: must be a number of seconds >= 0, "
                                     f"got {value!r}")
    if isinstance(settings.QUEUE_SIZE, bool) or not isinstance(settings.QUEUE_SIZE, int) \
            or settings.QUEUE_SIZE < 1:
        raise ConfigurationError(f"HERALD['QUEUE_SIZE']: must be an integer >= 1, "
                                 f"got {settings.QUEUE_SIZE!r}")
    return settings

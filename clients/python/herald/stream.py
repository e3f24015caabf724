"""The Redis stream transport: events added with XADD to the stream that Herald's redis source
reads with a consumer group (plugins/redis, stream mode). Needs redis-py."""

from __future__ import annotations

import time
import urllib.parse
from typing import Any, Optional, Sequence

from .errors import AuthenticationFailed, ConfigurationError, Refused, Unavailable
from .events import Batch
from .transport import Receipt, TryAgain

DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_STREAM = "herald:events"
DEFAULT_FIELD = "event"
DEFAULT_MAXLEN = 1_000_000


def _redis() -> Any:
    try:
        import redis
    except ImportError:
        raise ConfigurationError("the stream transport needs redis-py: apt install python3-redis"
                                 " (or pip install redis)") from None
    return redis


def redact(url: str) -> str:
    """The URL without its user and password, for messages and logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def entry_key(entry: str) -> tuple:
    """A stream id "ms-seq" as a pair of ints, for comparisons."""
    ms, _, seq = entry.partition("-")
    return int(ms), int(seq or 0)


def classify(err: Exception, target: str, batch: Optional[Batch]) -> Exception:
    """The package's exception for a redis-py error: TryAgain for a connection that failed or
    timed out, AuthenticationFailed for a refused password or missing permission, Refused for
    any other error reply."""
    redis = _redis()
    names = batch.names if batch else []
    what = batch.describe() if batch else "the check"
    if isinstance(err, (redis.exceptions.AuthenticationError, redis.exceptions.NoPermissionError)):
        return AuthenticationFailed(f"{target} refused the credentials for {what}: {err}", names,
                                    reason=str(err))
    if isinstance(err, redis.exceptions.ResponseError) and \
            str(err).startswith(("NOAUTH", "WRONGPASS", "NOPERM")):
        return AuthenticationFailed(f"{target} refused the credentials for {what}: {err}", names,
                                    reason=str(err))
    if isinstance(err, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        return TryAgain(f"{type(err).__name__}: {err}")
    return Refused(f"{target} refused {what}: {err}", names, reason=str(err))


class StreamTransport:
    """Blocking transport over redis-py: a batch is one MULTI/EXEC of XADDs, all or nothing."""

    def __init__(self, url: str = DEFAULT_URL, *, stream: str = DEFAULT_STREAM,
                 field: str = DEFAULT_FIELD, maxlen: Optional[int] = DEFAULT_MAXLEN,
                 password: Optional[str] = None, timeout: float = 5.0) -> None:
        redis = _redis()
        self.stream, self.field, self.maxlen = stream, field, maxlen
        self.target = f"{redact(url)} stream {stream}"
        try:
            self.redis = redis.Redis.from_url(url, password=password, socket_timeout=timeout,
                                              socket_connect_timeout=timeout)
        except ValueError as e:
            raise ConfigurationError(f"Redis URL {redact(url)!r}: {e}") from None

    def send_once(self, batch: Batch, timeout: float) -> Receipt:
        pipe = self.redis.pipeline(transaction=True)
        for encoded in batch.encoded:
            pipe.xadd(self.stream, {self.field: encoded}, maxlen=self.maxlen,
                      approximate=self.maxlen is not None)
        try:
            entries = pipe.execute()
        except _redis().exceptions.RedisError as e:
            raise classify(e, self.target, batch) from e
        finally:
            pipe.reset()
        ids = tuple(e.decode() if isinstance(e, bytes) else str(e) for e in entries)
        return Receipt(batch.ids, len(ids), entries=ids)

    def ping(self) -> None:
        """Raises as a send would when Redis cannot be reached or refuses the credentials."""
        try:
            self.redis.ping()
        except _redis().exceptions.RedisError as e:
            err = classify(e, self.target, None)
            if isinstance(err, TryAgain):
                raise Unavailable(f"{self.target}: {err.reason}") from e
            raise err from e

    def groups(self) -> Sequence[str]:
        """The consumer groups reading the stream (each Herald instance has its own)."""
        try:
            return [g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
                    for g in self.redis.xinfo_groups(self.stream)]
        except _redis().exceptions.ResponseError:  # no such stream
            return []

    def taken(self, entry: str, group: str) -> bool:
        """Whether `group` has read `entry` and acknowledged it (Herald acknowledges an entry
        once its core took the event)."""
        info = {g["name"].decode() if isinstance(g["name"], bytes) else g["name"]: g
                for g in self.redis.xinfo_groups(self.stream)}
        last = info[group]["last-delivered-id"]
        last = last.decode() if isinstance(last, bytes) else last
        if entry_key(last) < entry_key(entry):
            return False
        return not self.redis.xpending_range(self.stream, group, min=entry, max=entry, count=1)

    def wait_taken(self, entry: str, timeout: float) -> Sequence[str]:
        """Wait until every consumer group of the stream took `entry`; returns the groups.
        Raises Refused when no group reads the stream, Unavailable when one does not take it in
        time."""
        groups = self.groups()
        if not groups:
            raise Refused(f"{self.target}: no consumer group reads the stream: is Herald's "
                          f"redis source configured with this stream, in stream mode?")
        deadline = time.monotonic() + timeout
        for group in groups:
            while not self.taken(entry, group):
                if time.monotonic() > deadline:
                    raise Unavailable(f"{self.target}: group {group} did not take entry {entry} "
                                      f"within {timeout:g} s: is the Herald reading it running?")
                time.sleep(0.05)
        return groups

    def close(self) -> None:
        self.redis.close()

"""The blocking client: publish events, or notify a project's team, a user or several users."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Iterable, Mapping, Optional, Sequence, Type

from . import events as ev
from .errors import Unavailable
from .events import Batch, HeraldJSONEncoder
from .retry import RetryPolicy
from .transport import Receipt, TryAgain

log = logging.getLogger("herald")


class Builder:
    """Turns calls into Batches; shared by Client and AsyncClient."""

    def __init__(self, encoder: Type[json.JSONEncoder] = HeraldJSONEncoder) -> None:
        self.encoder = encoder

    def batch(self, events: Sequence[Mapping[str, Any]]) -> Batch:
        return ev.prepare(events, self.encoder)

    def project_team(self, project: Any, event_type: str, actor_user: Any = None,
                     title: Optional[str] = None, message: Optional[str] = None,
                     data: Optional[Mapping[str, Any]] = None, exclude_user: Any = None,
                     timestamp: Any = None) -> Batch:
        if project is None:
            raise ev.InvalidEvent(f"{event_type}: notify_project_team needs a project")
        return self.batch([ev.build(event_type, project=project, actor_user=actor_user,
                                    title=title, message=message, data=data,
                                    exclude_user=exclude_user, timestamp=timestamp)])

    def users(self, users: Iterable[Any], event_type: str, actor_user: Any = None,
              title: Optional[str] = None, message: Optional[str] = None,
              data: Optional[Mapping[str, Any]] = None, project: Any = None,
              exclude_user: Any = None, timestamp: Any = None) -> Batch:
        return self.batch([ev.build(event_type, users=users, project=project,
                                    actor_user=actor_user, title=title, message=message,
                                    data=data, exclude_user=exclude_user, timestamp=timestamp)])


def gave_up(target: str, batch: Batch, last: TryAgain, attempts: int,
            policy: RetryPolicy) -> Unavailable:
    return Unavailable(f"{batch.describe()} not delivered to {target}: {last.reason} "
                       f"(gave up after {attempts} attempt{'s' if attempts > 1 else ''} "
                       f"within {policy.total:g} s)", batch.names, attempts=attempts)


def report(receipt: Receipt, batch: Batch) -> Receipt:
    if receipt.dropped:
        log.warning("herald: %d of %s taken but dropped by the hub's formatter (see its log)",
                    receipt.dropped, batch.describe(),
                    extra={"herald_event_ids": batch.ids})
    return receipt


class Client:
    """A blocking client over one transport (webhook or Redis stream).

    Every event gets an `id` when it is prepared, kept across the retries of its send, so that
    the hub can drop a duplicate. A send tries again after 503, 504, a timeout or a lost
    connection, waiting the hub's Retry-After when it gives one, for at most `retry.total`
    seconds in all; each attempt may take at most `timeout` seconds."""

    def __init__(self, transport: Any, *, timeout: float = 5.0,
                 retry: RetryPolicy = RetryPolicy(),
                 encoder: Type[json.JSONEncoder] = HeraldJSONEncoder) -> None:
        self.transport = transport
        self.timeout = timeout
        self.retry = retry
        self.build = Builder(encoder)

    @classmethod
    def webhook(cls, url: str, *, token: Optional[str] = None,
                hmac_secret: Optional[str] = None, **options: Any) -> "Client":
        """A client of the webhook at `url` (e.g. http://127.0.0.1:8001/events)."""
        from .webhook import WebhookTransport
        return cls(WebhookTransport(url, token, hmac_secret), **options)

    @classmethod
    def stream(cls, url: str = "redis://127.0.0.1:6379/0", *, stream: str = "herald:events",
               field: str = "event", maxlen: Optional[int] = 1_000_000,
               password: Optional[str] = None, **options: Any) -> "Client":
        """A client that adds events to the Redis stream Herald's redis source reads."""
        from .stream import StreamTransport
        transport = StreamTransport(url, stream=stream, field=field, maxlen=maxlen,
                                    password=password, timeout=options.get("timeout", 5.0))
        return cls(transport, **options)

    # -- sending

    def send(self, batch: Batch) -> Receipt:
        """Send a prepared Batch, with retries; the same Batch may be sent again after an
        Unavailable."""
        attempts = self.retry.start()
        while True:
            timeout = max(0.1, min(self.timeout, attempts.remaining()))
            try:
                return report(self.transport.send_once(batch, timeout), batch)
            except TryAgain as e:
                delay = attempts.next_delay(e.retry_after)
                if delay is None:
                    raise gave_up(self.transport.target, batch, e, attempts.count,
                                  self.retry) from None
                log.info("herald: %s: %s; trying again in %.2f s", batch.describe(), e.reason,
                         delay)
                time.sleep(delay)

    def publish(self, event: Mapping[str, Any]) -> Receipt:
        """Send one event (a dict in Herald's event format)."""
        return self.send(self.build.batch([event]))

    def publish_many(self, events: Sequence[Mapping[str, Any]]) -> Receipt:
        """Send several events in one request: all are taken, in order, or none."""
        return self.send(self.build.batch(events))

    def notify_project_team(self, project: Any, event_type: str, actor_user: Any = None,
                            title: Optional[str] = None, message: Optional[str] = None,
                            data: Optional[Mapping[str, Any]] = None,
                            exclude_user: Any = None, timestamp: Any = None) -> Receipt:
        """Notify everyone subscribed to `project` (but `exclude_user`)."""
        return self.send(self.build.project_team(project, event_type, actor_user, title,
                                                 message, data, exclude_user, timestamp))

    def notify_user(self, user: Any, event_type: str, actor_user: Any = None,
                    title: Optional[str] = None, message: Optional[str] = None,
                    data: Optional[Mapping[str, Any]] = None, project: Any = None,
                    timestamp: Any = None) -> Receipt:
        """Notify one user (every tab they have open)."""
        return self.send(self.build.users([user], event_type, actor_user, title, message, data,
                                          project, None, timestamp))

    def notify_users(self, users: Iterable[Any], event_type: str, actor_user: Any = None,
                     title: Optional[str] = None, message: Optional[str] = None,
                     data: Optional[Mapping[str, Any]] = None, project: Any = None,
                     exclude_user: Any = None, timestamp: Any = None) -> Receipt:
        """Notify each of `users` once (duplicates are removed by the hub)."""
        return self.send(self.build.users(users, event_type, actor_user, title, message, data,
                                          project, exclude_user, timestamp))

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

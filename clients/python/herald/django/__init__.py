"""Herald for Django: notify_project_team() and friends, configured by settings.HERALD.

    from herald.django import notify_project_team

Events are checked and encoded (with Django's JSON encoder) at the call, sent once the
transaction commits (nothing is sent for a rolled-back one), and a failure to send is logged
on the "herald" logger with each event's type and id. See clients/python/README.md.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Iterable, List, Mapping, Optional, Sequence

from django.conf import settings as django_settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.signals import setting_changed
from django.db import transaction
from django.utils.encoding import force_str
from django.utils.functional import Promise

from ..background import BackgroundSender, log_failure
from ..client import Client
from ..errors import HeraldError
from ..events import Batch
from ..retry import RetryPolicy
from ..transport import Receipt
from .conf import Settings, load

log = logging.getLogger("herald")

_lock = threading.Lock()
_state: dict = {}


def conf() -> Settings:
    return load(getattr(django_settings, "HERALD", None))


def make_client(settings: Settings) -> Client:
    """A Client for `settings`, with Django's JSON encoder."""
    options: dict = {"timeout": settings.TIMEOUT, "retry": RetryPolicy(total=settings.RETRY_FOR),
                     "encoder": DjangoJSONEncoder}
    if settings.TRANSPORT == "stream":
        return Client.stream(settings.REDIS_URL, stream=settings.STREAM, field=settings.FIELD,
                             maxlen=settings.MAXLEN, password=settings.REDIS_PASSWORD, **options)
    return Client.webhook(settings.URL, token=settings.TOKEN, hmac_secret=settings.HMAC_SECRET,
                          **options)


def get_client() -> Client:
    """The process' Client, made from settings.HERALD at first use (again after a change)."""
    with _lock:
        if "client" not in _state:
            _state["settings"] = conf()
            _state["client"] = make_client(_state["settings"])
        return _state["client"]


def _sender() -> BackgroundSender:
    client = get_client()
    with _lock:
        if "sender" not in _state:
            _state["sender"] = BackgroundSender(client.send, _state["settings"].QUEUE_SIZE,
                                                exit_timeout=_state["settings"].RETRY_FOR + 5)
        return _state["sender"]


def reset(**_: Any) -> None:
    """Forget the client (and flush and stop the background sender); the next call makes new
    ones from the settings. Connected to Django's setting_changed signal."""
    with _lock:
        sender, client = _state.pop("sender", None), _state.pop("client", None)
        _state.clear()
    if sender is not None:
        sender.close()
    if client is not None:
        client.close()


def _on_setting_changed(setting: str, **kwargs: Any) -> None:
    if setting == "HERALD":
        reset()


setting_changed.connect(_on_setting_changed)


def flush(timeout: Optional[float] = None) -> bool:
    """Wait until the background sender sent everything queued; True when it did in time (and
    when there is no background sender)."""
    sender = _state.get("sender")
    return True if sender is None else sender.flush(timeout)


def _deliver(batch: Batch) -> Optional[Receipt]:
    settings = _state.get("settings") or conf()
    if settings.BACKGROUND:
        _sender().submit(batch)
        return None
    try:
        return get_client().send(batch)
    except HeraldError as e:
        log_failure(batch, e)
        if settings.ON_COMMIT:
            return None  # after the commit there is no caller left to tell
        raise


def send(batch: Batch) -> List[str]:
    """Send `batch` as settings.HERALD says: after the commit (ON_COMMIT), from the background
    thread (BACKGROUND), or now. Returns the events' ids."""
    get_client()
    settings = _state["settings"]
    if settings.ON_COMMIT:
        transaction.on_commit(lambda: _deliver(batch), using=settings.DATABASE)
    else:
        _deliver(batch)
    return batch.ids


def _text(value: Any) -> Any:
    """Lazy translations (gettext_lazy) become their text now, in the caller's language."""
    return force_str(value) if isinstance(value, Promise) else value


def publish(event: Mapping[str, Any]) -> List[str]:
    """Send one event (a dict in Herald's event format); returns [its id]."""
    return send(get_client().build.batch([event]))


def publish_many(events: Sequence[Mapping[str, Any]]) -> List[str]:
    """Send several events in one request, all or nothing; returns their ids."""
    return send(get_client().build.batch(events))


def notify_project_team(project: Any, event_type: str, actor_user: Any = None,
                        title: Optional[str] = None, message: Optional[str] = None,
                        data: Optional[Mapping[str, Any]] = None, exclude_user: Any = None,
                        timestamp: Any = None) -> List[str]:
    """Notify the users subscribed to `project`, but `exclude_user`; returns [the event id]."""
    return send(get_client().build.project_team(project, event_type, actor_user, _text(title),
                                                _text(message), data, exclude_user, timestamp))


def notify_user(user: Any, event_type: str, actor_user: Any = None, title: Optional[str] = None,
                message: Optional[str] = None, data: Optional[Mapping[str, Any]] = None,
                project: Any = None, timestamp: Any = None) -> List[str]:
    """Notify one user; returns [the event id]."""
    return send(get_client().build.users([user], event_type, actor_user, _text(title),
                                         _text(message), data, project, None, timestamp))


def notify_users(users: Iterable[Any], event_type: str, actor_user: Any = None,
                 title: Optional[str] = None, message: Optional[str] = None,
                 data: Optional[Mapping[str, Any]] = None, project: Any = None,
                 exclude_user: Any = None, timestamp: Any = None) -> List[str]:
    """Notify each of `users` (a queryset, model instances or ids); returns [the event id]."""
    return send(get_client().build.users(users, event_type, actor_user, _text(title),
                                         _text(message), data, project, exclude_user,
                                         timestamp))

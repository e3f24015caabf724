"""Events: built from model instances or plain values, checked, given an id, encoded once.

An event is a dict in the format of Herald's plugins/README.md. Everything here runs at the call
site, before anything is sent, so that a bad value raises where it was written (and, in Django,
before the transaction commits), never later in a background thread.
"""

from __future__ import annotations

import datetime
import decimal
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Type

from .errors import InvalidEvent

Event = Dict[str, Any]

EVENT_TYPE = re.compile(r"[a-z0-9_]{1,64}\Z")
ID_MAX_BYTES = 128
USERS_MAX = 10000
USER_FIELDS = ("id", "username", "first_name", "last_name")


class HeraldJSONEncoder(json.JSONEncoder):
    """JSON for the values back ends hold: datetimes, dates and times (ISO 8601), UUIDs (their
    string) and Decimals (their exact digits, as a string). Django users get Django's own
    encoder instead (herald.django), which also knows lazy translations."""

    def default(self, o: Any) -> Any:
        if isinstance(o, (datetime.datetime, datetime.date, datetime.time)):
            return o.isoformat()
        if isinstance(o, uuid.UUID):
            return str(o)
        if isinstance(o, decimal.Decimal):
            return str(o)
        return super().default(o)


def new_id() -> str:
    """A fresh event id: 32 hex digits of a random UUID."""
    return uuid.uuid4().hex


def positive_id(value: Any, field: str) -> int:
    """The id of a model instance (its `.id`), of a mapping (its "id"), or an int itself."""
    if isinstance(value, Mapping):
        value = value.get("id")
    elif not isinstance(value, int):
        value = getattr(value, "id", value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidEvent(f"{field}: must be a positive integer id (or an object with one), "
                           f"got {value!r}")
    return value


def user_ref(user: Any, field: str = "actor") -> Dict[str, Any]:
    """An actor: {"id", "username", "first_name", "last_name"} from a user model, a mapping
    (copied as it is) or an id."""
    if isinstance(user, Mapping):
        ref = dict(user)
        positive_id(ref, f"{field}.id")
        return ref
    ref = {"id": positive_id(user, f"{field}.id")}
    for name in USER_FIELDS[1:]:
        value = getattr(user, name, None)
        if value is not None:
            ref[name] = value
    return ref


def project_ref(project: Any) -> Dict[str, Any]:
    """A project: {"id", "title"} from a model, a mapping (id and title kept) or an id."""
    ref: Dict[str, Any] = {"id": positive_id(project, "project.id")}
    title = project.get("title") if isinstance(project, Mapping) else getattr(project, "title",
                                                                               None)
    if title is not None:
        ref["title"] = title
    return ref


def build(event_type: str, *, project: Any = None, users: Optional[Iterable[Any]] = None,
          actor_user: Any = None, title: Optional[str] = None, message: Optional[str] = None,
          data: Optional[Mapping[str, Any]] = None, exclude_user: Any = None,
          timestamp: Any = None) -> Event:
    """An event from the arguments of notify_*(); None leaves a field out."""
    event: Event = {"event_type": event_type}
    if project is not None:
        event["project"] = project_ref(project)
    if users is not None:
        if isinstance(users, (str, bytes, Mapping)):
            raise InvalidEvent("users: must be a sequence of users or ids")
        event["users"] = [positive_id(u, f"users[{i}]") for i, u in enumerate(users)]
    if actor_user is not None:
        event["actor"] = user_ref(actor_user)
    if title is not None:
        event["title"] = title
    if message is not None:
        event["message"] = message
    if data is not None:
        event["data"] = data
    if exclude_user is not None:
        event["exclude_user"] = positive_id(exclude_user, "exclude_user")
    if timestamp is not None:
        event["timestamp"] = timestamp
    return event


def _timestamp(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidEvent("timestamp: a datetime needs a time zone (use an aware datetime)")
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str):
        return value
    raise InvalidEvent(f"timestamp: must be an aware datetime or an ISO 8601 string, "
                       f"got {type(value).__name__}")


def check(event: Mapping[str, Any]) -> Event:
    """A copy of `event`, checked as far as the client can, with its `id` (a new one when it has
    none). The hub checks again; this only makes the usual mistakes fail at the call site."""
    if not isinstance(event, Mapping):
        raise InvalidEvent(f"event: must be a mapping, got {type(event).__name__}")
    out = dict(event)
    kind = out.get("event_type")
    if not isinstance(kind, str) or not EVENT_TYPE.match(kind):
        raise InvalidEvent(f"event_type: must be 1 to 64 characters of a-z, 0-9 and _, "
                           f"got {kind!r}")
    if out.get("project") is None and out.get("users") is None:
        raise InvalidEvent(f"{kind}: needs a project or users to be delivered")
    if out.get("project") is not None:
        out["project"] = project_ref(out["project"])
    if out.get("users") is not None:
        users = out["users"]
        if isinstance(users, (str, bytes, Mapping)) or not isinstance(users, Iterable):
            raise InvalidEvent(f"{kind}: users: must be a sequence of user ids")
        out["users"] = [positive_id(u, f"users[{i}]") for i, u in enumerate(users)]
        if not 1 <= len(out["users"]) <= USERS_MAX:
            raise InvalidEvent(f"{kind}: users: must hold 1 to {USERS_MAX} users, "
                               f"got {len(out['users'])}")
    if out.get("exclude_user") is not None:
        out["exclude_user"] = positive_id(out["exclude_user"], "exclude_user")
    if out.get("actor") is not None:
        out["actor"] = user_ref(out["actor"])
    for name in ("title", "message"):
        if out.get(name) is not None and not isinstance(out[name], str):
            raise InvalidEvent(f"{kind}: {name}: must be a string, "
                               f"got {type(out[name]).__name__}")
    if out.get("data") is not None and not isinstance(out["data"], Mapping):
        raise InvalidEvent(f"{kind}: data: must be a mapping, got {type(out['data']).__name__}")
    if out.get("timestamp") is not None:
        out["timestamp"] = _timestamp(out["timestamp"])
    if out.get("id") is None:
        out["id"] = new_id()
    elif not isinstance(out["id"], str) or not 1 <= len(out["id"].encode()) <= ID_MAX_BYTES:
        raise InvalidEvent(f"{kind}: id: must be a string of 1 to {ID_MAX_BYTES} bytes")
    return out


def name(event: Mapping[str, Any]) -> str:
    """How errors and logs name an event: "milestone_created 3f2a…" (type and id)."""
    return f"{event.get('event_type')} {event.get('id')}"


@dataclass(frozen=True)
class Batch:
    """Events ready to send: checked, each with its id, each encoded once. Sending the same Batch
    again sends the same bytes, ids and idempotency key."""

    events: Tuple[Event, ...]
    encoded: Tuple[bytes, ...]  # one JSON object per event
    key: str  # the request's idempotency key: the event's id, or a new id for several events

    @property
    def ids(self) -> List[str]:
        return [e["id"] for e in self.events]

    @property
    def names(self) -> List[str]:
        return [name(e) for e in self.events]

    def body(self) -> bytes:
        """The webhook's request body: one object for one event, an array for several."""
        if len(self.encoded) == 1:
            return self.encoded[0]
        return b"[" + b",".join(self.encoded) + b"]"

    def describe(self) -> str:
        if len(self.events) == 1:
            return f"event {self.names[0]}"
        return f"{len(self.events)} events ({', '.join(self.names)})"


def prepare(events: Sequence[Mapping[str, Any]],
            encoder: Type[json.JSONEncoder] = HeraldJSONEncoder) -> Batch:
    """Check and encode `events` (at least one) into a Batch."""
    if isinstance(events, Mapping) or not events:
        raise InvalidEvent("publish_many: needs a non-empty sequence of events")
    checked = tuple(check(e) for e in events)
    encoded = []
    for event in checked:
        try:
            text = json.dumps(event, cls=encoder, ensure_ascii=False, allow_nan=False,
                              separators=(",", ":"))
        except (TypeError, ValueError) as e:
            raise InvalidEvent(f"{name(event)}: cannot be encoded as JSON: {e}",
                               [name(event)]) from e
        encoded.append(text.encode("utf-8"))
    key = checked[0]["id"] if len(checked) == 1 else new_id()
    return Batch(checked, tuple(encoded), key)

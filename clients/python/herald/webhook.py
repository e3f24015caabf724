"""The webhook transport: events POSTed to Herald's webhook source (plugins/webhook), with a
bearer token and/or an HMAC-SHA256 signature of the body, over one kept-alive connection."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import threading
import urllib.parse
from typing import Any, Dict, Mapping, Optional, Tuple

from .errors import AuthenticationFailed, ConfigurationError, Refused
from .events import Batch
from .retry import parse_retry_after
from .transport import USER_AGENT, Receipt, TryAgain

# Answers worth another attempt: the hub is busy or stopping (503), or did not confirm (504).
RETRY_STATUSES = {429, 500, 502, 503, 504}


class Endpoint:
    """A parsed webhook URL and the credentials sent with each request."""

    def __init__(self, url: str, token: Optional[str] = None,
                 hmac_secret: Optional[str] = None) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"webhook URL must be http:// or https:// with a host, "
                                     f"got {url!r}")
        self.url = url
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.token = token
        self.hmac_key = hmac_secret.encode() if hmac_secret else None

    def headers(self, batch: Batch, body: bytes) -> Dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "Idempotency-Key": batch.key,
            "User-Agent": USER_AGENT,
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.hmac_key:
            digest = hmac.new(self.hmac_key, body, hashlib.sha256).hexdigest()
            headers["X-Herald-Signature"] = f"sha256={digest}"
        return headers


def _reason(body: bytes) -> Tuple[str, Optional[int]]:
    """The hub's error text and event index from an answer's JSON body."""
    try:
        answer = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip() or "(no body)", None
    if not isinstance(answer, dict):
        return str(answer), None
    index = answer.get("index")
    return str(answer.get("error", answer)), index if isinstance(index, int) else None


def interpret(endpoint: Endpoint, batch: Batch, status: int, headers: Mapping[str, str],
              body: bytes) -> Receipt:
    """A Receipt for a 202; raises TryAgain for a passing failure, Refused (or
    AuthenticationFailed) for an answer that sending again cannot change."""
    if status == 202:
        try:
            answer: Any = json.loads(body)
        except ValueError:
            answer = {}
        accepted = answer.get("accepted", len(batch.events)) if isinstance(answer, dict) else 0
        dropped = answer.get("dropped", 0) if isinstance(answer, dict) else 0
        return Receipt(batch.ids, int(accepted), int(dropped))
    reason, index = _reason(body)
    if status in RETRY_STATUSES:
        raise TryAgain(f"{status} {reason}", parse_retry_after(headers.get("retry-after")))
    names = batch.names
    what = batch.describe()
    if index is not None and 0 <= index < len(names) and len(names) > 1:
        what = f"event {names[index]} (index {index} of {len(names)})"
    if status == 401:
        raise AuthenticationFailed(
            f"{endpoint.url} refused the credentials sent with {what}: 401 {reason} "
            f"(check the webhook's bearer token / HMAC secret)", names, status=status,
            reason=reason)
    raise Refused(f"{endpoint.url} refused {what}: {status} {reason}", names, status=status,
                  reason=reason, index=index)


class WebhookTransport:
    """Blocking transport over http.client; thread-safe (one request at a time)."""

    def __init__(self, url: str, token: Optional[str] = None,
                 hmac_secret: Optional[str] = None) -> None:
        self.endpoint = Endpoint(url, token, hmac_secret)
        self._conn: Optional[http.client.HTTPConnection] = None
        self._lock = threading.Lock()

    @property
    def target(self) -> str:
        return self.endpoint.url

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self.endpoint.https else \
                http.client.HTTPConnection
            self._conn = cls(self.endpoint.host, self.endpoint.port, timeout=timeout)
        conn = self._conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: Optional[bytes], headers: Dict[str, str],
                timeout: float) -> Tuple[int, Dict[str, str], bytes]:
        """One HTTP exchange; (status, headers with lower-case names, body). Raises TryAgain
        when the connection fails or times out."""
        with self._lock:
            try:
                conn = self._connection(timeout)
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                answer = {k.lower(): v for k, v in resp.getheaders()}
                if resp.will_close:
                    self._close()
            except (OSError, http.client.HTTPException) as e:
                self._close()
                raise TryAgain(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__) \
                    from e
        return resp.status, answer, data

    def send_once(self, batch: Batch, timeout: float) -> Receipt:
        body = batch.body()
        status, headers, data = self.request("POST", self.endpoint.path, body,
                                             self.endpoint.headers(batch, body), timeout)
        return interpret(self.endpoint, batch, status, headers, data)

    def health(self, timeout: float) -> Tuple[int, str]:
        """GET /healthz on the webhook's host and port: (status, body text)."""
        status, _, data = self.request("GET", "/healthz", None, {"User-Agent": USER_AGENT},
                                       timeout)
        return status, data.decode("utf-8", "replace")

    def close(self) -> None:
        with self._lock:
            self._close()

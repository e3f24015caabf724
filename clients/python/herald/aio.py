"""The asyncio client, for ASGI code: the same calls as herald.Client, awaited.

The webhook transport speaks HTTP/1.1 over asyncio streams (one kept-alive connection); the
stream transport uses redis-py's redis.asyncio. Neither blocks the event loop."""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple, Type

from .client import Builder, gave_up, log, report
from .events import Batch, HeraldJSONEncoder
from .retry import RetryPolicy
from .stream import DEFAULT_FIELD, DEFAULT_MAXLEN, DEFAULT_STREAM, DEFAULT_URL, _redis, \
    classify, redact
from .transport import Receipt, TryAgain
from .webhook import Endpoint, interpret

MAX_HEADER_LINES = 100


class AsyncWebhookTransport:
    """HTTP/1.1 POSTs to the webhook over asyncio streams, one request at a time."""

    def __init__(self, url: str, token: Optional[str] = None,
                 hmac_secret: Optional[str] = None) -> None:
        self.endpoint = Endpoint(url, token, hmac_secret)
        self.target = url
        self._lock: Optional[asyncio.Lock] = None  # made in the loop that first uses it
        self._reader: Optional[asyncio.StreamReader] = None
        self._writer: Optional[asyncio.StreamWriter] = None

    async def _open(self) -> Tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._writer is None or self._writer.is_closing() or self._reader is None:
            context = ssl.create_default_context() if self.endpoint.https else None
            self._reader, self._writer = await asyncio.open_connection(
                self.endpoint.host, self.endpoint.port, ssl=context)
        return self._reader, self._writer

    async def _close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    async def _exchange(self, method: str, path: str, body: bytes,
                        headers: Dict[str, str]) -> Tuple[int, Dict[str, str], bytes]:
        reader, writer = await self._open()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.endpoint.host}:{self.endpoint.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionResetError("the connection was closed before an answer")
        parts = status_line.decode("latin-1").split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ConnectionError(f"not an HTTP answer: {status_line[:80]!r}")
        answer: Dict[str, str] = {}
        for _ in range(MAX_HEADER_LINES):
            line = (await reader.readline()).decode("latin-1")
            if line in ("\r\n", "\n", ""):
                break
            name, _, value = line.partition(":")
            answer[name.strip().lower()] = value.strip()
        data = await reader.readexactly(int(answer.get("content-length", "0")))
        if answer.get("connection", "").lower() == "close":
            await self._close()
        return int(parts[1]), answer, data

    async def request(self, method: str, path: str, body: bytes, headers: Dict[str, str],
                      timeout: float) -> Tuple[int, Dict[str, str], bytes]:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            try:
                return await asyncio.wait_for(self._exchange(method, path, body, headers),
                                              timeout)
            except (OSError, EOFError, ValueError, asyncio.TimeoutError) as e:
                await self._close()
                reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                raise TryAgain(reason) from e

    async def send_once(self, batch: Batch, timeout: float) -> Receipt:
        body = batch.body()
        status, headers, data = await self.request("POST", self.endpoint.path, body,
                                                   self.endpoint.headers(batch, body), timeout)
        return interpret(self.endpoint, batch, status, headers, data)

    async def close(self) -> None:
        await self._close()


class AsyncStreamTransport:
    """XADDs with redis.asyncio, a batch in one MULTI/EXEC."""

    def __init__(self, url: str = DEFAULT_URL, *, stream: str = DEFAULT_STREAM,
                 field: str = DEFAULT_FIELD, maxlen: Optional[int] = DEFAULT_MAXLEN,
                 password: Optional[str] = None, timeout: float = 5.0) -> None:
        _redis()  # a clear error when redis-py is missing
        import redis.asyncio

        self.stream, self.field, self.maxlen = stream, field, maxlen
        self.target = f"{redact(url)} stream {stream}"
        self.redis = redis.asyncio.Redis.from_url(url, password=password,
                                                  socket_timeout=timeout,
                                                  socket_connect_timeout=timeout)

    async def send_once(self, batch: Batch, timeout: float) -> Receipt:
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for encoded in batch.encoded:
                    pipe.xadd(self.stream, {self.field: encoded}, maxlen=self.maxlen,
                              approximate=self.maxlen is not None)
                entries = await asyncio.wait_for(pipe.execute(), timeout)
        except asyncio.TimeoutError as e:
            raise TryAgain("TimeoutError: no answer from Redis in time") from e
        except _redis().exceptions.RedisError as e:
            raise classify(e, self.target, batch) from e
        ids = tuple(e.decode() if isinstance(e, bytes) else str(e) for e in entries)
        return Receipt(batch.ids, len(ids), entries=ids)

    async def close(self) -> None:
        await self.redis.close()


class AsyncClient:
    """herald.Client for asyncio: the same options, retries and errors; every call is awaited."""

    def __init__(self, transport: Any, *, timeout: float = 5.0,
                 retry: RetryPolicy = RetryPolicy(),
                 encoder: Type[json.JSONEncoder] = HeraldJSONEncoder) -> None:
        self.transport = transport
        self.timeout = timeout
        self.retry = retry
        self.build = Builder(encoder)

    @classmethod
    def webhook(cls, url: str, *, token: Optional[str] = None,
                hmac_secret: Optional[str] = None, **options: Any) -> "AsyncClient":
        return cls(AsyncWebhookTransport(url, token, hmac_secret), **options)

    @classmethod
    def stream(cls, url: str = DEFAULT_URL, *, stream: str = DEFAULT_STREAM,
               field: str = DEFAULT_FIELD, maxlen: Optional[int] = DEFAULT_MAXLEN,
               password: Optional[str] = None, **options: Any) -> "AsyncClient":
        transport = AsyncStreamTransport(url, stream=stream, field=field, maxlen=maxlen,
                                         password=password, timeout=options.get("timeout", 5.0))
        return cls(transport, **options)

    async def send(self, batch: Batch) -> Receipt:
        attempts = self.retry.start()
        while True:
            timeout = max(0.1, min(self.timeout, attempts.remaining()))
            try:
                return report(await self.transport.send_once(batch, timeout), batch)
            except TryAgain as e:
                delay = attempts.next_delay(e.retry_after)
                if delay is None:
                    raise gave_up(self.transport.target, batch, e, attempts.count,
                                  self.retry) from None
                log.info("herald: %s: %s; trying again in %.2f s", batch.describe(), e.reason,
                         delay)
                await asyncio.sleep(delay)

    async def publish(self, event: Mapping[str, Any]) -> Receipt:
        return await self.send(self.build.batch([event]))

    async def publish_many(self, events: Sequence[Mapping[str, Any]]) -> Receipt:
        return await self.send(self.build.batch(events))

    async def notify_project_team(self, project: Any, event_type: str, actor_user: Any = None,
                                  title: Optional[str] = None, message: Optional[str] = None,
                                  data: Optional[Mapping[str, Any]] = None,
                                  exclude_user: Any = None, timestamp: Any = None) -> Receipt:
        return await self.send(self.build.project_team(project, event_type, actor_user, title,
                                                       message, data, exclude_user, timestamp))

    async def notify_user(self, user: Any, event_type: str, actor_user: Any = None,
                          title: Optional[str] = None, message: Optional[str] = None,
                          data: Optional[Mapping[str, Any]] = None, project: Any = None,
                          timestamp: Any = None) -> Receipt:
        return await self.send(self.build.users([user], event_type, actor_user, title, message,
                                                data, project, None, timestamp))

    async def notify_users(self, users: Iterable[Any], event_type: str, actor_user: Any = None,
                           title: Optional[str] = None, message: Optional[str] = None,
                           data: Optional[Mapping[str, Any]] = None, project: Any = None,
                           exclude_user: Any = None, timestamp: Any = None) -> Receipt:
        return await self.send(self.build.users(users, event_type, actor_user, title, message,
                                                data, project, exclude_user, timestamp))

    async def close(self) -> None:
        await self.transport.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

"""A background sender: a bounded queue of Batches and one thread that sends them in order, so
that a request thread does not wait for the hub. Failures are logged with each event's type and
id; flush() waits until everything queued was sent (or failed), and the sender flushes itself
when the interpreter exits."""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from typing import Callable, Optional

from .errors import HeraldError
from .events import Batch

log = logging.getLogger("herald")


def log_failure(batch: Batch, err: BaseException) -> None:
    """Log a send that failed: one record per event, with its type and id."""
    for event in batch.events:
        log.error("herald: event %s %s not delivered: %s", event["event_type"], event["id"], err,
                  extra={"herald_event_type": event["event_type"],
                         "herald_event_id": event["id"]})


class BackgroundSender:
    """Sends Batches with `send` (a blocking Client.send) on its own thread.

    The queue holds at most `maxsize` batches. When it is full, submit() sends the batch in the
    caller's thread instead: slower, but nothing is dropped."""

    def __init__(self, send: Callable[[Batch], object], maxsize: int = 1000,
                 on_error: Callable[[Batch, BaseException], None] = log_failure,
                 exit_timeout: float = 30.0) -> None:
        self._send = send
        self._on_error = on_error
        self._queue: "queue.Queue[Optional[Batch]]" = queue.Queue(maxsize)
        self._thread = threading.Thread(target=self._run, name="herald-sender", daemon=True)
        self._closed = False
        self._exit_timeout = exit_timeout
        self._thread.start()
        atexit.register(self._at_exit)

    def _deliver(self, batch: Batch) -> None:
        try:
            self._send(batch)
        except HeraldError as e:
            self._on_error(batch, e)
        except Exception as e:  # a bug must not kill the thread and strand the queue
            log.exception("herald: unexpected error while sending %s", batch.describe())
            self._on_error(batch, e)

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                self._deliver(batch)
            finally:
                self._queue.task_done()

    def submit(self, batch: Batch) -> None:
        """Queue `batch`; when the queue is full, send it now in this thread."""
        if self._closed:
            raise HeraldError("the background sender is closed", batch.names)
        try:
            self._queue.put_nowait(batch)
        except queue.Full:
            log.warning("herald: background queue full (%d batches): sending %s in the "
                        "calling thread", self._queue.maxsize, batch.describe())
            self._deliver(batch)

    def pending(self) -> int:
        """Batches queued or being sent."""
        return self._queue.unfinished_tasks

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until every batch submitted so far was sent or failed; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._queue.all_tasks_done.wait(left)
        return True

    def close(self, timeout: Optional[float] = None) -> bool:
        """Flush, then stop the thread; True when everything was sent in time."""
        if self._closed:
            return True
        self._closed = True
        done = self.flush(timeout)
        if done:
            self._queue.put(None)
            self._thread.join(timeout)
        atexit.unregister(self._at_exit)
        return done

    def _at_exit(self) -> None:
        left = self.pending()
        if left and not self.close(self._exit_timeout):
            log.error("herald: %d batches not sent at exit (the hub did not take them within "
                      "%g s)", self.pending(), self._exit_timeout)

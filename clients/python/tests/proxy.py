"""A small HTTP proxy in front of a real webhook, on a free loopback port, that can answer a
request itself instead (503 with Retry-After), or forward it and then lose the answer. It
records every request it got, so a test can see what the client sent and how often."""

from __future__ import annotations

import http.client
import http.server
import json
import threading
from collections import deque
from typing import Deque, Dict, List, Tuple


class Proxy:
    """Proxy(upstream_port).start(); `plan` is a queue of actions for the next requests:
    ("503", retry_after) answers 503 itself; ("drop",) forwards, then closes the connection
    without answering; nothing queued: forward and relay the answer."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.plan: Deque[tuple] = deque()
        self.requests: List[Tuple[str, Dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self.handle_one()

            def do_POST(self):
                self.handle_one()

            def handle_one(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k: v for k, v in self.headers.items()}
                with proxy.lock:
                    proxy.requests.append((self.command, headers, body))
                    action = proxy.plan.popleft() if proxy.plan else ("forward",)
                if action[0] == "503":
                    self.answer(503, {"Retry-After": str(action[1])},
                                json.dumps({"error": "ingest queue full"}).encode())
                    return
                status, answer_headers, data = proxy.forward(self.command, self.path, headers,
                                                             body)
                if action[0] == "drop":
                    self.close_connection = True
                    return
                self.answer(status, answer_headers, data)

            def answer(self, status, headers, data):
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in ("content-length", "connection", "date", "server"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    def forward(self, method: str, path: str, headers: Dict[str, str], body: bytes):
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            keep = {k: v for k, v in headers.items() if k.lower() not in ("connection", "host")}
            conn.request(method, path, body=body if method == "POST" else None, headers=keep)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def posts(self) -> List[Tuple[Dict[str, str], bytes]]:
        with self.lock:
            return [(h, b) for m, h, b in self.requests if m == "POST"]

    def start(self) -> "Proxy":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

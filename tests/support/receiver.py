"""A real HTTP server that plays a sales system's webhook endpoint."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float
    answered: int

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class WebhookReceiver:
    """Answers with the queued statuses first (e.g. 500, 500), then with ``default_status``."""

    def __init__(self, default_status: int = 200) -> None:
        self.default_status = default_status
        self.script: deque[tuple[int, dict[str, str]]] = deque()
        self.delays: deque[float] = deque()  # seconds to stall before answering, one per request
        self.received: list[Received] = []
        self.arrivals: list[tuple[dict[str, str], float]] = []  # every request as it arrives, answered or not
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    stall = receiver.delays.popleft() if receiver.delays else 0.0
                    receiver.arrivals.append(({k.lower(): v for k, v in self.headers.items()}, time.time()))
                if stall:
                    time.sleep(stall)
                with receiver._lock:
                    status, extra = receiver.script.popleft() if receiver.script else (receiver.default_status, {})
                    receiver.received.append(
                        Received({k.lower(): v for k, v in self.headers.items()}, body, time.time(), status)
                    )
                try:
                    self.send_response(status)
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the sender is gone (killed mid-request)
                    return

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/sales"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer_next(self, *statuses: int, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            for s in statuses:
                self.script.append((s, headers or {}))

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

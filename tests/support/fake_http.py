"""What every fake model server of the tests shares: a threaded HTTP server on a free loopback port that
records each request, and answers written as SSE over chunked transfer encoding or as JSON errors."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOLD_LIMIT_S = 600.0


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)  # when it arrived


@dataclass
class FakeServer:
    """Subclasses answer in `answer(handler, method, path, body)`."""

    requests: list[RecordedRequest] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def answer(self, handler: BaseHTTPRequestHandler, method: str, path: str, body: dict[str, Any]) -> None:
        raise NotImplementedError

    def start(self) -> Any:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append(RecordedRequest(method, self.path, headers, body))
                fake.answer(self, method, self.path, body)

            def do_POST(self) -> None:
                self._handle("POST")

            def do_GET(self) -> None:
                self._handle("GET")

            def do_HEAD(self) -> None:
                self._handle("HEAD")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name=type(self).__name__, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def json_answer(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class SseStream:
    """One SSE answer with chunked transfer encoding."""

    def __init__(self, handler: BaseHTTPRequestHandler, delay_s: float, stopping: threading.Event) -> None:
        self.handler = handler
        self.delay_s = delay_s
        self.stopping = stopping

    def begin(self) -> None:
        self.handler.send_response(200)
        self.handler.send_header("content-type", "text/event-stream")
        self.handler.send_header("transfer-encoding", "chunked")
        self.handler.end_headers()

    def pause(self, seconds: float) -> None:
        if seconds > 0:
            self.stopping.wait(seconds)

    def send(self, data: str, event: str | None = None) -> None:
        self.pause(self.delay_s)
        head = f"event: {event}\n" if event else ""
        self.chunk(f"{head}data: {data}\n\n".encode())

    def chunk(self, data: bytes) -> None:
        try:
            self.handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.handler.wfile.flush()
        except OSError:
            pass  # the client went away (e.g. an interrupted turn)

    def hold(self) -> None:
        """Send nothing more until the server stops (an endpoint that never answers)."""
        deadline = time.monotonic() + HOLD_LIMIT_S
        while not self.stopping.wait(0.2) and time.monotonic() < deadline:
            pass

    def end(self) -> None:
        self.chunk(b"")

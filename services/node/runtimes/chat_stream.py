"""One streamed chat completion (`POST <base>/v1/chat/completions`, `stream: true`), standard library only.

The HTTP exchange runs on its own thread and hands each parsed `data:` chunk to a bounded queue, so the
turn's thread can stop waiting the moment the turn is interrupted (`close` cuts the connection).  A
failure is a `ChatError` with the server's own message and whether a retry may help (429, 5xx, a
connection that failed or went silent).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import queue
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_LINE_BYTES = 4 << 20
MAX_ERROR_BYTES = 64 << 10
QUEUE_CHUNKS = 1024
WAIT_S = 0.1


class ChatError(Exception):
    def __init__(self, message: str, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status


class Interrupted(Exception):
    """The caller's `stop` event was set while waiting for the stream."""


def api_root(base_url: str) -> str:
    """The server's root: `base_url` with any trailing slash and `/v1` taken off."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def _connection(url: str, timeout_s: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChatError(f"{url!r} is not an http(s) URL", retryable=False)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    return connection_class(parts.hostname, parts.port, timeout=timeout_s), parts.path or "/"


def server_message(status: int, body: bytes) -> str:
    """The error text a server sent (OpenAI's `{"error": {"message": ...}}`, or the body itself)."""
    try:
        error = json.loads(body).get("error")
        text = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        text = None
    return f"HTTP {status}: {text or body.decode('utf-8', 'replace').strip()[:500] or 'no message'}"


def get_json(url: str, key: str | None, timeout_s: float) -> Any:
    """GET a JSON document (e.g. /v1/models); ChatError on any failure."""
    connection, path = _connection(url, timeout_s)
    try:
        connection.request("GET", path, headers=_headers(key))
        response = connection.getresponse()
        body = response.read(MAX_ERROR_BYTES)
        if response.status != 200:
            raise ChatError(server_message(response.status, body), response.status in RETRYABLE_STATUSES)
        return json.loads(body)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise ChatError(f"cannot read {url}: {exc}", retryable=True) from exc
    finally:
        connection.close()


def _headers(key: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


_END = object()


class ChatStream:
    def __init__(self, base_url: str, key: str | None, body: dict[str, Any], timeout_s: float) -> None:
        self._chunks: queue.Queue[Any] = queue.Queue(QUEUE_CHUNKS)
        self._closed = threading.Event()
        self._connection, root = _connection(api_root(base_url) + "/v1/chat/completions", timeout_s)
        self._path = root
        self._data = json.dumps(body).encode()
        self._headers = _headers(key)
        self._thread = threading.Thread(target=self._run, name="chat-stream", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> None:
        while not self._closed.is_set():
            with contextlib.suppress(queue.Full):
                self._chunks.put(item, timeout=WAIT_S)
                return

    def _run(self) -> None:
        try:
            self._connection.request("POST", self._path, body=self._data, headers=self._headers)
            response = self._connection.getresponse()
            if response.status != 200:
                body = response.read(MAX_ERROR_BYTES)
                retryable = response.status in RETRYABLE_STATUSES
                self._put(ChatError(server_message(response.status, body), retryable, response.status))
                return
            for line in iter(lambda: response.readline(MAX_LINE_BYTES), b""):
                data = line.strip()
                if not data.startswith(b"data:"):
                    continue  # blank separators, comments, event names
                data = data[5:].strip()
                if data == b"[DONE]":
                    break
                try:
                    self._put(json.loads(data))
                except ValueError:
                    self._put(ChatError(f"the server sent a chunk that is not JSON: {data[:200]!r}", False))
                    return
            self._put(_END)
        except (OSError, http.client.HTTPException) as exc:
            if not self._closed.is_set():
                self._put(ChatError(f"the model endpoint failed: {exc or type(exc).__name__}", retryable=True))
        finally:
            self._connection.close()

    def chunks(self, stop: threading.Event) -> Iterator[dict[str, Any]]:
        """The chunks as they arrive; Interrupted once `stop` is set, ChatError on a failure."""
        try:
            while True:
                if stop.is_set():
                    raise Interrupted()
                try:
                    item = self._chunks.get(timeout=WAIT_S)
                except queue.Empty:
                    continue
                if item is _END:
                    return
                if isinstance(item, ChatError):
                    raise item
                if isinstance(item, dict):
                    yield item
        finally:
            self.close()

    def close(self) -> None:
        self._closed.set()
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

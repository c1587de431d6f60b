"""A local fake of the Anthropic Messages API (`POST /v1/messages`, streamed SSE) for the real `claude`.

What it answers is decided by markers in the newest user text (the last text block of the last user
message), so one server serves every scenario:

- plain text             → the answer ``Answer: <text>`` as text deltas
- ``[bash: CMD]``        → a `Bash` tool_use with ``{"command": CMD}``; once its tool_result comes
                           back, the answer ``Ran it. Output: <the result's last line>``
- ``[write: PATH]``      → a `Write` tool_use of ``WRITTEN`` to PATH (absolute), then the same answer
- ``[error]``            → HTTP 400 ``invalid_request_error`` (Claude Code does not retry it)
- ``[think]``            → a thinking block (``THINKING`` as deltas) before the answer
- ``[slow]``             → the plain answer with ``slow_delay_s`` between deltas
- ``[hang]``             → headers and ``message_start``, then nothing until the server stops

`HEAD /` (Claude Code's connectivity probe) is answered 200.  Every POST is recorded (path, headers,
body).  Each stream is ``message_start``, per block ``content_block_start`` / ``content_block_delta``… /
``content_block_stop``, ``message_delta`` (stop reason, output tokens), ``message_stop``.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BASH = re.compile(r"\[bash: (.+?)\]")
WRITE = re.compile(r"\[write: (.+?)\]")
WRITTEN = "written by the fake model\n"
THINKING = "The user wants an answer; I give one."
INPUT_TOKENS = 900
CACHE_READ_TOKENS = 100
OUTPUT_TOKENS = 30


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeAnthropic:
    slow_delay_s: float = 0.25
    requests: list[RecordedRequest] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _ids: Iterator[int] = field(default_factory=itertools.count)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeAnthropic:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_HEAD(self) -> None:
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(RecordedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if self.path.split("?")[0] != "/v1/messages":
                    return _json(self, 404, _error("not_found_error", f"no route {self.path}"))
                fake._answer(self, body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-anthropic", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def user_texts(self) -> list[str]:
        """The newest user text of every recorded request."""
        return [newest_user_text(request.body.get("messages") or []) for request in self.requests]

    # -- answers -------------------------------------------------------------------------------------

    def _answer(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        messages = body.get("messages") or []
        text = newest_user_text(messages)
        result = tool_result_text(messages)
        if "[error]" in text and result is None:
            return _json(handler, 400, _error("invalid_request_error", "fake: this request is refused"))
        stream = _Stream(handler, self._stopping)
        stream.begin()
        message: dict[str, Any] = {
            "id": f"msg_{next(self._ids):06d}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": INPUT_TOKENS,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": CACHE_READ_TOKENS,
                "output_tokens": 1,
            },
        }
        stream.send("message_start", {"message": message})
        if "[hang]" in text:
            stream.hold()
            return
        command, write = BASH.search(text), WRITE.search(text)
        if result is None and command is not None:
            self._tool_use(
                stream, "Bash", {"command": command.group(1), "description": "Run the command the prompt names"}
            )
            stop_reason = "tool_use"
        elif result is None and write is not None:
            self._tool_use(stream, "Write", {"file_path": write.group(1), "content": WRITTEN})
            stop_reason = "tool_use"
        else:
            answer = _ran(result) if result is not None else f"Answer: {text}"
            first = 0
            if "[think]" in text and result is None:
                self._thinking(stream)
                first = 1
            self._text(stream, answer, self.slow_delay_s if "[slow]" in text else 0.0, first)
            stop_reason = "end_turn"
        delta = {"stop_reason": stop_reason, "stop_sequence": None}
        stream.send("message_delta", {"delta": delta, "usage": {"output_tokens": OUTPUT_TOKENS}})
        stream.send("message_stop", {})
        stream.end()

    def _text(self, stream: _Stream, text: str, pause: float, index: int) -> None:
        stream.send("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}})
        for piece in _pieces(text, 6):
            stream.pause(pause)
            stream.send("content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": piece}})
        stream.send("content_block_stop", {"index": index})

    def _thinking(self, stream: _Stream) -> None:
        block = {"type": "thinking", "thinking": "", "signature": ""}
        stream.send("content_block_start", {"index": 0, "content_block": block})
        for piece in _pieces(THINKING, 3):
            stream.send("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": piece}})
        stream.send("content_block_delta", {"index": 0, "delta": {"type": "signature_delta", "signature": "fake"}})
        stream.send("content_block_stop", {"index": 0})

    def _tool_use(self, stream: _Stream, name: str, tool_input: dict[str, Any]) -> None:
        block = {"type": "tool_use", "id": f"toolu_{next(self._ids):06d}", "name": name, "input": {}}
        stream.send("content_block_start", {"index": 0, "content_block": block})
        arguments = json.dumps(tool_input)
        for piece in _pieces(arguments, 3):
            stream.send(
                "content_block_delta", {"index": 0, "delta": {"type": "input_json_delta", "partial_json": piece}}
            )
        stream.send("content_block_stop", {"index": 0})


def _text_of(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [
        str(block.get("text") or "")
        for block in content or []
        if isinstance(block, dict) and block.get("type") == "text"
    ]


def newest_user_text(messages: list[dict[str, Any]]) -> str:
    """The last text block of the newest user message that has text (Claude Code adds reminders first)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            texts = [text for text in _text_of(message.get("content")) if not text.startswith("<system-reminder>")]
            if texts:
                return texts[-1]
    return ""


def tool_result_text(messages: list[dict[str, Any]]) -> str | None:
    """The text of the tool_result in the last message, when the last message carries one."""
    if not messages or not isinstance(messages[-1].get("content"), list):
        return None
    for block in messages[-1]["content"]:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            content = block.get("content")
            return "\n".join(_text_of(content)) if not isinstance(content, str) else content
    return None


def _ran(result: str) -> str:
    lines = [line for line in result.splitlines() if line.strip()]
    return f"Ran it. Output: {lines[-1] if lines else '(none)'}"


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def _pieces(text: str, parts: int) -> list[str]:
    cuts = [len(text) * i // parts for i in range(parts + 1)]
    return [text[a:b] for a, b in itertools.pairwise(cuts) if b > a]


def _json(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class _Stream:
    """One SSE answer with chunked transfer encoding."""

    def __init__(self, handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        self.handler = handler
        self.stopping = stopping

    def begin(self) -> None:
        self.handler.send_response(200)
        self.handler.send_header("content-type", "text/event-stream")
        self.handler.send_header("transfer-encoding", "chunked")
        self.handler.end_headers()

    def pause(self, seconds: float) -> None:
        if seconds > 0:
            self.stopping.wait(seconds)

    def send(self, event: str, data: dict[str, Any]) -> None:
        payload = json.dumps({"type": event, **data})
        self._chunk(f"event: {event}\ndata: {payload}\n\n".encode())

    def _chunk(self, data: bytes) -> None:
        try:
            self.handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.handler.wfile.flush()
        except OSError:
            pass  # the client went away (an interrupted turn)

    def hold(self) -> None:
        """Send nothing more until the server stops (a model that never answers)."""
        self.stopping.wait(600)

    def end(self) -> None:
        self._chunk(b"")

"""A local fake of the OpenAI Responses API (`POST /v1/responses`, streamed SSE) for the real codex binary.

What it answers is decided by markers in the newest user text, so one server serves every scenario:

- plain text                      → a reasoning summary, then the answer ``Answer: <text>`` as deltas
- ``[run: CMD]``                  → an `exec_command` call with ``{"cmd": CMD}``; after its output comes
                                    back, the answer ``Ran it. Output: <output's last line>``
- ``[escalate: CMD]``             → the same call asking ``sandbox_permissions: "require_escalated"``
- ``[http500]`` / ``[quota]``     → HTTP 500 / HTTP 429 ``insufficient_quota``
- ``[fail]``                      → HTTP 200 whose stream ends in ``response.failed``
- ``[hang]``                      → headers, then nothing until the server stops
- ``[slow]``                      → the plain answer with ``slow_delay_s`` between deltas
- a bearer key other than ``expected_key`` (when set) → HTTP 401 ``invalid_api_key``

A steer's text arrives as a later user message of the same turn; the answer to a request whose newest
user text contains ``[steered]`` says so.  Every request is recorded (path, headers, body).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.fake_http import FakeServer, SseStream, json_answer

MARKER = re.compile(r"\[(run|escalate): (.+?)\]")


@dataclass
class FakeResponses(FakeServer):
    delay_s: float = 0.0  # between SSE events
    slow_delay_s: float = 0.25
    expected_key: str | None = None  # when set, another bearer key gets HTTP 401
    _ids: Iterator[int] = field(default_factory=itertools.count)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- answers -------------------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def answer(self, handler: BaseHTTPRequestHandler, method: str, path: str, body: dict[str, Any]) -> None:
        if method != "POST":
            return json_answer(handler, 404, {"error": {"message": f"no {method} {path} here"}})
        if self.expected_key is not None and handler.headers.get("authorization") != f"Bearer {self.expected_key}":
            error = {
                "message": "Incorrect API key provided.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
            return json_answer(handler, 401, {"error": error})
        items = body.get("input") or []
        text = newest_user_text(items)
        last = items[-1] if items else {}
        if "[http500]" in text:
            return json_answer(handler, 500, {"error": {"message": "fake internal error", "type": "server_error"}})
        if "[quota]" in text:
            error = {"message": "You exceeded your current quota.", "type": "insufficient_quota"}
            return json_answer(handler, 429, {"error": {**error, "code": "insufficient_quota"}})
        stream = _Events(handler, self.delay_s, self.stopping)
        stream.begin()
        response_id = self._next_id("resp")
        stream.event("response.created", {"response": {"id": response_id, "status": "in_progress", "output": []}})
        if "[hang]" in text:
            stream.hold()
            return
        if "[fail]" in text:
            failure = {"id": response_id, "status": "failed", "error": {"code": "server_error", "message": "fake"}}
            stream.event("response.failed", {"response": failure})
            return stream.end()
        pause = self.slow_delay_s if "[slow]" in text else 0.0
        marker = MARKER.search(text)
        if last.get("type") == "function_call_output" or marker is None:
            self._reasoning(stream, "**Answering**\n\nI reply to the prompt.", 0, pause)
            self._message(stream, self._answer_text(text, last), 1, pause)
        else:
            self._reasoning(stream, "**Planning shell command**\n\nI run it.", 0, 0.0)
            self._command(stream, marker.group(2), escalate=marker.group(1) == "escalate", index=1)
        usage = {
            "input_tokens": 1200,
            "input_tokens_details": {"cached_tokens": 1024},
            "output_tokens": 40,
            "output_tokens_details": {"reasoning_tokens": 12},
            "total_tokens": 1240,
        }
        stream.event("response.completed", {"response": {"id": response_id, "status": "completed", "usage": usage}})
        stream.end()

    @staticmethod
    def _answer_text(text: str, last: dict[str, Any]) -> str:
        if last.get("type") == "function_call_output":
            lines = [line for line in str(last.get("output") or "").splitlines() if line.strip()]
            return f"Ran it. Output: {lines[-1] if lines else '(none)'}"
        prefix = "Steered: " if "[steered]" in text else "Answer: "
        return prefix + text

    def _reasoning(self, stream: _Events, summary: str, index: int, pause: float) -> None:
        item_id = self._next_id("rs")
        stream.event(
            "response.output_item.added",
            {"output_index": index, "item": {"type": "reasoning", "id": item_id, "summary": []}},
        )
        part = {"item_id": item_id, "output_index": index, "summary_index": 0}
        stream.event("response.reasoning_summary_part.added", {**part, "part": {"type": "summary_text", "text": ""}})
        for piece in _pieces(summary, 4):
            stream.pause(pause)
            stream.event("response.reasoning_summary_text.delta", {**part, "delta": piece})
        stream.event("response.reasoning_summary_text.done", {**part, "text": summary})
        stream.event(
            "response.reasoning_summary_part.done", {**part, "part": {"type": "summary_text", "text": summary}}
        )
        item = {"type": "reasoning", "id": item_id, "summary": [{"type": "summary_text", "text": summary}]}
        stream.event("response.output_item.done", {"output_index": index, "item": item})

    def _message(self, stream: _Events, text: str, index: int, pause: float) -> None:
        item_id = self._next_id("msg")
        item: dict[str, Any] = {"type": "message", "id": item_id, "role": "assistant", "status": "in_progress"}
        item["content"] = []
        stream.event("response.output_item.added", {"output_index": index, "item": item})
        part = {"item_id": item_id, "output_index": index, "content_index": 0}
        stream.event("response.content_part.added", {**part, "part": {"type": "output_text", "text": ""}})
        for piece in _pieces(text, 8):
            stream.pause(pause)
            stream.event("response.output_text.delta", {**part, "delta": piece})
        stream.event("response.output_text.done", {**part, "text": text})
        done_part: dict[str, Any] = {"type": "output_text", "text": text, "annotations": []}
        stream.event("response.content_part.done", {**part, "part": done_part})
        item = {**item, "status": "completed", "content": [done_part]}
        stream.event("response.output_item.done", {"output_index": index, "item": item})

    def _command(self, stream: _Events, command: str, escalate: bool, index: int) -> None:
        item_id, call_id = self._next_id("fc"), self._next_id("call")
        arguments: dict[str, Any] = {"cmd": command, "yield_time_ms": 2000}
        if escalate:
            arguments |= {"sandbox_permissions": "require_escalated", "justification": f"Allow running {command}?"}
        text = json.dumps(arguments)
        item = {"type": "function_call", "id": item_id, "call_id": call_id, "name": "exec_command", "arguments": ""}
        stream.event("response.output_item.added", {"output_index": index, "item": {**item, "status": "in_progress"}})
        for piece in _pieces(text, 3):
            stream.event(
                "response.function_call_arguments.delta", {"item_id": item_id, "output_index": index, "delta": piece}
            )
        stream.event(
            "response.function_call_arguments.done", {"item_id": item_id, "output_index": index, "arguments": text}
        )
        done = {**item, "arguments": text, "status": "completed"}
        stream.event("response.output_item.done", {"output_index": index, "item": done})


def newest_user_text(items: list[dict[str, Any]]) -> str:
    for item in reversed(items):
        if item.get("type") == "message" and item.get("role") == "user":
            texts = [part.get("text", "") for part in item.get("content") or [] if isinstance(part, dict)]
            return "\n".join(texts)
    return ""


def _pieces(text: str, parts: int) -> list[str]:
    cuts = [len(text) * i // parts for i in range(parts + 1)]
    return [text[a:b] for a, b in itertools.pairwise(cuts) if b > a]


class _Events(SseStream):
    """The Responses API's events: each a named SSE event with its type and sequence number inside."""

    sequence = 0

    def event(self, event: str, data: dict[str, Any]) -> None:
        payload = {"type": event, "sequence_number": self.sequence, **data}
        self.sequence += 1
        self.send(json.dumps(payload), event)

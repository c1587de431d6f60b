"""A local fake of an OpenAI-compatible chat server (vLLM, Ollama, ...): `GET /v1/models` and
`POST /v1/chat/completions` streamed as the real chunk format (`data: {choices: [{delta: ...}]}`, a
usage chunk when asked for, `data: [DONE]`).

What it answers is decided by markers in the first user message of the current turn (the messages
after the last answer without a tool call), and by what came back since (tool results), so one server
serves every scenario:

- plain text           → reasoning_content, then ``Answer: <text>`` as content deltas
- ``[tool: CMD]``      → a `shell` call (arguments in pieces); after its result, ``Tool said: <last line>``
- ``[ask: CMD]``       → the same call with ``require_approval: true``
- ``[tools: A|B|C]``   → one `shell` call per response, A then B then C, then the answer
- ``[forever]``        → a `shell` call every time, never an answer
- ``[write: PATH]``    → a `write_file` call writing ``hello`` to PATH
- ``[429]``            → HTTP 429 for the first request of the conversation, then as plain text
- ``[500]``            → HTTP 500, always
- ``[slow]``           → the plain answer, ``slow_delay_s`` between deltas
A model other than ``models`` gets HTTP 404 with the server's message.
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

MARKER = re.compile(r"\[(tool|ask|tools|write): (.+?)\]")


@dataclass
class FakeChat(FakeServer):
    models: tuple[str, ...] = ("fake-chat",)
    delay_s: float = 0.0
    slow_delay_s: float = 0.2
    _ids: Iterator[int] = field(default_factory=itertools.count)
    _seen: set[str] = field(default_factory=set)  # conversations already refused once with 429

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    def answer(self, handler: BaseHTTPRequestHandler, method: str, path: str, body: dict[str, Any]) -> None:
        if method == "GET" and path.rstrip("/").endswith("/v1/models"):
            return json_answer(
                handler, 200, {"object": "list", "data": [{"id": m, "object": "model"} for m in self.models]}
            )
        if method != "POST" or not path.endswith("/v1/chat/completions"):
            return json_answer(handler, 404, {"error": {"message": f"no route {method} {path}"}})
        if body.get("model") not in self.models:
            message = f"The model `{body.get('model')}` does not exist."
            return json_answer(handler, 404, {"error": {"message": message, "type": "NotFoundError", "code": 404}})
        messages = current_turn(body.get("messages") or [])
        first = next((str(m.get("content")) for m in messages if m.get("role") == "user"), "")
        if "[500]" in first:
            return json_answer(handler, 500, {"error": {"message": "fake server error", "type": "InternalServerError"}})
        if "[429]" in first and first not in self._seen:
            self._seen.add(first)
            return json_answer(
                handler, 429, {"error": {"message": "Rate limit reached, slow down", "type": "rate_limit"}}
            )
        stream = SseStream(handler, self.delay_s, self.stopping)
        stream.begin()
        pause = self.slow_delay_s if "[slow]" in first else 0.0
        call = self._next_call(first, messages)
        if call is not None:
            self._call(stream, *call)
        else:
            self._text(stream, self._answer_text(first, messages), pause)
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {
                "prompt_tokens": 900,
                "completion_tokens": 30,
                "total_tokens": 930,
                "prompt_tokens_details": {"cached_tokens": 512},
                "completion_tokens_details": {"reasoning_tokens": 10},
            }
            stream.send(json.dumps({"id": "chatcmpl-usage", "choices": [], "usage": usage}))
        stream.send("[DONE]")
        stream.end()

    def _next_call(self, first: str, messages: list[dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
        results = sum(1 for m in messages if m.get("role") == "tool")
        if "[forever]" in first:
            return "shell", {"command": "echo again"}
        marker = MARKER.search(first)
        if marker is None:
            return None
        kind, value = marker.group(1), marker.group(2)
        if kind == "tools":
            commands = value.split("|")
            return ("shell", {"command": commands[results]}) if results < len(commands) else None
        if results:
            return None
        if kind == "write":
            return "write_file", {"path": value, "content": "hello\n"}
        return "shell", {"command": value, **({"require_approval": True} if kind == "ask" else {})}

    @staticmethod
    def _answer_text(first: str, messages: list[dict[str, Any]]) -> str:
        tools = [str(m.get("content")) for m in messages if m.get("role") == "tool"]
        if tools:
            lines = [line for line in tools[-1].splitlines() if line.strip()]
            return f"Tool said: {lines[-1] if lines else '(nothing)'}"
        steered = [str(m.get("content")) for m in messages if m.get("role") == "user"][1:]
        return "Answer: " + " + ".join([first, *steered])

    def _chunk(self, stream: SseStream, delta: dict[str, Any], finish: str | None = None) -> None:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        stream.send(json.dumps({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [choice]}))

    def _text(self, stream: SseStream, text: str, pause: float) -> None:
        self._chunk(stream, {"role": "assistant", "content": ""})
        for piece in ("I should ", "answer."):
            stream.pause(pause)
            self._chunk(stream, {"reasoning_content": piece})
        for index in range(0, len(text), 6):
            stream.pause(pause)
            self._chunk(stream, {"content": text[index : index + 6]})
        self._chunk(stream, {}, "stop")

    def _call(self, stream: SseStream, name: str, arguments: dict[str, Any]) -> None:
        text = json.dumps(arguments)
        call_id = f"call_{next(self._ids):06d}"
        head = {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        self._chunk(stream, {"role": "assistant", "tool_calls": [head]})
        for index in range(0, len(text), 7):
            self._chunk(stream, {"tool_calls": [{"index": 0, "function": {"arguments": text[index : index + 7]}}]})
        self._chunk(stream, {}, "tool_calls")


def current_turn(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages after the last assistant answer that called no tool: this turn's."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") == "assistant" and not message.get("tool_calls"):
            return messages[index + 1 :]
    return messages

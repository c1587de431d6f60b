"""The openai runtime: an agent loop of the node program against any OpenAI-compatible chat endpoint
(vLLM, SGLang, Ollama, llama.cpp server) — `POST <base>/v1/chat/completions` with `stream: true`.

Each turn sends the thread's history with two tools, `shell` (a bash command in the workspace, with a
timeout and an output cap) and `write_file`, and streams the answer: `reasoning_content` becomes a
reasoning item, `content` the agent message, `tool_calls` (their arguments arrive in pieces) commands
and file changes, each written as codex writes them, so the router, the UI and the API see the same
events as for codex.  The loop runs tools and asks again until the model answers without a tool call,
at most `max_tool_calls` calls a turn.

- Approvals follow codex's policies: `never` runs every tool; `on-request` asks when the model sets
  `require_approval` on a command; `untrusted` asks before every command and file write.
- Steer: a steer joins the running turn as a user message before the next model request (and a turn
  whose answer is done takes it as one more round); interrupt ends the turn at once.
- Context: when the history outgrows `context_window` (about 4 characters a token), the oldest tool
  outputs are cut first, and a warning says how many.
- Errors: 429, 5xx and failed connections are retried `max_retries` times with back-off (each retry a
  warning); then the server's own message ends the turn `failed`.  A response that already streamed
  text is not retried (its text would repeat).
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from services.node.bundle_writer import checked_target
from services.node.errors import ConfigError
from services.node.messages import Injection
from services.node.records import NODE_CONTEXT_TRIMMED, NODE_INJECTION_STEERED
from services.node.runtimes import shapes
from services.node.runtimes.base import Param, ScriptedRuntime, choice, integer, number, optional, text
from services.node.runtimes.chat_stream import ChatError, ChatStream, Interrupted
from services.node.runtimes.turn import StreamedText, Turn, TurnFailed, TurnInterrupted

APPROVAL_POLICIES = ("never", "on-request", "untrusted")
CHARS_PER_TOKEN = 4
CONTEXT_FILL = 0.9  # trim when the history's estimate passes this share of the window
TRIMMED = "[output removed to keep the conversation within the model's context window]"
FIRST_RETRY_S = 0.5
NOT_RUN = "not run to its end: the turn ended first (interrupted by the user, or out of tool calls)"

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "shell",
            "description": "Run a bash command in the workspace (your current directory). Returns its exit code "
            "and its output (stdout and stderr together).",
            "parameters": {
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The bash command line."},
                    "timeout_s": {"type": "number", "description": "Kill it after this many seconds."},
                    "require_approval": {
                        "type": "boolean",
                        "description": "Ask the user first (for anything risky or outside the workspace).",
                    },
                    "justification": {"type": "string", "description": "Why, when asking the user."},
                },
                "required": ["command"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "write_file",
            "description": "Write a text file in the workspace (created or replaced).",
            "parameters": {
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "Relative to the workspace."},
                    "content": {"type": "string"},
                },
                "required": ["path", "content"],
            },
        },
    },
]


@dataclass
class Reply:
    """One model response: the assistant message for the history, and its tool calls."""

    content: str = ""
    calls: dict[int, dict[str, str]] = field(default_factory=dict)

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.content or None}
        if self.calls:
            message["tool_calls"] = [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                }
                for _, call in sorted(self.calls.items())
            ]
        return message


class OpenAIRuntime(ScriptedRuntime):
    name = "openai"
    # A launch may not point the site's key at another server: endpoint and key come from the settings.
    provider_params = ("base_url", "api_key_env")
    key_param = "api_key_env"
    model_listing = "/v1/models"
    params_accepted: ClassVar[tuple[Param, ...]] = (
        Param("model", None, text(200, optional=False), "the model the endpoint serves"),
        Param("base_url", None, text(2048, optional=False), "the endpoint, e.g. http://gpu-01:8000"),
        Param("api_key_env", None, text(100), "the router's variable holding the endpoint's key"),
        Param(
            "approval_policy",
            "on-request",
            choice(APPROVAL_POLICIES),
            "when the agent asks before a tool runs",
            APPROVAL_POLICIES,
        ),
        Param("temperature", None, optional(number(0, 2)), "sampling temperature"),
        Param("max_tokens", None, optional(integer(1, 1_000_000)), "the longest answer, in tokens"),
        Param("max_tool_calls", 32, integer(1, 1000), "tool calls a turn may make"),
        Param("context_window", 32768, integer(1024, 10_000_000), "the model's context window, in tokens"),
        Param("command_timeout_s", 120, number(1, 86_400), "a command running longer is killed"),
        Param("max_output_chars", 16384, integer(256, 10_000_000), "command output sent back to the model"),
        Param("max_retries", 3, integer(0, 20), "retries of a request that failed with 429, 5xx or no answer"),
        Param("request_timeout_s", 300, number(1, 86_400), "a model that sends nothing this long has failed"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.history: list[dict[str, Any]] = []
        self.total = shapes.token_breakdown(0, 0, 0, 0)
        self.request_ids = itertools.count()
        self._steer_lock = threading.Lock()
        self._steers: list[Injection] = []
        self._taking_steers = False
        self._turn: Turn | None = None

    def start(self) -> str:
        if not str(self.params["base_url"]).startswith(("http://", "https://")):
            raise ConfigError(f"base_url {self.params['base_url']!r} must be an http:// or https:// URL")
        return super().start()

    # -- the loop -------------------------------------------------------------------------------------

    def play(self, turn: Turn, injection: Injection) -> None:
        self._turn = turn
        self.history.append({"role": "user", "content": injection.content})
        turn.user_message(injection.content)
        with self._steer_lock:
            self._taking_steers = True
        calls = 0
        try:
            while True:
                reply = self._respond(turn)
                self.history.append(reply.message())
                calls = self._run_tools(turn, reply, calls)
                if not reply.calls:
                    with self._steer_lock:  # done, unless a steer came: decided under the lock steer() takes
                        if not self._steers:
                            self._taking_steers = False
                            return
                self._take_steers(turn)
        finally:
            with self._steer_lock:
                self._taking_steers = False
            self._turn = None

    def _run_tools(self, turn: Turn, reply: Reply, calls: int) -> int:
        """Run the reply's tool calls, each result into the history; the turn's call count after them.
        A call the turn ends before still gets a result, so the history stays one the server accepts."""
        pending = [call for _, call in sorted(reply.calls.items())]
        try:
            while pending:
                calls += 1
                if calls > int(self.params["max_tool_calls"]):
                    message = f"stopped after {self.params['max_tool_calls']} tool calls in one turn (max_tool_calls)"
                    turn.error(message, will_retry=False, code="toolCallLimit")
                    raise TurnFailed(message)
                result = self._run_tool(turn, pending[0])
                self.history.append({"role": "tool", "tool_call_id": pending.pop(0)["id"], "content": result})
        except (TurnInterrupted, TurnFailed):
            for call in pending:
                self.history.append({"role": "tool", "tool_call_id": call["id"], "content": NOT_RUN})
            raise
        return calls

    def _take_steers(self, turn: Turn) -> None:
        """Add waiting steers to the history, before the next model request."""
        with self._steer_lock:
            steers, self._steers = self._steers, []
        for steer in steers:
            self.history.append({"role": "user", "content": steer.content})
            turn.user_message(steer.content)

    def steer(self, injection: Injection) -> bool:
        with self._steer_lock:
            turn = self._turn
            if not self._taking_steers or turn is None:
                return False
            self._steers.append(injection)
        params = {"turnId": turn.turn_id, "intoInjectionId": turn.injection_id}
        self.emit(injection.injection_id, {"method": NODE_INJECTION_STEERED, "params": params})
        return True

    # -- one model response ---------------------------------------------------------------------------

    def _respond(self, turn: Turn) -> Reply:
        delay = FIRST_RETRY_S
        retries = int(self.params["max_retries"])
        for attempt in itertools.count():
            streamed: list[bool] = [False]
            try:
                return self._stream_once(turn, streamed)
            except ChatError as exc:
                if not exc.retryable or attempt >= retries or streamed[0]:
                    turn.error(exc.message, will_retry=False, code="modelRequestFailed")
                    raise TurnFailed(exc.message) from exc
                turn.error(f"{exc.message}; retrying in {delay:g} s ({attempt + 1}/{retries})", True, "retrying")
                turn.pause(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def _request_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.params["model"],
            "messages": self._context(),
            "stream": True,
            "stream_options": {"include_usage": True},
            "tools": TOOLS,
        }
        for key in ("temperature", "max_tokens"):
            if self.params[key] is not None:
                body[key] = self.params[key]
        return body

    def _stream_once(self, turn: Turn, streamed: list[bool]) -> Reply:
        stream = ChatStream(
            str(self.params["base_url"]), self.secret, self._request_body(), float(self.params["request_timeout_s"])
        )
        reply = Reply()
        reasoning: StreamedText | None = None
        answer: StreamedText | None = None
        try:
            for chunk in stream.chunks(self.interrupting):
                if chunk.get("usage"):
                    self._usage(turn, chunk["usage"])
                for choice_ in chunk.get("choices") or []:
                    delta = choice_.get("delta") or {}
                    thought = delta.get("reasoning_content") or delta.get("reasoning")
                    if thought:
                        reasoning = reasoning or StreamedText(turn, "reasoning")
                        reasoning.add(str(thought))
                        streamed[0] = True
                    if delta.get("content"):
                        answer = answer or StreamedText(turn, "agentMessage")
                        answer.add(str(delta["content"]))
                        streamed[0] = True
                    for piece in delta.get("tool_calls") or []:
                        _add_call_piece(reply, piece)
        except Interrupted:
            raise TurnInterrupted() from None
        finally:  # what streamed stays in the transcript, also when the turn is cut short
            if reasoning is not None:
                reasoning.close()
            if answer is not None:
                reply.content = answer.close()
        return reply

    def _usage(self, turn: Turn, usage: dict[str, Any]) -> None:
        cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        reasoning = int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
        last = shapes.token_breakdown(
            int(usage.get("prompt_tokens") or 0), cached, int(usage.get("completion_tokens") or 0), reasoning
        )
        self.total = shapes.add_breakdowns(self.total, last)
        turn.usage(dict(self.total), last)

    def _context(self) -> list[dict[str, Any]]:
        """The messages to send: the system prompt and the history, oldest tool outputs cut to fit."""
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        budget = int(self.params["context_window"]) * CONTEXT_FILL * CHARS_PER_TOKEN
        size = sum(len(json.dumps(m)) for m in system + self.history)
        trimmed = 0
        for message in self.history:
            if size <= budget:
                break
            if message["role"] == "tool" and message["content"] != TRIMMED:
                size -= len(message["content"]) - len(TRIMMED)
                message["content"] = TRIMMED
                trimmed += 1
        if trimmed:
            params = {"trimmed": trimmed, "estimatedTokens": int(size / CHARS_PER_TOKEN)}
            self.emit(self.turn_injection_id, {"method": NODE_CONTEXT_TRIMMED, "params": params})
        return system + self.history

    # -- tools ----------------------------------------------------------------------------------------

    def _run_tool(self, turn: Turn, call: dict[str, str]) -> str:
        try:
            args = json.loads(call["arguments"] or "{}")
        except ValueError as exc:
            return f"error: the arguments of {call['name']} are not JSON ({exc}); send a JSON object"
        if not isinstance(args, dict):
            return f"error: the arguments of {call['name']} must be a JSON object"
        if call["name"] == "shell":
            return self._shell(turn, args)
        if call["name"] == "write_file":
            return self._write_file(turn, args)
        return f"error: there is no tool {call['name']!r}; the tools are shell and write_file"

    def _shell(self, turn: Turn, args: dict[str, Any]) -> str:
        command = args.get("command")
        if not isinstance(command, str) or not command.strip():
            return "error: shell needs a non-empty `command` string"
        policy = self.params["approval_policy"]
        item_id = None
        if policy == "untrusted" or (policy == "on-request" and args.get("require_approval")):
            item_id = turn.ask_approval(command, self.workspace, self.approvals, next(self.request_ids))
            if item_id is None:
                return "the user declined to run this command"
        timeout = args.get("timeout_s")
        limit = float(self.params["command_timeout_s"])
        timeout_s = min(float(timeout), limit) if isinstance(timeout, int | float) and timeout > 0 else limit
        result = turn.command(command, self.workspace, item_id, timeout_s=timeout_s)
        cap = int(self.params["max_output_chars"])
        output = result.output
        if len(output) > cap:
            output = output[: cap // 2] + f"\n[... {len(output) - cap} characters cut ...]\n" + output[-cap // 2 :]
        return f"exit code: {result.exit_code}\noutput:\n{output}"

    def _write_file(self, turn: Turn, args: dict[str, Any]) -> str:
        path, content = args.get("path"), args.get("content")
        if not isinstance(content, str):
            return "error: write_file needs a `content` string"
        try:
            target = checked_target(Path(self.workspace), path)
        except ConfigError as exc:
            return f"error: {exc}"
        kind = "update" if target.exists() else "add"

        def decide(item_id: str) -> bool:
            if self.params["approval_policy"] != "untrusted":
                return True
            return turn.ask_file_approval(item_id, str(path), self.approvals, next(self.request_ids))

        def write() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")

        if not turn.file_change(str(path), kind, content, decide, write):
            return f"the user declined writing {path}"
        return f"wrote {len(content)} characters to {path}"


def _add_call_piece(reply: Reply, piece: dict[str, Any]) -> None:
    """Streamed tool calls arrive in pieces, keyed by index: the id and name once, the arguments in parts."""
    call = reply.calls.setdefault(int(piece.get("index") or 0), {"id": "", "name": "", "arguments": ""})
    if piece.get("id"):
        call["id"] = str(piece["id"])
    function = piece.get("function") or {}
    if function.get("name"):
        call["name"] += str(function["name"])
    if function.get("arguments"):
        call["arguments"] += str(function["arguments"])
    if not call["id"]:
        call["id"] = shapes.new_id("call_")

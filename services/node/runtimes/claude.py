"""The claude runtime: Claude Code headless (`claude -p`, stream-json in and out), one process per node.

The process stays up between turns: each injection is one user message on its stdin, and a turn ends
with Claude's `result` line.  Claude's lines become codex-shaped items in the node (claude_items.py says
why: items need the order of the stream to get an identity, and the router's translator works one
record at a time), so the router, the durable transcript and the UI treat a claude node as a codex one.
The node frames each turn itself (`turn/started`, `turn/completed`) and adds its `codeswarm/*` messages.

- Approvals: with `--permission-prompt-tool stdio` Claude asks the node (`control_request` /
  `can_use_tool`) before a tool it may not run on its own; the question goes to the user as an approval
  request under the tool_use id and the answer goes back as a `control_response` (claude_launch.py maps
  the approval policy onto Claude's permission mode).  Other control requests are refused at once.
- Interrupt: a `control_request` `interrupt`; Claude ends the turn (`result` error_during_execution),
  which is reported as an interrupted turn; a command it cut completes "interrupted".  Items Claude
  never completed (it exited) are closed with `codeswarm/itemAbandoned`.  A "cancel" answer to an
  approval declines and interrupts.
- Steer: not supported (Claude would take the text as the next turn anyway); the program queues it.
- Watchdog: a turn in which Claude writes nothing for `turn_idle_timeout_s` (a model that never
  answers; an approval waiting for the user does not count) is interrupted, then Claude is killed if
  it does not end the turn.
- Faults: when Claude exits mid-turn the turn ends failed with its reason; the next turn starts Claude
  again (with back-off, at most `max_restarts` times in a row) with `--resume <session id>`.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from typing import Any, ClassVar

from services.node.errors import ConfigError
from services.node.messages import Injection
from services.node.records import (
    NODE_ITEM_ABANDONED,
    NODE_TURN_ABORTED,
    NODE_TURN_WATCHDOG,
)
from services.node.runtimes import shapes
from services.node.runtimes.agent_process import AgentRuntime, AgentUnavailable, watchdog_params
from services.node.runtimes.approvals import PendingApproval
from services.node.runtimes.appserver import AgentError, AppServer, Message
from services.node.runtimes.base import Param, choice, text
from services.node.runtimes.claude_items import FILE_TOOLS, ClaudeItems, token_usage
from services.node.runtimes.claude_launch import APPROVAL_POLICIES, command_line, environment

COMMAND_APPROVAL = "item/commandExecution/requestApproval"
FILE_CHANGE_APPROVAL = "item/fileChange/requestApproval"
DECISIONS = ("accept", "decline", "cancel")
WATCH_POLL_S = 0.1
INTERRUPT_GRACE_S = 10.0


class ClaudeProcess(AppServer):
    """The child's stdio, one JSON object a line; Claude's lines are not JSON-RPC, so they are written as
    they are (none of Claude's lines has a top-level `id`, so every one reaches `on_message`)."""

    def send(self, message: Message) -> None:
        self._write(message)


class ClaudeRuntime(AgentRuntime):
    name = "claude"
    provider_params = ("binary", "base_url", "env_key")  # where Claude is, its Messages API, the key's variable
    params_accepted: ClassVar[tuple[Param, ...]] = (
        Param("model", None, text(200), "the model Claude Code asks the endpoint for (Claude's default when unset)"),
        Param(
            "approval_policy",
            "on-request",
            choice(APPROVAL_POLICIES),
            "when Claude asks before running a command or editing a file",
            APPROVAL_POLICIES,
        ),
        Param("binary", None, text(4096, optional=False), "path of the claude binary on the node"),
        Param("base_url", None, text(2048), "the Anthropic Messages API endpoint, e.g. http://host:8080"),
        Param("env_key", None, text(100), "the router's environment variable holding the key (ANTHROPIC_API_KEY here)"),
        *watchdog_params("Claude", "output"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.process: ClaudeProcess | None = None
        self._items = ClaudeItems("", self.workspace, self._notify)
        self._ended = True  # the running turn's end is decided (under the lock, exactly once)
        self._started_s = 0
        self._started_monotonic = 0.0
        self._interrupted = False  # the user (or a "cancel" answer) ended the running turn
        self._session_used = False  # Claude saved the session (it read a message): --resume works
        self._total: dict[str, int] | None = None
        self._last_line = 0.0  # when Claude last wrote a line (monotonic)
        self._taken = False  # Claude took the running turn's message (its `system/init` line)

    # -- starting -------------------------------------------------------------------------------------

    def start(self) -> str:
        binary = str(self.params["binary"])
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            raise ConfigError(f"claude binary {binary!r} does not exist or is not executable on this node")
        os.makedirs(self.home, mode=0o700, exist_ok=True)
        self.thread_id = str(uuid.uuid4())  # Claude's session id, chosen here so a restart can resume it
        self._items.thread_id = self.thread_id
        try:
            self._spawn()
        except AgentError as exc:
            raise ConfigError(f"claude did not start: {exc}") from exc
        return self.thread_id

    def _spawn(self) -> ClaudeProcess:
        argv = command_line(self.params, self.system_prompt, self.thread_id, resume=self._session_used)
        self.process = ClaudeProcess(
            argv,
            cwd=self.workspace,
            env=environment(self.params, self.home, self.secret),
            on_message=self._on_message,
            on_bad_line=self._on_bad_line,
            on_exit=self._on_exit,
        )
        return self.process

    def _ensure_process(self) -> ClaudeProcess:
        """The running Claude, started again (session resumed) if it exited; AgentUnavailable past the bound."""
        if self.process is not None and self.process.alive:
            return self.process
        self._count_restart()
        resumed = self._session_used
        try:
            process = self._spawn()
        except AgentError as exc:
            raise AgentUnavailable(f"claude cannot be started again: {exc}") from exc
        self._announce_restart(resumed)
        return process

    # -- what Claude writes (reader thread) ------------------------------------------------------------

    def _notify(self, method: str, params: dict[str, Any]) -> None:
        self.emit(self.turn_injection_id, shapes.notification(method, params))

    def _on_message(self, line: Message) -> None:
        self._last_line = time.monotonic()
        kind = line.get("type")
        if kind == "system" and line.get("subtype") == "init":  # Claude took a user message
            with self._state:
                self._session_used = self._taken = True
                waiting = self._interrupted and not self._ended
            if waiting:
                self._send_interrupt()
        elif kind == "control_request":
            self._on_control_request(line)
        elif self.turn_injection_id is None or self._ended:
            return  # between turns Claude says nothing the user needs (answers to our control requests)
        elif kind == "result":
            self._on_result(line)
        else:
            self._items.feed(line)

    def _on_result(self, result: Message) -> None:
        usage = token_usage(result, self._total)
        self._total = usage["total"]
        self._notify("thread/tokenUsage/updated", {**self._ids(), "tokenUsage": usage})
        if self._interrupted:
            self._end("interrupted")
        elif result.get("is_error"):
            message = str(result.get("result") or result.get("subtype") or "Claude reported an error")
            error = {"message": message, "codexErrorInfo": result.get("api_error_status") or result.get("subtype")}
            self._notify("error", {"error": error, "willRetry": False, **self._ids()})
            self._end("failed", message)
        else:
            self._end("completed")

    def _on_control_request(self, line: Message) -> None:
        request = line.get("request") or {}
        request_id = str(line.get("request_id"))
        if request.get("subtype") != "can_use_tool" or self.turn_injection_id is None:
            refusal = f"Codeswarm cannot answer {request.get('subtype')!r} requests"
            self._send(
                {
                    "type": "control_response",
                    "response": {"subtype": "error", "request_id": request_id, "error": refusal},
                }
            )
            return
        call_id = str(request.get("tool_use_id") or shapes.new_id("toolu_"))
        tool, arguments = str(request.get("tool_name")), request.get("input") or {}
        method = FILE_CHANGE_APPROVAL if tool in FILE_TOOLS else COMMAND_APPROVAL
        command = arguments.get("command") if tool == "Bash" else f"{tool} {arguments.get('file_path') or arguments}"
        self.approvals.open(call_id, request_id, method, DECISIONS, arguments)
        params = {
            **self._ids(),
            "itemId": call_id,
            "command": command,
            "cwd": self.workspace,
            "reason": request.get("description"),
            "availableDecisions": list(DECISIONS),
        }
        self.emit(self.turn_injection_id, {"method": method, "id": request_id, "params": params})

    def _on_exit(self, reason: str) -> None:
        self._last_exit = reason
        self._end("failed", reason, aborted=True)

    def _ids(self) -> dict[str, str]:
        return {"threadId": self.thread_id, "turnId": self._items.turn_id}

    def _end(self, status: str, message: str | None = None, aborted: bool = False) -> None:
        """End the running turn once: close its open items, then `turn/completed` (or, when Claude exited,
        `codeswarm/turnAborted`, which the router reads as a failed turn)."""
        with self._state:
            injection_id = self.turn_injection_id
            if injection_id is None or self._ended:
                return
            self._ended = True
        self.approvals.drop_all()
        for item in self._items.open_items():
            self.emit(injection_id, {"method": NODE_ITEM_ABANDONED, "params": {"item": item, "status": status}})
        if aborted:
            params = {"turnId": self._items.turn_id, "message": message}
            self.emit(injection_id, {"method": NODE_TURN_ABORTED, "params": params})
        else:
            self._completed(injection_id, status, message)
        self._turn_done.set()

    def _completed(self, injection_id: str, status: str, message: str | None) -> None:
        idle = {"threadId": self.thread_id, "status": {"type": "idle"}}
        self.emit(injection_id, shapes.notification("thread/status/changed", idle))
        turn = shapes.turn(
            self._items.turn_id,
            status,
            self._started_s,
            completed_at=int(time.time()),
            duration_ms=int((time.monotonic() - self._started_monotonic) * 1000),
        )
        turn["error"] = {"message": message} if message else None
        self.emit(injection_id, shapes.notification("turn/completed", {"threadId": self.thread_id, "turn": turn}))

    # -- turns (worker thread) -------------------------------------------------------------------------

    def _begin_turn(self) -> None:
        self._items.begin(shapes.new_id())
        self._interrupted = False
        self._started_s, self._started_monotonic = int(time.time()), time.monotonic()
        self._last_line, self._taken = self._started_monotonic, False
        self._ended = False

    def _play(self, injection: Injection) -> None:
        try:
            process = self._ensure_process()
        except AgentUnavailable as exc:
            self._end("failed", str(exc), aborted=True)
            raise
        self._notify(
            "thread/status/changed", {"threadId": self.thread_id, "status": {"type": "active", "activeFlags": []}}
        )
        self._notify(
            "turn/started",
            {"threadId": self.thread_id, "turn": shapes.turn(self._items.turn_id, "inProgress", self._started_s)},
        )
        message = {"role": "user", "content": [{"type": "text", "text": injection.content}]}
        with contextlib.suppress(AgentError):  # Claude is gone: its exit ends the turn
            process.send({"type": "user", "session_id": self.thread_id, "message": message, "parent_tool_use_id": None})
        self._watch(process)
        if process.alive:
            self._failures_in_a_row = 0  # the bound counts restarts in a row, without a turn between

    def _watch(self, process: ClaudeProcess) -> None:
        """Wait for the turn's end; a turn Claude says nothing in for `turn_idle_timeout_s` once it took
        the message (an approval waiting for the user does not count) is interrupted, and Claude killed
        if it does not end it then."""
        limit = float(self.params["turn_idle_timeout_s"])
        while not self._turn_done.wait(WATCH_POLL_S):
            if self.stopping.is_set():
                return
            if self.approvals.waiting() or not self._taken:
                self._last_line = time.monotonic()
            idle = time.monotonic() - self._last_line
            if idle < limit:
                continue
            message = f"no output from claude for {idle:.0f} s; interrupting the turn"
            params = {"turnId": self._items.turn_id, "idleS": round(idle, 1), "message": message}
            self.emit(self.turn_injection_id, {"method": NODE_TURN_WATCHDOG, "params": params})
            if not (self.interrupt() and self._turn_done.wait(INTERRUPT_GRACE_S)):
                process.kill()  # its exit ends the turn failed; the next turn starts Claude again
                self._turn_done.wait(INTERRUPT_GRACE_S)
            return

    # -- from other threads ----------------------------------------------------------------------------

    def _send(self, message: Message) -> bool:
        process = self.process
        if process is None:
            return False
        try:
            process.send(message)
        except AgentError:
            return False
        return True

    def interrupt(self) -> bool:
        """Claude ignores an interrupt that comes before it took the message: then it is sent on `system/init`."""
        if not self.running.is_set() or self._ended:
            return False
        with self._state:
            self._interrupted = self._items.interrupted = True
            taken = self._taken
        return self._send_interrupt() if taken else self.process is not None and self.process.alive

    def _send_interrupt(self) -> bool:
        request = {"type": "control_request", "request_id": shapes.new_id(), "request": {"subtype": "interrupt"}}
        return self._send(request)

    def answer_agent(self, pending: PendingApproval, decision: str) -> str | None:
        call_id = pending.call_id
        if decision == "accept":
            answer: dict[str, Any] = {"behavior": "allow", "updatedInput": pending.details}
        else:
            self._items.declined.add(call_id)
            if decision == "cancel":
                self._interrupted = self._items.interrupted = True
            answer = {"behavior": "deny", "message": "The user declined this.", "interrupt": decision == "cancel"}
        response = {"subtype": "success", "request_id": pending.request_id, "response": answer}
        return None if self._send({"type": "control_response", "response": response}) else "claude is not running"

    def stop(self) -> None:
        super().stop()
        process = self.process
        if process is not None:
            process.close()

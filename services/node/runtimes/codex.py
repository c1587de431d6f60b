"""The codex runtime: the real `codex app-server` over stdio, one thread per node, one turn per injection.

Everything codex writes is passed on as it arrives (the router translates it); the node program adds
its own `codeswarm/*` messages (services/node/records.py) for what codex cannot say: an item a turn
ended without completing, a turn that ended because codex exited, the watchdog, a restart.

- Approvals: codex's approval requests stay open until the user answers (through the inbox); the
  answer goes back with the request's own JSON-RPC id.  Requests Codeswarm cannot put to a user are
  refused at once with a JSON-RPC error, so a turn never blocks on them.
- Steer: `turn/steer` with the running turn's id; a refusal is reported, never turned into a new turn.
- Watchdog: a turn that makes no progress (codex retrying does not count, waiting on an approval does
  not time out) for `turn_idle_timeout_s` is interrupted, then codex is killed if it does not end it.
- Faults: when codex exits mid-turn the turn ends failed with the reason; the next turn restarts codex
  (with back-off, at most `max_restarts` times in a row) and resumes the thread.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any, ClassVar

from services.node.errors import ConfigError
from services.node.messages import Injection
from services.node.records import (
    NODE_INJECTION_STEERED,
    NODE_ITEM_ABANDONED,
    NODE_STEER_REJECTED,
    NODE_TURN_ABORTED,
    NODE_TURN_WATCHDOG,
)
from services.node.runtimes.agent_process import AgentRuntime, AgentUnavailable, watchdog_params
from services.node.runtimes.approvals import PERMISSIONS_APPROVAL, PendingApproval, offered_decisions
from services.node.runtimes.appserver import AgentError, AppServer, Message
from services.node.runtimes.base import Param, choice, integer, number, optional, text
from services.node.runtimes.codex_home import write_codex_home

APPROVAL_POLICIES = ("never", "on-request", "untrusted")
SANDBOXES = ("read-only", "workspace-write", "danger-full-access")
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")

COMMAND_APPROVAL = "item/commandExecution/requestApproval"
FILE_CHANGE_APPROVAL = "item/fileChange/requestApproval"
APPROVAL_METHODS = (COMMAND_APPROVAL, FILE_CHANGE_APPROVAL, PERMISSIONS_APPROVAL)
OPEN_ITEM_TYPES = frozenset({"commandExecution", "fileChange", "mcpToolCall", "dynamicToolCall", "webSearch"})

REQUEST_TIMEOUT_S = 30.0
TURN_ID_WAIT_S = 5.0
INTERRUPT_GRACE_S = 10.0
WATCH_POLL_S = 0.1
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME", "TMPDIR")
CLIENT_INFO = {"name": "codeswarm", "title": "Codeswarm node program", "version": "1"}


class CodexRuntime(AgentRuntime):
    name = "codex"
    provider_params = ("binary", "base_url", "env_key")  # where codex is and which endpoint and key it uses
    params_accepted: ClassVar[tuple[Param, ...]] = (
        Param("model", None, text(200, optional=False), "the model codex asks the endpoint for"),
        Param(
            "approval_policy",
            "on-request",
            choice(APPROVAL_POLICIES),
            "when codex asks before running a command",
            APPROVAL_POLICIES,
        ),
        Param("sandbox", "workspace-write", choice(SANDBOXES), "what commands may touch", SANDBOXES),
        Param(
            "reasoning_effort",
            None,
            optional(choice(REASONING_EFFORTS)),
            "the model's reasoning effort",
            REASONING_EFFORTS,
        ),
        Param("binary", None, text(4096, optional=False), "path of the codex binary on the node"),
        Param("base_url", None, text(2048, optional=False), "the Responses API endpoint, e.g. http://host:8000/v1"),
        Param("env_key", None, text(100), "the environment variable codex sends as the bearer key"),
        Param("max_retries", 2, integer(0, 20), "codex's own retries of a failed model request"),
        Param("stream_idle_timeout_s", 300, number(1, 86_400), "codex gives up a silent model stream after this"),
        *watchdog_params("codex", "progress"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.server: AppServer | None = None
        self._turn_id: str | None = None
        self._turn_known = threading.Event()
        self._open_items: dict[str, dict[str, Any]] = {}
        self._last_progress = time.monotonic()

    # -- starting -------------------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        env = {key: os.environ[key] for key in PASSED_ENV if key in os.environ}
        env["CODEX_HOME"] = self.home
        key_name = self.params.get("env_key")
        if key_name:
            env[str(key_name)] = self.secret or ""
        return env

    def _spawn(self) -> AppServer:
        binary = str(self.params["binary"])
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            raise ConfigError(f"codex binary {binary!r} does not exist or is not executable on this node")
        server = AppServer(
            [binary, "app-server"],
            cwd=self.workspace,
            env=self._environment(),
            on_message=self._on_message,
            on_bad_line=self._on_bad_line,
            on_exit=self._on_exit,
        )
        try:
            capabilities = {"experimentalApi": False, "optOutNotificationMethods": ["remoteControl/status/changed"]}
            server.request("initialize", {"clientInfo": CLIENT_INFO, "capabilities": capabilities}, REQUEST_TIMEOUT_S)
            server.notify("initialized")
        except AgentError as exc:
            server.kill()
            raise ConfigError(f"codex app-server did not start: {exc}") from exc
        self.server = server
        return server

    def _thread_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "cwd": self.workspace,
            "approvalPolicy": self.params["approval_policy"],
            "sandbox": self.params["sandbox"],
            "model": self.params["model"],
        }
        if self.system_prompt:
            params["developerInstructions"] = self.system_prompt
        return params

    def start(self) -> str:
        write_codex_home(self.home, dict(self.params))
        server = self._spawn()
        try:
            result = server.request("thread/start", self._thread_params(), REQUEST_TIMEOUT_S)
        except AgentError as exc:
            server.kill()
            raise ConfigError(f"codex refused to open a thread: {exc}") from exc
        self.thread_id = str((result.get("thread") or {}).get("id") or "")
        return self.thread_id

    def _ensure_server(self) -> AppServer:
        """The running codex, restarted (thread resumed) if it exited; AgentUnavailable past the bound."""
        if self.server is not None and self.server.alive:
            return self.server
        while True:
            self._count_restart()
            try:
                server = self._spawn()
                resumed = self._resume(server)
            except (ConfigError, AgentError) as exc:
                self._last_exit = str(exc)
                continue
            self._announce_restart(resumed)
            return server

    def _resume(self, server: AppServer) -> bool:
        """Resume the node's thread in a fresh codex; a new thread when codex cannot (False)."""
        try:
            server.request("thread/resume", {"threadId": self.thread_id, **self._thread_params()}, REQUEST_TIMEOUT_S)
            return True
        except AgentError:
            result = server.request("thread/start", self._thread_params(), REQUEST_TIMEOUT_S)
            self.thread_id = str((result.get("thread") or {}).get("id") or "")
            return False

    # -- what codex writes (reader thread) -------------------------------------------------------------

    def _on_message(self, message: Message) -> None:
        method = str(message.get("method"))
        params = message.get("params") or {}
        abandoned: list[dict[str, Any]] = []
        ended = False
        with self._state:
            injection_id = self.turn_injection_id
            if not (method == "error" and params.get("willRetry")):
                self._last_progress = time.monotonic()
            item = params.get("item") or {}
            if method == "turn/started" and self._turn_id is None and injection_id is not None:
                self._turn_id = str((params.get("turn") or {}).get("id"))
                self._turn_known.set()
            elif method == "item/started" and item.get("type") in OPEN_ITEM_TYPES:
                self._open_items[str(item.get("id"))] = item
            elif method == "item/completed":
                self._open_items.pop(str(item.get("id")), None)
            elif method == "turn/completed" and (params.get("turn") or {}).get("id") == self._turn_id:
                abandoned, ended = list(self._open_items.values()), True
                self._open_items.clear()
        if "id" in message:
            self._on_request(message, method, params)
        status = (params.get("turn") or {}).get("status") or "interrupted"
        for open_item in abandoned:
            self.emit(injection_id, {"method": NODE_ITEM_ABANDONED, "params": {"item": open_item, "status": status}})
        self.emit(injection_id, message)
        if ended:
            self.approvals.drop_all()
            self._turn_done.set()

    def _on_request(self, message: Message, method: str, params: dict[str, Any]) -> None:
        request_id = message["id"]
        if method in APPROVAL_METHODS:
            details = params.get("permissions") if method == PERMISSIONS_APPROVAL else None
            offered = offered_decisions(method, params)
            self.approvals.open(str(params.get("itemId")), request_id, method, offered, details)
            return
        if self.server is not None:
            refusal = f"Codeswarm cannot put {method} to a user; it is refused so the turn can go on"
            with contextlib.suppress(AgentError):  # codex is gone: its exit is reported
                self.server.respond_error(request_id, -32601, refusal)

    def _on_exit(self, reason: str) -> None:
        self._last_exit = reason
        with self._state:
            injection_id, turn_id = self.turn_injection_id, self._turn_id
            abandoned = list(self._open_items.values())
            self._open_items.clear()
            running = injection_id is not None and not self._turn_done.is_set()
        self.approvals.drop_all()
        if not running:
            return
        for item in abandoned:
            self.emit(injection_id, {"method": NODE_ITEM_ABANDONED, "params": {"item": item, "status": "failed"}})
        self._abort(injection_id, turn_id, reason)

    def _abort(self, injection_id: str | None, turn_id: str | None, message: str) -> None:
        self.emit(injection_id, {"method": NODE_TURN_ABORTED, "params": {"turnId": turn_id, "message": message}})
        self._turn_done.set()

    # -- turns (worker thread) -------------------------------------------------------------------------

    def _begin_turn(self) -> None:
        self._turn_id = None
        self._turn_known.clear()
        self._open_items.clear()
        self._last_progress = time.monotonic()

    def _end_turn(self) -> None:
        self._turn_id = None

    def _play(self, injection: Injection) -> None:
        try:
            server = self._ensure_server()
        except AgentUnavailable as exc:
            self._abort(injection.injection_id, None, str(exc))
            raise
        started = {"threadId": self.thread_id, "input": [_text_input(injection.content)]}
        try:
            result = server.request("turn/start", started, REQUEST_TIMEOUT_S)
        except AgentError as exc:
            if not self._turn_done.is_set():
                self._abort(injection.injection_id, None, f"codex did not start the turn: {exc}")
            return
        with self._state:
            if self._turn_id is None:
                self._turn_id = str((result.get("turn") or {}).get("id"))
            self._turn_known.set()
        self._watch(server)
        if server.alive:
            self._failures_in_a_row = 0  # the bound counts restarts in a row, without a turn between

    def _watch(self, server: AppServer) -> None:
        limit = float(self.params["turn_idle_timeout_s"])
        while not self._turn_done.wait(WATCH_POLL_S):
            if self.stopping.is_set():
                return
            with self._state:
                if self.approvals.waiting():
                    self._last_progress = time.monotonic()  # the user decides; no timeout while they do
                idle = time.monotonic() - self._last_progress
                turn_id = self._turn_id
            if idle < limit:
                continue
            message = f"no progress from codex or the model for {idle:.0f} s; interrupting the turn"
            params = {"turnId": turn_id, "idleS": round(idle, 1), "message": message}
            self.emit(self.turn_injection_id, {"method": NODE_TURN_WATCHDOG, "params": params})
            with contextlib.suppress(AgentError):  # codex may be gone or stuck: the kill below covers it
                server.request("turn/interrupt", {"threadId": self.thread_id, "turnId": turn_id}, INTERRUPT_GRACE_S)
            if not self._turn_done.wait(INTERRUPT_GRACE_S):
                server.kill()  # its exit ends the turn failed; the next turn restarts codex
                self._turn_done.wait(INTERRUPT_GRACE_S)
            return

    # -- from other threads ----------------------------------------------------------------------------

    def _running_turn(self) -> str | None:
        if not self.running.is_set() or not self._turn_known.wait(TURN_ID_WAIT_S):
            return None
        with self._state:
            return None if self._turn_done.is_set() else self._turn_id

    def steer(self, injection: Injection) -> bool:
        turn_id = self._running_turn()
        server = self.server
        if turn_id is None or server is None:
            return False  # nothing to steer: it runs as the next turn
        into = self.turn_injection_id
        params = {"threadId": self.thread_id, "expectedTurnId": turn_id, "input": [_text_input(injection.content)]}
        try:
            server.request("turn/steer", params, REQUEST_TIMEOUT_S)
        except AgentError as exc:
            rejected = {"method": NODE_STEER_REJECTED, "params": {"turnId": turn_id, "message": str(exc)}}
            self.emit(injection.injection_id, rejected)
            return True
        steered = {"turnId": turn_id, "intoInjectionId": into}
        self.emit(injection.injection_id, {"method": NODE_INJECTION_STEERED, "params": steered})
        return True

    def interrupt(self) -> bool:
        turn_id = self._running_turn()
        server = self.server
        if turn_id is None or server is None:
            return False
        try:
            server.request("turn/interrupt", {"threadId": self.thread_id, "turnId": turn_id}, REQUEST_TIMEOUT_S)
        except AgentError:
            return False
        return True

    def answer_agent(self, pending: PendingApproval, decision: str) -> str | None:
        server = self.server
        if server is None:
            return "codex is not running"
        try:
            server.respond(pending.request_id, _approval_result(pending, decision))
        except AgentError as exc:
            return f"could not answer codex: {exc}"
        return None

    def stop(self) -> None:
        super().stop()
        server = self.server
        if server is not None:
            server.close()


def _text_input(content: str) -> dict[str, Any]:
    return {"type": "text", "text": content, "text_elements": []}


def _approval_result(pending: PendingApproval, decision: str) -> dict[str, Any]:
    if pending.method != PERMISSIONS_APPROVAL:
        return {"decision": pending.decision}
    if decision == "decline":
        return {"permissions": {}}
    return {"permissions": pending.details or {}, "scope": "session" if decision == "acceptForSession" else "turn"}

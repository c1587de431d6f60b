"""One turn of a runtime, written as codex writes it: the notifications, their ids and timing.

`begin` → items (user message, reasoning, commands, agent message, usage) → `finish`.  Pauses between
deltas are interruptible: once the turn is interrupted (the user's interrupt, or the runtime stopping)
they raise `TurnInterrupted`, and the runtime ends the turn with status "interrupted" (as codex does
after `turn/interrupt`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from services.node.runtimes import shapes
from services.node.runtimes.approvals import COMMAND_DECISIONS, ApprovalDesk
from services.node.runtimes.commands import CommandResult, CommandRunner

Emit = Callable[[str | None, dict[str, Any]], None]


class TurnInterrupted(Exception):
    """The runtime is stopping; the turn ends now."""


class TurnFailed(Exception):
    """The turn cannot go on (e.g. the model keeps failing); it ends "failed" with this message."""


class Turn:
    def __init__(
        self,
        thread_id: str,
        injection_id: str | None,
        emit: Emit,
        interrupting: threading.Event,
        commands: CommandRunner,
    ) -> None:
        self.thread_id = thread_id
        self.injection_id = injection_id
        self.turn_id = shapes.new_id()
        self._emit = emit
        self._interrupting = interrupting
        self._commands = commands
        self._started_s = int(time.time())
        self._started_monotonic = time.monotonic()
        self.final_items: list[shapes.Item] = []  # what `turn/completed` lists (codex: the agent messages)

    # -- plumbing -------------------------------------------------------------------------------------

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._emit(self.injection_id, shapes.notification(method, params))

    def _ids(self) -> dict[str, str]:
        return {"threadId": self.thread_id, "turnId": self.turn_id}

    def pause(self, seconds: float) -> None:
        """Wait between deltas; raises TurnInterrupted once the turn is interrupted (also with seconds = 0)."""
        if self._interrupting.wait(seconds) if seconds > 0 else self._interrupting.is_set():
            raise TurnInterrupted()

    def item_started(self, item: shapes.Item) -> None:
        self.notify("item/started", {"item": item, **self._ids(), "startedAtMs": item["startedAtMs"]})

    def item_completed(self, item: shapes.Item) -> None:
        params = {"item": item, **self._ids(), "contentTokenCount": None, "completedAtMs": item["completedAtMs"]}
        self.notify("item/completed", params)

    def delta(self, method: str, item_id: str, delta: str, **extra: Any) -> None:
        self.notify(method, {**self._ids(), "itemId": item_id, "delta": delta, **extra})

    # -- the turn -------------------------------------------------------------------------------------

    def begin(self) -> None:
        status = {"type": "active", "activeFlags": []}
        self.notify("thread/status/changed", {"threadId": self.thread_id, "status": status})
        turn = shapes.turn(self.turn_id, "inProgress", self._started_s)
        self.notify("turn/started", {"threadId": self.thread_id, "turn": turn})

    def finish(self, status: str, error: str | None = None) -> None:
        """status: "completed", "interrupted" or "failed" (with the error's message)."""
        self.notify("thread/status/changed", {"threadId": self.thread_id, "status": {"type": "idle"}})
        completed = status == "completed"
        turn = shapes.turn(
            self.turn_id,
            status,
            self._started_s,
            items=self.final_items if completed else [],
            items_view="summary" if completed else "notLoaded",
            completed_at=int(time.time()),
            duration_ms=int((time.monotonic() - self._started_monotonic) * 1000),
            error={"message": error} if error else None,
        )
        self.notify("turn/completed", {"threadId": self.thread_id, "turn": turn})

    def user_message(self, text: str) -> None:
        started = shapes.now_ms()
        item_id = shapes.new_id()
        self.item_started(shapes.user_message(item_id, text, started, None))
        self.item_completed(shapes.user_message(item_id, text, started, started))

    def reasoning(self, deltas: list[str], pause_s: float) -> str:
        """A reasoning item with one summary part streamed as `deltas`; the summary text."""
        return self._streamed("reasoning", deltas, pause_s)

    def agent_message(self, deltas: list[str], pause_s: float) -> str:
        """The answer, streamed as `deltas`; the full text."""
        return self._streamed("agentMessage", deltas, pause_s)

    def _streamed(self, kind: str, deltas: list[str], pause_s: float) -> str:
        item = StreamedText(self, kind)
        for delta in deltas:
            self.pause(pause_s)
            item.add(delta)
        return item.close()

    def error(self, message: str, will_retry: bool, code: str = "other") -> None:
        """A model error, as codex reports one: a warning when it will be retried, else final."""
        error = {"message": message, "codexErrorInfo": code, "additionalDetails": None}
        self.notify("error", {"error": error, "willRetry": will_retry, **self._ids()})

    def file_change(
        self, path: str, kind: str, diff: str, decide: Callable[[str], bool], apply: Callable[[], None]
    ) -> bool:
        """A file change item (kind "add" or "update"): `decide(item_id)` may decline it (False), else
        `apply()` makes the change before the item completes."""
        item_id = shapes.new_id("call_")
        started = shapes.now_ms()
        self.item_started(shapes.file_change(item_id, path, kind, diff, "inProgress", started, None))
        accepted = decide(item_id)
        if accepted:
            apply()
        status = "completed" if accepted else "declined"
        self.item_completed(shapes.file_change(item_id, path, kind, diff, status, started, shapes.now_ms()))
        return accepted

    def _status(self, flags: list[str]) -> None:
        status = {"type": "active", "activeFlags": flags}
        self.notify("thread/status/changed", {"threadId": self.thread_id, "status": status})

    def _ask(
        self, method: str, params: dict[str, Any], desk: ApprovalDesk, request_id: int, offered: tuple[str, ...]
    ) -> str:
        """Put an approval request (a server → client request, as codex sends it) and wait for the answer,
        interruptibly; the decision's name."""
        item_id = str(params["itemId"])
        pending = desk.open(item_id, request_id, method, offered)
        self._emit(self.injection_id, {"method": method, "id": request_id, "params": params})
        while not pending.answered.wait(0.05):
            if self._interrupting.is_set():
                raise TurnInterrupted()
        if pending.decision is None:  # dropped: the turn is ending
            raise TurnInterrupted()
        self.notify("serverRequest/resolved", {"threadId": self.thread_id, "requestId": request_id})
        self._status([])
        return str(pending.decision)

    def ask_approval(self, command: str, cwd: str, desk: ApprovalDesk, request_id: int) -> str | None:
        """Ask, as codex asks, before running `command`; the item id when accepted, None when declined.
        Waits for the answer (interruptibly); "cancel" declines and ends the turn."""
        item_id = shapes.new_id("call_")
        started = shapes.now_ms()
        self._status(["waitingOnApproval"])
        self.item_started(shapes.command_execution(item_id, command, cwd, None, started))
        params = shapes.approval_request(
            self.thread_id, self.turn_id, item_id, command, cwd, started, list(COMMAND_DECISIONS)
        )
        decision = self._ask(shapes.COMMAND_APPROVAL, params, desk, request_id, COMMAND_DECISIONS)
        if decision in ("accept", "acceptForSession"):
            return item_id
        item = shapes.command_execution(
            item_id, command, cwd, None, started, status="declined", completed_ms=shapes.now_ms()
        )
        self.item_completed(item)
        if decision == "cancel":
            raise TurnInterrupted()
        return None

    def ask_file_approval(self, item_id: str, path: str, desk: ApprovalDesk, request_id: int) -> bool:
        """Ask before a file change (`item/fileChange/requestApproval`); True when accepted."""
        self._status(["waitingOnApproval"])
        params = {
            "threadId": self.thread_id,
            "turnId": self.turn_id,
            "itemId": item_id,
            "startedAtMs": shapes.now_ms(),
            "reason": f"The agent wants to write {path} in the workspace.",
            "grantRoot": None,
        }
        decision = self._ask(shapes.FILE_CHANGE_APPROVAL, params, desk, request_id, COMMAND_DECISIONS)
        if decision == "cancel":
            raise TurnInterrupted()
        return decision in ("accept", "acceptForSession")

    def command(
        self, command: str, cwd: str, item_id: str | None = None, timeout_s: float | None = None
    ) -> CommandResult:
        """Run a shell command for real: item/started (unless an approval announced it as `item_id`),
        output deltas as they come, item/completed.  Past `timeout_s` it is killed and exits 124."""
        process = self._commands.start(command, cwd)
        if process is None:
            raise TurnInterrupted()
        if self._interrupting.is_set():
            process.kill()
        timed_out = threading.Event()

        def time_out() -> None:
            timed_out.set()
            process.kill()

        timer = threading.Timer(timeout_s or 0, time_out)
        if timeout_s:
            timer.daemon = True
            timer.start()
        started = shapes.now_ms()
        if item_id is None:
            item_id = shapes.new_id("call_")
            self.item_started(shapes.command_execution(item_id, command, cwd, process.pid, started))
        try:
            result = process.collect(lambda text: self.delta("item/commandExecution/outputDelta", item_id, text))
        finally:
            timer.cancel()
            self._commands.done(process)
        if result.killed and not timed_out.is_set():
            raise TurnInterrupted()  # codex never completes the item of an interrupted command
        if timed_out.is_set():
            note = f"\n[killed: no exit within {timeout_s:g} s]\n"
            self.delta("item/commandExecution/outputDelta", item_id, note)
            result = CommandResult(124, result.output + note, result.duration_ms, True, result.output_chars)
        item = shapes.command_execution(
            item_id,
            command,
            cwd,
            process.pid,
            started,
            status="completed" if result.exit_code == 0 else "failed",
            output=result.output,
            exit_code=result.exit_code,
            duration_ms=result.duration_ms,
            completed_ms=shapes.now_ms(),
            output_chars=result.output_chars if result.truncated else None,
        )
        self.item_completed(item)
        return result

    def usage(self, total: dict[str, int], last: dict[str, int]) -> None:
        """`total` is cumulative over the thread, `last` is this turn's."""
        token_usage = {"total": total, "last": last, "modelContextWindow": shapes.MODEL_CONTEXT_WINDOW}
        self.notify("thread/tokenUsage/updated", {**self._ids(), "tokenUsage": token_usage})


class StreamedText:
    """A reasoning or agentMessage item whose text arrives in pieces: started at once, one delta per
    piece, completed by `close` (an answer also becomes one of the turn's final items)."""

    def __init__(self, turn: Turn, kind: str) -> None:
        self.turn, self.kind = turn, kind
        self.item_id = shapes.new_id("rs_" if kind == "reasoning" else "msg_")
        self.started = shapes.now_ms()
        self.parts: list[str] = []
        turn.item_started(self._item(None))
        if kind == "reasoning":
            turn.notify("item/reasoning/summaryPartAdded", {**turn._ids(), "itemId": self.item_id, "summaryIndex": 0})

    def _item(self, completed_ms: int | None) -> shapes.Item:
        text = "".join(self.parts)
        if self.kind == "reasoning":
            return shapes.reasoning(self.item_id, [text] if completed_ms else [], self.started, completed_ms)
        return shapes.agent_message(self.item_id, text if completed_ms else "", self.started, completed_ms)

    def add(self, text: str) -> None:
        self.parts.append(text)
        if self.kind == "reasoning":
            self.turn.delta("item/reasoning/summaryTextDelta", self.item_id, text, summaryIndex=0)
        else:
            self.turn.delta("item/agentMessage/delta", self.item_id, text)

    def close(self) -> str:
        item = self._item(shapes.now_ms())
        self.turn.item_completed(item)
        if self.kind == "agentMessage":
            self.turn.final_items.append(item)
        return "".join(self.parts)

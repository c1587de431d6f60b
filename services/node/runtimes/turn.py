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

    def finish(self, status: str) -> None:
        """status: "completed" or "interrupted"."""
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
        )
        self.notify("turn/completed", {"threadId": self.thread_id, "turn": turn})

    def user_message(self, text: str) -> None:
        started = shapes.now_ms()
        item_id = shapes.new_id()
        self.item_started(shapes.user_message(item_id, text, started, None))
        self.item_completed(shapes.user_message(item_id, text, started, started))

    def reasoning(self, deltas: list[str], pause_s: float) -> str:
        """A reasoning item with one summary part streamed as `deltas`; the summary text."""
        item_id = shapes.new_id("rs_")
        started = shapes.now_ms()
        self.item_started(shapes.reasoning(item_id, [], started, None))
        self.notify("item/reasoning/summaryPartAdded", {**self._ids(), "itemId": item_id, "summaryIndex": 0})
        for delta in deltas:
            self.pause(pause_s)
            self.delta("item/reasoning/summaryTextDelta", item_id, delta, summaryIndex=0)
        summary = "".join(deltas)
        self.item_completed(shapes.reasoning(item_id, [summary], started, shapes.now_ms()))
        return summary

    def agent_message(self, deltas: list[str], pause_s: float) -> str:
        """The answer, streamed as `deltas`; the full text."""
        item_id = shapes.new_id("msg_")
        started = shapes.now_ms()
        self.item_started(shapes.agent_message(item_id, "", started, None))
        for delta in deltas:
            self.pause(pause_s)
            self.delta("item/agentMessage/delta", item_id, delta)
        text = "".join(deltas)
        item = shapes.agent_message(item_id, text, started, shapes.now_ms())
        self.item_completed(item)
        self.final_items.append(item)
        return text

    def _status(self, flags: list[str]) -> None:
        status = {"type": "active", "activeFlags": flags}
        self.notify("thread/status/changed", {"threadId": self.thread_id, "status": status})

    def ask_approval(self, command: str, cwd: str, desk: ApprovalDesk, request_id: int) -> str | None:
        """Ask, as codex asks, before running `command`; the item id when accepted, None when declined.
        Waits for the answer (interruptibly); "cancel" declines and ends the turn."""
        item_id = shapes.new_id("call_")
        started = shapes.now_ms()
        self._status(["waitingOnApproval"])
        self.item_started(shapes.command_execution(item_id, command, cwd, None, started))
        pending = desk.open(item_id, request_id, shapes.COMMAND_APPROVAL, COMMAND_DECISIONS)
        params = shapes.approval_request(self.thread_id, self.turn_id, item_id, command, cwd, started, pending.names)
        self._emit(self.injection_id, {"method": shapes.COMMAND_APPROVAL, "id": request_id, "params": params})
        while not pending.answered.wait(0.05):
            if self._interrupting.is_set():
                raise TurnInterrupted()
        if pending.decision is None:  # dropped: the turn is ending
            raise TurnInterrupted()
        self.notify("serverRequest/resolved", {"threadId": self.thread_id, "requestId": request_id})
        self._status([])
        if pending.decision in ("accept", "acceptForSession"):
            return item_id
        item = shapes.command_execution(
            item_id, command, cwd, None, started, status="declined", completed_ms=shapes.now_ms()
        )
        self.item_completed(item)
        if pending.decision == "cancel":
            raise TurnInterrupted()
        return None

    def command(self, command: str, cwd: str, item_id: str | None = None) -> CommandResult:
        """Run a shell command for real: item/started (unless an approval announced it as `item_id`),
        output deltas as they come, item/completed."""
        process = self._commands.start(command, cwd)
        if process is None:
            raise TurnInterrupted()
        if self._interrupting.is_set():
            process.kill()
        started = shapes.now_ms()
        if item_id is None:
            item_id = shapes.new_id("call_")
            self.item_started(shapes.command_execution(item_id, command, cwd, process.pid, started))
        try:
            result = process.collect(lambda text: self.delta("item/commandExecution/outputDelta", item_id, text))
        finally:
            self._commands.done(process)
        if result.killed:
            raise TurnInterrupted()  # codex never completes the item of an interrupted command
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
        )
        self.item_completed(item)
        return result

    def usage(self, total: dict[str, int], last: dict[str, int]) -> None:
        """`total` is cumulative over the thread, `last` is this turn's."""
        token_usage = {"total": total, "last": last, "modelContextWindow": shapes.MODEL_CONTEXT_WINDOW}
        self.notify("thread/tokenUsage/updated", {**self._ids(), "tokenUsage": token_usage})

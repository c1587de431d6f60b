"""What the runtimes that drive an agent process (codex, claude) share: the watchdog and restart params,
the bound on restarts in a row with its back-off, and the agent's unreadable lines."""

from __future__ import annotations

import threading
from abc import abstractmethod
from typing import Any

from services.node.messages import Injection
from services.node.records import NODE_AGENT_RESTARTED, NODE_BAD_AGENT_LINE
from services.node.runtimes.base import Param, Runtime, integer, number


class AgentUnavailable(Exception):
    """The agent cannot be (re)started; the node program ends with this reason."""


def watchdog_params(agent: str, silence: str) -> tuple[Param, ...]:
    """`turn_idle_timeout_s` (a turn without `silence` that long is interrupted) and `max_restarts`."""
    return (
        Param("turn_idle_timeout_s", 600, number(0.5, 86_400), f"a turn without {silence} this long is interrupted"),
        Param("max_restarts", 3, integer(0, 20), f"restarts of an exited {agent} in a row before the node gives up"),
    )


class AgentRuntime(Runtime):
    """A runtime whose turns an agent process plays; `_state` guards what its reader thread shares."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._state = threading.Lock()
        self._turn_done = threading.Event()  # set once the running turn's last message is written
        self._failures_in_a_row = 0
        self._last_exit = ""

    def run_turn(self, injection: Injection) -> None:
        with self._state:
            self.turn_injection_id = injection.injection_id
            self._turn_done.clear()
            self._begin_turn()
        self.running.set()
        try:
            self._play(injection)
        finally:
            self.running.clear()
            with self._state:
                self.turn_injection_id = None
                self._end_turn()

    @abstractmethod
    def _begin_turn(self) -> None:
        """Reset the runtime's own state for a new turn (under `_state`)."""

    def _end_turn(self) -> None:
        """Forget what only the turn that ended needed (under `_state`)."""

    @abstractmethod
    def _play(self, injection: Injection) -> None:
        """Hand the injection to the agent and wait for the turn's end."""

    def _count_restart(self) -> None:
        """One more restart in a row, after its back-off; AgentUnavailable past `max_restarts` or when stopping."""
        if self._failures_in_a_row >= int(self.params["max_restarts"]):
            raise AgentUnavailable(
                f"{self.name} exited {self._failures_in_a_row} times in a row; giving up. Last: {self._last_exit}"
            )
        self._failures_in_a_row += 1
        if self.stopping.wait(min(2 ** (self._failures_in_a_row - 1) * 0.5, 30.0)):
            raise AgentUnavailable("the node program is stopping")

    def _announce_restart(self, resumed: bool) -> None:
        params = {"attempt": self._failures_in_a_row, "threadId": self.thread_id, "resumed": resumed}
        self.emit(self.turn_injection_id, {"method": NODE_AGENT_RESTARTED, "params": params})

    def _on_bad_line(self, line: str, error: str) -> None:
        with self._state:
            injection_id = self.turn_injection_id
        self.emit(injection_id, {"method": NODE_BAD_AGENT_LINE, "params": {"line": line, "error": error}})

"""The runtime interface the node program drives, and validation of `runtime_params`.

A runtime is created with its workspace, an `emit(injection_id, message)` callback (each message is
one raw runtime message, written as a `runtime` outbox record) and its validated params.  `start()`
opens the thread; `run_turn(injection)` runs one turn to its end, emitting as it goes.  The program
calls `steer(injection)` for a steer that arrives while a turn runs and `resolve_approval(...)` for an
approval answer, both from another thread; `stop()` (any thread) ends the running turn early.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from services.node.errors import ConfigError
from services.node.messages import Injection
from services.node.runtimes import shapes
from services.node.runtimes.commands import CommandRunner
from services.node.runtimes.turn import Emit, Turn, TurnInterrupted


@dataclass(frozen=True)
class Param:
    """One accepted `runtime_params` key: its default and a check returning an error text or None."""

    name: str
    default: Any
    check: Callable[[Any], str | None]
    help: str


def integer(low: int, high: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer, not {type(value).__name__}"
        return None if low <= value <= high else f"must be between {low} and {high}"

    return check


def number(low: float, high: float) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, not {type(value).__name__}"
        return None if low <= value <= high else f"must be between {low:g} and {high:g}"

    return check


def validate_params(runtime: str, accepted: tuple[Param, ...], given: Mapping[str, Any]) -> dict[str, Any]:
    """Every accepted param with its value (given or default); ConfigError for anything else."""
    valid = ", ".join(sorted(param.name for param in accepted)) or "(none)"
    unknown = sorted(set(given) - {param.name for param in accepted})
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise ConfigError(f"unknown runtime_params key(s) {names} for runtime {runtime!r}; valid keys: {valid}")
    values: dict[str, Any] = {}
    for param in accepted:
        value = given.get(param.name, param.default)
        problem = param.check(value)
        if problem:
            raise ConfigError(f"runtime_params {param.name!r} for runtime {runtime!r} {problem} (got {value!r})")
        values[param.name] = value
    return values


class Runtime(ABC):
    name: ClassVar[str]
    params_accepted: ClassVar[tuple[Param, ...]] = ()

    def __init__(
        self, workspace: str, emit: Emit, params: Mapping[str, Any] | None = None, system_prompt: str | None = None
    ) -> None:
        self.workspace = workspace
        self.emit = emit
        self.params = validate_params(self.name, self.params_accepted, params or {})
        self.system_prompt = system_prompt or ""
        self.thread_id = ""
        self.stopping = threading.Event()
        self.commands = CommandRunner()

    def start(self) -> str:
        """Open the thread the turns belong to; its id."""
        self.thread_id = shapes.new_id()
        return self.thread_id

    def run_turn(self, injection: Injection) -> None:
        """Run one turn for the injection, from `turn/started` to `turn/completed`."""
        turn = Turn(self.thread_id, injection.injection_id, self.emit, self.stopping, self.commands)
        turn.begin()
        try:
            self.play(turn, injection)
        except TurnInterrupted:
            turn.finish("interrupted")
        else:
            turn.finish("completed")

    @abstractmethod
    def play(self, turn: Turn, injection: Injection) -> None:
        """The items of one turn, between `turn.begin()` and `turn.finish()`."""

    def steer(self, injection: Injection) -> bool:
        """Add the injection to the running turn; False = not supported, the program queues it at the head."""
        return False

    def resolve_approval(self, call_id: str, decision: str) -> bool:
        """Answer a pending approval request; False = no such request."""
        return False

    def stop(self) -> None:
        """End the running turn (if any) as soon as possible and refuse further work."""
        self.stopping.set()
        self.commands.stop()

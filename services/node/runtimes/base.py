"""The runtime interface the node program drives, and validation of `runtime_params`.

A runtime is created with its workspace, an `emit(injection_id, message)` callback (each message is
one raw runtime message, written as a `runtime` outbox record) and its validated params.  `start()`
opens the thread; `run_turn(injection)` runs one turn to its end, emitting as it goes.  From another
thread the program calls `steer(injection)` for a steer, `resolve_approval(...)` for an approval answer
and `interrupt()` for the user's interrupt; `stop()` (any thread) ends the running turn early and for good.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from services.node.errors import ConfigError
from services.node.messages import Injection
from services.node.records import NODE_APPROVAL_ANSWERED
from services.node.runtimes import shapes
from services.node.runtimes.approvals import ApprovalDesk, ApprovalError, PendingApproval
from services.node.runtimes.commands import CommandRunner
from services.node.runtimes.turn import Emit, Turn, TurnFailed, TurnInterrupted


@dataclass(frozen=True)
class Param:
    """One accepted `runtime_params` key: its default and a check returning an error text or None."""

    name: str
    default: Any
    check: Callable[[Any], str | None]
    help: str
    options: tuple[str, ...] | None = None  # the valid values, for a choice


def choice(options: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in options else f"must be one of {', '.join(options)}"

    return check


def text(max_length: int, optional: bool = True) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            return "must be a non-empty string"
        return None if len(value) <= max_length else f"must be at most {max_length} characters"

    return check


def optional(check: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    """The check, or None (not given) accepted."""
    return lambda value: None if value is None else check(value)


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


def check_runtime_params(runtime: str, accepted: tuple[Param, ...], given: Mapping[str, Any]) -> dict[str, Any]:
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
    """`home`: a private directory (0700, outside the workspace) for the agent's own state; `secret`: the
    model endpoint's key, never written to disk or passed on a command line by the node program."""

    name: ClassVar[str]
    params_accepted: ClassVar[tuple[Param, ...]] = ()
    provider_params: ClassVar[tuple[str, ...]] = ()  # set by the provider's settings, never by a launch
    key_param: ClassVar[str] = "env_key"  # the param naming the router's variable that holds the model key
    model_listing: ClassVar[str | None] = None  # where base_url lists the models it serves, if it does

    def __init__(
        self,
        workspace: str,
        emit: Emit,
        params: Mapping[str, Any] | None = None,
        system_prompt: str | None = None,
        home: str = "",
        secret: str | None = None,
    ) -> None:
        self.workspace = workspace
        self.home = home
        self.secret = secret
        self.emit = emit
        self.params = check_runtime_params(self.name, self.params_accepted, params or {})
        self.system_prompt = system_prompt or ""
        self.thread_id = ""
        self.stopping = threading.Event()
        self.interrupting = threading.Event()  # set by stop() and by interrupt(); cleared when a turn begins
        self.running = threading.Event()  # a turn is under way
        self.commands = CommandRunner()
        self.approvals = ApprovalDesk()
        self.turn_injection_id: str | None = None  # the injection of the running turn

    def start(self) -> str:
        """Open the thread the turns belong to; its id."""
        self.thread_id = shapes.new_id()
        return self.thread_id

    @abstractmethod
    def run_turn(self, injection: Injection) -> None:
        """Run one turn for the injection, from `turn/started` to `turn/completed`."""

    def steer(self, injection: Injection) -> bool:
        """Add the injection to the running turn; False = not supported, the program queues it at the head."""
        return False

    def resolve_approval(self, call_id: str, decision: str) -> str | None:
        """Answer a pending approval request; None when answered, else why it cannot be."""
        try:
            pending = self.approvals.answer(call_id, decision)
        except ApprovalError as exc:
            return str(exc)
        problem = self.answer_agent(pending, decision)
        if problem is None:
            self.announce_answer(pending, decision)
        return problem

    def answer_agent(self, pending: PendingApproval, decision: str) -> str | None:
        """Pass an answered approval on to the agent; None when it took it, else why it could not."""
        return None

    def announce_answer(self, pending: PendingApproval, decision: str) -> None:
        params = {"callId": pending.call_id, "requestId": pending.request_id, "decision": decision}
        self.emit(self.turn_injection_id, {"method": NODE_APPROVAL_ANSWERED, "params": params})

    def interrupt(self) -> bool:
        """End the running turn now, as `turn/interrupt` does; False when no turn is running."""
        if not self.running.is_set():
            return False
        self.interrupting.set()
        self.commands.kill_running()
        return True

    def stop(self) -> None:
        """End the running turn (if any) as soon as possible and refuse further work."""
        self.stopping.set()
        self.interrupting.set()
        self.commands.stop()


class ScriptedRuntime(Runtime):
    """A runtime that plays each turn itself (no agent process), written as codex writes it."""

    def run_turn(self, injection: Injection) -> None:
        if not self.stopping.is_set():
            self.interrupting.clear()
        turn = Turn(self.thread_id, injection.injection_id, self.emit, self.interrupting, self.commands)
        self.turn_injection_id = injection.injection_id
        self.running.set()
        turn.begin()
        try:
            self.play(turn, injection)
        except TurnInterrupted:
            self.approvals.drop_all()
            turn.finish("interrupted")
        except TurnFailed as exc:
            self.approvals.drop_all()
            turn.finish("failed", str(exc))
        else:
            turn.finish("completed")
        finally:
            self.running.clear()
            self.turn_injection_id = None

    @abstractmethod
    def play(self, turn: Turn, injection: Injection) -> None:
        """The items of one turn, between `turn.begin()` and `turn.finish()`."""

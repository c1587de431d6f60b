"""The inbox lines the node program understands, parsed into values."""

from __future__ import annotations

from dataclasses import dataclass

from services.node.records import MODE_QUEUE, MODE_STEER


@dataclass(frozen=True)
class Injection:
    """A prompt for the runtime; `mode` is "queue" or "steer"."""

    injection_id: str
    content: str
    mode: str = MODE_QUEUE

    @property
    def steer(self) -> bool:
        return self.mode == MODE_STEER


@dataclass(frozen=True)
class Approval:
    """The user's answer to a runtime's approval request."""

    call_id: str
    decision: str


@dataclass(frozen=True)
class Interrupt:
    """The user's request to end the running turn now."""


@dataclass(frozen=True)
class BadLine:
    """An inbox line the node cannot use; reported as an `inbox_error` record."""

    line: str
    error: str
    injection_id: str | None = None


InboxItem = Injection | Approval | Interrupt | BadLine

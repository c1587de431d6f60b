"""Approval requests a runtime has asked and not yet had answered, by call id (the item they are about).

A request offers `available decisions`: plain names ("accept", "decline", ...) or one-key objects such
as ``{"acceptWithExecpolicyAmendment": {...}}``.  The user answers with a name; the value sent back to
the agent is the offered one, so an object decision keeps the details the agent proposed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

COMMAND_DECISIONS = ("accept", "acceptForSession", "decline", "cancel")
PERMISSION_DECISIONS = ("accept", "acceptForSession", "decline")
PERMISSIONS_APPROVAL = "item/permissions/requestApproval"


def offered_decisions(method: str, params: dict[str, Any]) -> list[Any]:
    """What the user may answer to an approval request (the values sent back, in codex's order).

    Codex's own list, plus "decline" where it leaves it out: codex 0.169.0 offers only accept, an
    execpolicy amendment and cancel under `untrusted`, yet takes "decline" (the command is declined
    and the turn goes on), and an operator must be able to say no without ending the turn."""
    if method == PERMISSIONS_APPROVAL:
        return list(PERMISSION_DECISIONS)
    offered = list(params.get("availableDecisions") or COMMAND_DECISIONS)
    if "decline" not in offered:
        offered.insert(offered.index("cancel") if "cancel" in offered else len(offered), "decline")
    return offered


def decision_name(value: Any) -> str:
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value)))
    return str(value)


@dataclass
class PendingApproval:
    call_id: str
    request_id: int | str  # the id of the agent's JSON-RPC request
    method: str
    choices: dict[str, Any]  # decision name → the value answered
    details: Any = None  # what the request asked for, when the answer must repeat it (permissions)
    answered: threading.Event = field(default_factory=threading.Event)
    decision: Any = None

    @property
    def names(self) -> list[str]:
        return list(self.choices)


class ApprovalError(Exception):
    """The answer cannot be used; the message says why (no such call, or a decision not offered)."""


class ApprovalDesk:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, PendingApproval] = {}

    def open(
        self, call_id: str, request_id: int | str, method: str, offered: Sequence[Any], details: Any = None
    ) -> PendingApproval:
        choices = {decision_name(value): value for value in offered}
        pending = PendingApproval(call_id, request_id, method, choices, details)
        with self._lock:
            self._pending[call_id] = pending
        return pending

    def answer(self, call_id: str, decision: str) -> PendingApproval:
        """Record the user's decision; the pending request, now answered."""
        with self._lock:
            pending = self._pending.get(call_id)
            if pending is None:
                raise ApprovalError(f"no pending approval {call_id!r}")
            if decision not in pending.choices:
                raise ApprovalError(
                    f"decision {decision!r} is not offered for {call_id!r}; available: {', '.join(pending.names)}"
                )
            del self._pending[call_id]
        pending.decision = pending.choices[decision]
        pending.answered.set()
        return pending

    def waiting(self) -> bool:
        with self._lock:
            return bool(self._pending)

    def drop_all(self) -> list[PendingApproval]:
        """Forget every pending request (its turn ended); the ones dropped."""
        with self._lock:
            dropped = list(self._pending.values())
            self._pending.clear()
        for pending in dropped:
            pending.answered.set()
        return dropped

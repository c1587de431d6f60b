"""The read model: the swarms as the router's events and swarm list describe them.

It holds only what the router said — a swarm is added by an event that carries the whole swarm
(``swarm_launch_progress``/``swarm_launched``) or by the router's list, updated by lifecycle events,
and dropped by ``swarm_removed`` or by a reconcile that no longer finds it.  It never guesses a state.

``position`` is the id of the last bus entry applied, so ``state()`` is a consistent snapshot: it
reflects exactly the events up to ``last_event_id`` (plus the router's answers).  ``live`` keeps each
node's latest turn from the same events (mirror/live_turns.py), at the same position.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mirror.items import EntryKey, entry_key
from mirror.live_turns import LiveTurns
from services.bus.base import START_ID
from services.protocol import ENDED_STATUSES, HIDDEN_STATUSES, EventName

Swarm = dict[str, Any]
NEVER: EntryKey = (-1, -1)

# The fields a reconcile compares to decide whether clients must hear about a correction
# (heartbeat times change all the time and are not worth an event).
_LIFECYCLE_FIELDS = ("status", "health", "reason", "health_reason", "job_id", "terminated_at", "node_count")


@dataclass(slots=True)
class ReconcileOutcome:
    removed: list[Swarm] = field(default_factory=list)  # the router no longer lists them
    changed: list[Swarm] = field(default_factory=list)  # new to the mirror, or corrected by the router


def _lifecycle_signature(swarm: Swarm) -> tuple[Any, ...]:
    nodes = swarm.get("nodes") or []
    node_states = tuple(sorted((n.get("node_id"), n.get("status")) for n in nodes if isinstance(n, dict)))
    return (*(swarm.get(name) for name in _LIFECYCLE_FIELDS), node_states)


def _valid_swarm(candidate: Any) -> bool:
    return isinstance(candidate, dict) and isinstance(candidate.get("swarm_id"), str)


class ReadModel:
    def __init__(self) -> None:
        self.swarms: dict[str, Swarm] = {}
        self.position: str = START_ID
        self.position_key: EntryKey = entry_key(START_ID)
        self.version = 0  # grows with every change (the snapshot writer watches it)
        self._touched: dict[str, EntryKey] = {}  # swarm_id → key of the last entry that changed it
        self.live = LiveTurns()

    # -- events ------------------------------------------------------------------------------------

    def advance(self, entry_id: str, key: EntryKey) -> None:
        self.position, self.position_key = entry_id, key

    def apply(self, event: str, envelope: dict[str, Any], key: EntryKey) -> None:
        """Apply one event (any event: only lifecycle ones change the model; execution ones feed ``live``)."""
        data = envelope.get("data")
        if not isinstance(data, dict):
            return
        self.live.apply(event, data, envelope.get("timestamp"))
        handler = _HANDLERS.get(event)
        if handler is not None and handler(self, data, envelope):
            swarm_id = data.get("swarm_id")
            if isinstance(swarm_id, str):
                self._touched[swarm_id] = key
            self.version += 1

    def _put_whole(self, data: dict[str, Any], _envelope: dict[str, Any]) -> bool:
        swarm = data.get("swarm")
        if not isinstance(swarm, dict) or not _valid_swarm(swarm):
            return False
        if swarm.get("status") in HIDDEN_STATUSES:
            return self.swarms.pop(swarm["swarm_id"], None) is not None
        self.swarms[swarm["swarm_id"]] = dict(swarm)
        return True

    def _status(self, data: dict[str, Any], envelope: dict[str, Any]) -> bool:
        swarm = self.swarms.get(data.get("swarm_id"))  # type: ignore[arg-type]
        if swarm is None:
            return False  # unknown swarm: wait for the router's list rather than make one up
        status = data.get("status")
        if status in HIDDEN_STATUSES:
            del self.swarms[swarm["swarm_id"]]
            return True
        for name in ("status", "health", "reason", "health_reason"):
            if name in data:
                swarm[name] = data[name]
        if data.get("job_id") and not swarm.get("job_id"):
            swarm["job_id"] = data["job_id"]
        if status in ENDED_STATUSES and not swarm.get("terminated_at"):
            swarm["terminated_at"] = envelope.get("timestamp")  # the router's list gives the exact value
        return True

    def _removed(self, data: dict[str, Any], _envelope: dict[str, Any]) -> bool:
        return self.swarms.pop(data.get("swarm_id"), None) is not None  # type: ignore[arg-type]

    def _node(self, data: dict[str, Any], _envelope: dict[str, Any]) -> bool:
        swarm = self.swarms.get(data.get("swarm_id"))  # type: ignore[arg-type]
        node_id = data.get("node_id")
        if swarm is None or not isinstance(node_id, int):
            return False
        node = {"node_id": node_id, "status": data.get("status"), "last_heartbeat_at": data.get("last_heartbeat_at")}
        nodes = [n for n in swarm.get("nodes") or [] if n.get("node_id") != node_id]
        nodes.append(node)
        nodes.sort(key=lambda n: n.get("node_id", 0))
        swarm["nodes"] = nodes
        return True

    # -- reconciliation ----------------------------------------------------------------------------

    def reconcile(self, listed: list[Swarm], asked_at: EntryKey) -> ReconcileOutcome:
        """Make the model agree with the router's list, fetched when the model was at ``asked_at``.

        The router's fields win.  The one exception is a swarm an event changed *after* the list was
        asked for: that event is newer router truth than the answer (the router commits a change before
        it relays the event), so it stays until the next reconcile settles it.
        """
        outcome = ReconcileOutcome()
        listed_ids: set[str] = set()
        for swarm in listed:
            if not _valid_swarm(swarm) or swarm.get("status") in HIDDEN_STATUSES:
                continue
            swarm_id = swarm["swarm_id"]
            listed_ids.add(swarm_id)
            if self._touched.get(swarm_id, NEVER) > asked_at:
                continue
            current = self.swarms.get(swarm_id)
            if current == swarm:
                continue
            self.swarms[swarm_id] = dict(swarm)
            self.version += 1
            if current is None or _lifecycle_signature(current) != _lifecycle_signature(swarm):
                outcome.changed.append(swarm)
        for swarm_id in [s for s in self.swarms if s not in listed_ids]:
            if self._touched.get(swarm_id, NEVER) > asked_at:
                continue
            outcome.removed.append(self.swarms.pop(swarm_id))
            self.live.forget(swarm_id)
            self.version += 1
        # Changes at or before asked_at are covered by this answer; forget them.
        self._touched = {s: k for s, k in self._touched.items() if k > asked_at}
        return outcome

    # -- views and persistence ---------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        swarms = sorted(self.swarms.values(), key=lambda s: (str(s.get("created_at") or ""), s["swarm_id"]))
        return {"last_event_id": self.position, "swarms": swarms}

    def load(self, position: str, swarms: list[Swarm]) -> None:
        self.swarms = {s["swarm_id"]: dict(s) for s in swarms if _valid_swarm(s)}
        self.advance(position, entry_key(position))
        self._touched.clear()


_Handler = Callable[[ReadModel, dict[str, Any], dict[str, Any]], bool]
_HANDLERS: dict[str, _Handler] = {
    EventName.SWARM_LAUNCH_PROGRESS: ReadModel._put_whole,
    EventName.SWARM_LAUNCHED: ReadModel._put_whole,
    EventName.SWARM_STATUS: ReadModel._status,
    EventName.SWARM_TERMINATED: ReadModel._status,
    EventName.SWARM_REMOVED: ReadModel._removed,
    EventName.NODE_STATUS: ReadModel._node,
}

"""Which request did what: request_id ↔ swarm_id (and injection_id → request_id), bounded.

The mirror learns these from the router's answers to the commands it forwards and from events that
carry both ids (launch progress, acknowledgements).  It uses them to put ``request_id`` on relayed
events that lack one, and to answer ``GET /v1/requests/{request_id}``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.protocol import EventName

# Events about a whole swarm: they get the request that created the swarm.
SWARM_LEVEL_EVENTS = frozenset(
    {
        EventName.SWARM_LAUNCH_PROGRESS,
        EventName.SWARM_LAUNCHED,
        EventName.SWARM_STATUS,
        EventName.SWARM_TERMINATED,
        EventName.SWARM_REMOVED,
        EventName.WORKSPACE_ARCHIVE_READY,
        EventName.WORKSPACE_ARCHIVE_FAILED,
    }
)
_LAUNCH_EVENTS = frozenset({EventName.SWARM_LAUNCH_PROGRESS, EventName.SWARM_LAUNCHED})
_INJECT_EVENTS = frozenset({EventName.INJECT_ACK, EventName.INJECT_DELIVERED, EventName.INJECT_FAILED})


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    swarm_id: str | None
    command: str
    injections: list[dict[str, Any]] = field(default_factory=list)
    encoded: orjson.Fragment | None = field(default=None, compare=False, repr=False)  # view() as JSON, until a change

    def view(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "swarm_id": self.swarm_id,
            "command": self.command,
            "injections": list(self.injections),
        }

    def as_json(self) -> orjson.Fragment:
        if self.encoded is None:
            self.encoded = orjson.Fragment(orjson.dumps(self.view()))
        return self.encoded


class RequestLedger:
    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._requests: OrderedDict[str, RequestRecord] = OrderedDict()
        self._creators: OrderedDict[str, str] = OrderedDict()  # swarm_id → request_id that launched it
        self._injections: OrderedDict[str, str] = OrderedDict()  # injection_id → request_id

    # -- recording ---------------------------------------------------------------------------------

    def record(
        self,
        request_id: str,
        swarm_id: str | None,
        command: str,
        injections: Iterable[dict[str, Any]] = (),
    ) -> None:
        known = self._requests.get(request_id)
        record = known or RequestRecord(request_id, swarm_id, command)
        record.encoded = None
        if swarm_id and not record.swarm_id:
            record.swarm_id = swarm_id
        for ref in injections:
            injection_id = ref.get("injection_id")
            if isinstance(injection_id, str):
                if ref not in record.injections:
                    record.injections.append(dict(ref))
                self._put(self._injections, injection_id, request_id)
        self._put(self._requests, request_id, record)
        if command == "launch" and swarm_id:
            self._put(self._creators, swarm_id, request_id)

    def learn(self, event: str, data: dict[str, Any]) -> None:
        """Pick up the ids an event carries (only ids the router itself put together)."""
        request_id = data.get("request_id")
        swarm_id = data.get("swarm_id")
        if not isinstance(request_id, str) or not isinstance(swarm_id, str):
            return
        if event in _LAUNCH_EVENTS:
            self.record(request_id, swarm_id, "launch")
        elif event in _INJECT_EVENTS:
            injection_id = data.get("injection_id")
            refs = [{"node_id": data.get("node_id"), "injection_id": injection_id}] if injection_id else []
            self.record(request_id, swarm_id, "inject", refs)
        elif event == EventName.COMMAND_REJECTED and request_id not in self._requests:
            self.record(request_id, swarm_id, str(data.get("command") or "unknown"))

    # -- lookups -----------------------------------------------------------------------------------

    def lookup(self, request_id: str) -> RequestRecord | None:
        return self._requests.get(request_id)

    def creator_of(self, swarm_id: str) -> str | None:
        return self._creators.get(swarm_id)

    def annotate(self, event: str, data: dict[str, Any]) -> bool:
        """Put the request_id this mirror knows on ``data`` when it has none; True when it did."""
        if "request_id" in data:
            return False
        request_id: str | None = None
        if event in SWARM_LEVEL_EVENTS:
            swarm_id = data.get("swarm_id")
            request_id = self._creators.get(swarm_id) if isinstance(swarm_id, str) else None
        else:
            injection_id = data.get("injection_id")
            request_id = self._injections.get(injection_id) if isinstance(injection_id, str) else None
        if request_id is None:
            return False
        data["request_id"] = request_id
        return True

    # -- persistence -------------------------------------------------------------------------------

    def stored(self) -> list[orjson.Fragment]:
        """Every record's ``view()`` as JSON, oldest first, for the snapshot: a record is encoded again
        only after it changed, so a snapshot of a full ledger costs about a copy of its bytes."""
        return [record.as_json() for record in self._requests.values()]

    def load(self, records: Iterable[dict[str, Any]]) -> None:
        for raw in records:
            request_id, command = raw.get("request_id"), raw.get("command")
            if isinstance(request_id, str) and isinstance(command, str):
                self.record(request_id, raw.get("swarm_id"), command, raw.get("injections") or [])

    def _put(self, table: OrderedDict[str, Any], key: str, value: Any) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.capacity:
            table.popitem(last=False)

"""Stream items: a bus entry parsed once, with its SSE frame encoded once and shared by every client.

The frame is built straight from the bytes the bus holds: an envelope is JSON on one line, so it is the
``data:`` line as it is, never decoded to text and encoded again.  An item keeps the few fields the
fan-out and coalescing read, not the parsed envelope: a client's queue of thousands of items is then a
few objects each for the garbage collector to walk, not a dozen nested dicts each.  The framing is the one of the SSE
format (and of sse-starlette, which sends the keep-alives): ``id:``, ``event:``, one ``data:`` line per
line of data, each ended by ``\n``, and an empty line.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import Any

import orjson
from sse_starlette import ServerSentEvent

from mirror.ledger import RequestLedger
from services.bus.base import BusEntry, parse_entry_id
from services.protocol import DELTA_EVENTS, make_envelope

log = logging.getLogger(__name__)

EntryKey = tuple[int, int]
SSE_SEP = "\n"
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")

# (event, swarm_id, node_id, injection_id, item_id): deltas with the same key belong to one item.
MergeKey = tuple[str, str | None, int | None, str | None, str]


def entry_key(entry_id: str) -> EntryKey:
    return parse_entry_id(entry_id)


def _one_line(value: bytes) -> bytes:
    return _LINE_BREAK.sub(b"", value) if b"\n" in value or b"\r" in value else value


@functools.lru_cache(maxsize=256)
def _event_line(event: str) -> bytes:
    return b"event: " + _one_line(event.encode()) + b"\n"


def encode_frame(event: str, data: str | bytes, entry_id: str | None = None) -> bytes:
    """One SSE event; ``entry_id`` is a bus entry id (``"<ms>-<seq>"``, checked by ``entry_key``: nothing
    in it to escape) or None for an event with no SSE id."""
    payload = data.encode() if isinstance(data, str) else data
    head = _event_line(event) if entry_id is None else b"id: " + entry_id.encode() + b"\n" + _event_line(event)
    if b"\n" in payload or b"\r" in payload:
        return head + b"".join([b"data: " + line + b"\n" for line in _LINE_BREAK.split(payload)]) + b"\n"
    return head + b"data: " + payload + b"\n\n"


def encode_retry(retry_ms: int) -> bytes:
    return ServerSentEvent(retry=retry_ms, sep=SSE_SEP).encode()


@dataclass(slots=True, eq=False)
class StreamItem:
    """One event as it goes to clients.

    ``id`` is the bus entry id (the SSE id), or None for an event the mirror itself sends (a reconcile
    result); such an item sits right after the entry ``key`` in the stream and carries no SSE id.
    """

    id: str | None
    key: EntryKey
    event: str
    swarm_id: str | None
    node_id: int | None
    payload: bytes  # the envelope as JSON, as the frame carries it
    frame: bytes
    merge_key: MergeKey | None = None
    delta: str = ""  # the fragment of a delta that has a merge key

    @property
    def synthetic(self) -> bool:
        return self.id is None


def _merge_key(event: str, data: dict[str, Any]) -> MergeKey | None:
    if event not in DELTA_EVENTS:
        return None
    item_id = data.get("item_id")
    delta = data.get("delta")
    if not isinstance(item_id, str) or not isinstance(delta, str):
        return None
    return (event, data.get("swarm_id"), data.get("node_id"), data.get("injection_id"), item_id)


def _node_id(data: dict[str, Any]) -> int | None:
    node_id = data.get("node_id")
    return node_id if isinstance(node_id, int) and not isinstance(node_id, bool) else None


def _annotated(payload: bytes, envelope: dict[str, Any]) -> bytes:
    """The entry's bytes with the ``request_id`` the ledger just put last in ``data``.  When ``data`` is
    the envelope's last member (every envelope the router makes) the new member is spliced in before
    its closing brace; anything else is encoded again."""
    data = envelope["data"]
    if len(data) > 1 and next(reversed(envelope)) == "data" and payload.endswith(b"}}"):
        return payload[:-2] + b',"request_id":' + orjson.dumps(data["request_id"]) + b"}}"
    return orjson.dumps(envelope)


def item_from_entry(entry: BusEntry, ledger: RequestLedger | None = None) -> StreamItem | None:
    """Parse one bus entry; None (logged) for an entry that is not an event envelope."""
    parsed = parse_entry(entry, ledger)
    return None if parsed is None else parsed[0]


def parse_entry(entry: BusEntry, ledger: RequestLedger | None = None) -> tuple[StreamItem, dict[str, Any]] | None:
    """One bus entry as an item and its envelope (for the read model, which applies it once); None
    (logged) for an entry that is not an event envelope."""
    try:
        envelope = orjson.loads(entry.data)
        key = entry_key(entry.id)
    except (orjson.JSONDecodeError, ValueError):
        log.error("bus entry %s is not a JSON envelope; not relayed: %.200r", entry.id, entry.data)
        return None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("event"), str):
        log.error("bus entry %s has no event name; not relayed: %.200r", entry.id, entry.data)
        return None
    event: str = envelope["event"]
    data = envelope.get("data")
    if not isinstance(data, dict):
        data = {}
        envelope["data"] = data
    payload = entry.data
    if ledger is not None:
        ledger.learn(event, data)
        if ledger.annotate(event, data):
            payload = _annotated(payload, envelope)
    swarm_id = data.get("swarm_id")
    merge_key = _merge_key(event, data)
    item = StreamItem(
        id=entry.id,
        key=key,
        event=event,
        swarm_id=swarm_id if isinstance(swarm_id, str) else None,
        node_id=_node_id(data),
        payload=payload,
        frame=encode_frame(event, payload, entry.id),
        merge_key=merge_key,
        delta=data["delta"] if merge_key is not None else "",
    )
    return item, envelope


def synthetic_item(event: str, data: dict[str, Any], after: EntryKey) -> StreamItem:
    """An event of the mirror's own (never on the bus): sent to clients with no SSE id."""
    payload = orjson.dumps(make_envelope(event, {**data, "source": "mirror"}))
    swarm_id = data.get("swarm_id")
    return StreamItem(
        id=None,
        key=after,
        event=event,
        swarm_id=swarm_id if isinstance(swarm_id, str) else None,
        node_id=_node_id(data),
        payload=payload,
        frame=encode_frame(event, payload),
    )

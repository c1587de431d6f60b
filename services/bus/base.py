"""The event bus: an append-only stream of event envelopes with entry ids, replay and cursors.

Two implementations share these semantics: Redis Streams (services/bus/redis_bus.py) for deployments
and an in-process one (services/bus/memory_bus.py) for the embedded mode.

- Entry ids are ``"<ms>-<seq>"`` strings, strictly increasing; ``"0-0"`` is before everything.
- ``publish`` appends envelopes in order and, in the same atomic step, stores the given cursor values
  (small named strings, e.g. the last ingested ``seq`` of a node).  A writer that crashes between
  publishing and recording its own progress elsewhere reads its cursors back and skips what the bus
  already has: this is how the router delivers every record exactly once.
- The stream is bounded (``maxlen`` entries and ``max_bytes`` of payloads); the oldest entries past
  either bound are trimmed, the newest always stays.
- Cursors are dropped by name once their writer is gone for good (``forget_cursors``), so the cursor
  set stays as small as what is live.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

START_ID = "0-0"


def parse_entry_id(entry_id: str) -> tuple[int, int]:
    """``"<ms>-<seq>"`` → ``(ms, seq)``; raises ValueError on anything else."""
    ms, sep, seq = entry_id.partition("-")
    if not sep or not ms.isdigit() or not seq.isdigit():
        raise ValueError(f"not a stream entry id: {entry_id!r} (expected '<ms>-<seq>')")
    return int(ms), int(seq)


def encode_envelope(envelope: Mapping[str, Any] | bytes) -> bytes:
    """The bytes a bus stores for one envelope: JSON via orjson, or ``bytes`` passed through unchanged
    (a caller that already holds the encoded envelope skips a decode/encode round)."""
    if isinstance(envelope, bytes):
        return envelope
    return orjson.dumps(envelope if isinstance(envelope, dict) else dict(envelope))


@dataclass(frozen=True, slots=True)
class BusEntry:
    id: str
    data: bytes  # the envelope as published, JSON

    def envelope(self) -> dict[str, Any]:
        decoded: dict[str, Any] = orjson.loads(self.data)
        return decoded


class EventBus(ABC):
    @abstractmethod
    async def publish(
        self, envelopes: Sequence[Mapping[str, Any] | bytes], cursors: Mapping[str, str] | None = None
    ) -> list[str]:
        """Append envelopes in order (and store cursors atomically with them); return their entry ids.
        An envelope given as bytes is taken as already-serialized JSON and published as is."""

    @abstractmethod
    async def read_after(self, after_id: str, count: int = 1000, block_ms: int | None = None) -> list[BusEntry]:
        """Entries with id > after_id, oldest first, at most count.  With block_ms, wait up to that long
        for at least one entry when none is there yet (0 = wait forever)."""

    @abstractmethod
    async def last_id(self) -> str:
        """Id of the newest entry, or START_ID when the stream is empty."""

    @abstractmethod
    async def first_id(self) -> str | None:
        """Id of the oldest entry still retained (None when empty): a replay from before it has a gap."""

    @abstractmethod
    async def cursors(self) -> dict[str, str]:
        """All stored cursor values."""

    @abstractmethod
    async def forget_cursors(self, names: Sequence[str]) -> None:
        """Drop these cursors (their writer is gone for good, e.g. the nodes of a removed swarm); names
        not stored are ignored."""

    @abstractmethod
    async def ping(self) -> bool:
        """True when the bus answers."""

    @abstractmethod
    async def close(self) -> None: ...

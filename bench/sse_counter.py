"""An SSE client for benchmarks that counts and order-checks every delta the outbox writer appended.

It reads ``/v1/events`` over a plain socket (HTTP/1.0, so the body is the SSE text itself) as fast as
it can and, like a browser's EventSource, reconnects with ``Last-Event-ID`` whenever the mirror ends
the stream (a cut-off: ``event: error``), so every run still ends complete and the cut-offs are counted.

Per node it checks that each delta continues exactly where the previous one ended (``seq``, and with
coalescing the ``coalesced`` count of entries merged into it); a delta at or before what it already
has is a duplicate.  The text of every node is kept and compared with what was written.  Latency is
the receipt time minus the append time the writer stamped into the raw payload (``sentNs``); a
coalesced delta has no raw payload and is not timed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

INJECTION = "in-bench"
DELTA_LINE = b"event: assistant_delta\n"
RECONNECT_S = 0.05  # after a cut-off (EventSource would wait the stream's retry: 1 s)


@dataclass
class NodeTally:
    last_seq: int  # the seq the node's stream has reached
    text: list[str] = field(default_factory=list)


@dataclass
class SSECounter:
    host: str
    port: int
    swarm_id: str
    first_seqs: dict[int, int]  # node → first seq the writer appends
    expected: int
    keep_text: bool = True
    latencies_ms: list[float] = field(default_factory=list)
    received: int = 0  # entries covered, coalesced ones included
    events: int = 0  # SSE events, as delivered
    duplicates: int = 0
    gaps: int = 0
    cutoffs: int = 0
    connections: int = 0
    first_at: float = 0.0
    last_at: float = 0.0
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    tallies: dict[int, NodeTally] = field(default_factory=dict)
    last_id: str | None = None
    envelope_bytes: int = 0  # size of the last delta's envelope as sent

    def __post_init__(self) -> None:
        self.tallies = {node: NodeTally(first - 1) for node, first in self.first_seqs.items()}

    @property
    def done(self) -> bool:
        return self.received >= self.expected

    async def run(self, idle_s: float) -> None:
        """Read until every expected delta is in, or nothing new has arrived for ``idle_s``."""
        reading = asyncio.create_task(self._connections())
        seen = -1
        while not reading.done() and self.received != seen:
            seen = self.received
            await asyncio.wait([reading], timeout=idle_s)
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading

    async def _connections(self) -> None:
        while not self.done:
            await self._connection()
            if not self.done:
                await asyncio.sleep(RECONNECT_S)

    async def _connection(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        resume = f"Last-Event-ID: {self.last_id}\r\n" if self.last_id else ""
        request = (
            f"GET /v1/events?swarm_id={self.swarm_id} HTTP/1.0\r\nHost: {self.host}:{self.port}\r\n"
            f"Accept: text/event-stream\r\n{resume}\r\n"
        )
        writer.write(request.encode())
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if b" 200 " not in head.split(b"\r\n", 1)[0]:
                raise RuntimeError(f"the mirror refused the stream: {head[:200]!r}")
            self.connections += 1
            self.connected.set()
            chunked = b"transfer-encoding: chunked" in head.lower()
            await self._read(reader, chunked)
        finally:
            writer.close()

    async def _read(self, reader: asyncio.StreamReader, chunked: bool) -> None:
        buffer = b""
        while not self.done:
            chunk = await (_next_chunk(reader) if chunked else reader.read(1 << 18))
            if not chunk:
                return  # the mirror ended the stream: reconnect
            received = time.time_ns()
            blocks = (buffer + chunk).split(b"\n\n")
            buffer = blocks.pop()
            for block in blocks:
                if self._take(block, received):
                    return

    def _take(self, block: bytes, received_ns: int) -> bool:
        """Account one SSE block (``id:``, ``event:``, one ``data:`` line); True when the mirror cut this
        client off.  Parsed by position, not field by field: the client must cost less than the mirror."""
        if block.startswith(b"id: "):
            cut = block.index(b"\n")
            self.last_id = block[4:cut].decode()
            block = block[cut + 1 :]
        if block.startswith(b"event: error\n"):
            self.cutoffs += 1
            return True
        if not block.startswith(DELTA_LINE):
            return False
        payload = block[block.index(b"data: ") + 6 :]
        self.envelope_bytes = len(payload)
        data: dict[str, Any] = orjson.loads(payload)["data"]
        if data.get("injection_id") == INJECTION:
            self._count(data, received_ns)
        return False

    def _count(self, data: dict[str, Any], received_ns: int) -> None:
        tally = self.tallies[data["node_id"]]
        seq, covers = data["seq"], data.get("coalesced", 1)
        if seq <= tally.last_seq:
            self.duplicates += 1
            return
        if seq - covers != tally.last_seq:
            self.gaps += 1
        covered = seq - max(seq - covers, tally.last_seq)
        tally.last_seq = seq
        self.received += covered
        self.events += 1
        now = received_ns / 1e9
        self.first_at = self.first_at or now
        self.last_at = now
        if self.keep_text:
            tally.text.append(data["delta"])
        raw = data.get("raw")
        if raw is not None:
            self.latencies_ms.append((received_ns - raw["params"]["sentNs"]) / 1e6)

    def text_of(self, node_id: int) -> str:
        return "".join(self.tallies[node_id].text)


async def _next_chunk(reader: asyncio.StreamReader) -> bytes:
    """One chunk of a chunked HTTP body (the server frames the stream so whatever the request's version);
    b"" at its end or when the connection closes."""
    try:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            return b""
        data = await reader.readexactly(size)
        await reader.readexactly(2)
    except (asyncio.IncompleteReadError, ValueError):
        return b""
    return data

"""A flood of forged seqs, in-process (SQLite, the memory bus): ingest reads on along the node's chain,
stores the node's real last seq, and the flood costs the bus one small warning."""

from __future__ import annotations

from router.ingest_nodes import SEQ_GAP_WARN_S
from router.providers.base import OutboxLines
from router.store.database import Database
from router.store.swarms import nodes_of
from services.bus.base import START_ID
from services.bus.memory_bus import MemoryEventBus
from tests.unit.test_ingest_order import JOB, SWARM, db, line, tracked_ingest

__all__ = ["db"]  # the fixture

FLOOD = 10_000


def chunk(lines: list[bytes], start: int) -> OutboxLines:
    return OutboxLines(JOB, 0, lines, start + sum(len(x) + 1 for x in lines), start)


async def test_a_flood_of_forged_seqs_costs_one_warning_and_hides_no_real_record(db: Database) -> None:
    bus = MemoryEventBus()
    ingest = await tracked_ingest(db, bus)
    forged = [line(10**12 + i, "heartbeat", {"secret": "forged-line-marker"}) for i in range(FLOOD)]
    first = chunk([line(1, "heartbeat", {}), *forged, line(2, "heartbeat", {})], 0)
    await ingest.handle([first])
    second = chunk([*forged, line(3, "heartbeat", {})], first.end_offset)
    await ingest.handle([second])

    envelopes = [entry.envelope() for entry in await bus.read_after(START_ID, count=100_000)]
    warnings = [e["data"] for e in envelopes if e["event"] == "agent_warning"]
    assert len(warnings) == 1  # the second flood comes within SEQ_GAP_WARN_S: counted for the next warning
    assert warnings[0]["code"] == "seqOutOfOrder" and warnings[0]["seq"] == 2  # read up to 2 in that call
    assert warnings[0]["message"].startswith(f"{FLOOD} line(s)")
    assert all("forged-line-marker" not in str(e) for e in envelopes)
    (node,) = ingest.nodes_of(SWARM)
    assert node.seq_gaps_unreported == FLOOD and SEQ_GAP_WARN_S > 0
    await ingest.close()  # heartbeats leave nothing durable: their progress is stored a while later, or now
    async with db.transaction() as session:
        (row,) = (await nodes_of(session, [SWARM]))[SWARM]
    assert (row.last_seq, row.outbox_offset) == (3, second.end_offset)

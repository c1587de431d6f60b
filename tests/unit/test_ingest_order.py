"""Ingest's crash ordering, in-process (SQLite, the memory bus): publish with the cursors, then commit
with the offsets.  A crash between the two leaves events on the bus and nothing in the database; the
re-read after it publishes nothing twice and commits everything once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from router.ingest import Ingest
from router.ingest_batch import PUBLISH_SLICE, Publication, node_cursor
from router.ingest_nodes import TrackedNode
from router.providers.base import OutboxLines
from router.store.database import Database
from router.store.swarms import create_nodes, nodes_of, now
from router.store.tables import SwarmRow, TurnRow
from router.transcript import Transcript
from services.bus.base import START_ID
from services.bus.memory_bus import MemoryEventBus
from services.protocol import NodeStatus
from tests.support.sqlite_database import migrated_sqlite

SWARM, JOB = "sw-order", "local-order"


class Crash(Exception):
    pass


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await migrated_sqlite(tmp_path, "ingest.db")
    async with database.transaction() as session:
        moment = now()
        session.add(
            SwarmRow(
                swarm_id=SWARM,
                cluster="local",
                job_id=JOB,
                request_id="rq",
                provider="local",
                runtime="mock",
                node_count=1,
                status="running",
                health="ok",
                provider_params={},
                runtime_params={},
                download_workspaces=False,
                created_at=moment,
                updated_at=moment,
            )
        )
        await session.flush()
        create_nodes(session, SWARM, 1)
    yield database
    await database.close()


def line(seq: int, kind: str, payload: dict[str, Any]) -> bytes:
    record = {"seq": seq, "ts": 1795527514.5 + seq, "job_id": JOB, "node_id": 0, "injection_id": "in-1"}
    return orjson.dumps({**record, "kind": kind, "payload": payload})


def turn_then_exit(deltas: int) -> list[bytes]:
    turn = {"threadId": "t", "turn": {"id": "turn-1", "status": "inProgress"}}
    lines = [line(1, "runtime", {"method": "turn/started", "params": turn})]
    for seq in range(2, deltas + 2):
        delta = {"threadId": "t", "turnId": "turn-1", "itemId": "msg-1", "delta": f"t{seq}"}
        lines.append(line(seq, "runtime", {"method": "item/agentMessage/delta", "params": delta}))
    done = {"threadId": "t", "turn": {"id": "turn-1", "status": "completed"}}
    lines.append(line(deltas + 2, "runtime", {"method": "turn/completed", "params": done}))
    lines.append(line(deltas + 3, "exit", {"code": 0}))
    return lines


async def tracked_ingest(db: Database, bus: MemoryEventBus) -> Ingest:
    """An ingest as a (re)started router has it: the node's committed seq from the database, its
    published seq from the bus's cursor."""
    ingest = Ingest(db, bus, Transcript(1 << 20))
    async with db.transaction() as session:
        rows = (await nodes_of(session, [SWARM]))[SWARM]
    await ingest.track(SWARM, JOB, rows)
    return ingest


async def crash_at_commit(_session: AsyncSession, _swarm_id: str) -> None:
    raise Crash("the router died inside the commit")


async def events_by_seq(bus: MemoryEventBus) -> Counter[tuple[int, str]]:
    entries = await bus.read_after(START_ID, count=10_000)
    envelopes = [entry.envelope() for entry in entries]
    return Counter((e["data"]["seq"], e["event"]) for e in envelopes if e["event"] != "node_status")


async def test_a_crash_between_publish_and_commit_loses_nothing_and_publishes_nothing_twice(db: Database) -> None:
    bus = MemoryEventBus()
    lines = turn_then_exit(deltas=5)
    chunk = OutboxLines(JOB, 0, lines, sum(len(x) + 1 for x in lines), 0)
    crashing = await tracked_ingest(db, bus)
    crashing.on_exit_records = crash_at_commit
    with pytest.raises(Crash):
        await crashing.handle([chunk])

    published = await events_by_seq(bus)
    assert len(published) == 7 and set(published.values()) == {1}  # on the bus: turn, 5 deltas, turn end
    assert (await bus.cursors())[node_cursor(SWARM, 0)] == str(len(lines))
    async with db.transaction() as session:
        (row,) = (await nodes_of(session, [SWARM]))[SWARM]
    assert (row.last_seq, row.outbox_offset) == (0, 0)  # nothing committed

    restarted = await tracked_ingest(db, bus)
    exits: list[str] = []

    async def exited(_session: AsyncSession, swarm_id: str) -> None:
        exits.append(swarm_id)

    restarted.on_exit_records = exited
    await restarted.handle([chunk])  # the follower re-reads from the committed offset

    assert await events_by_seq(bus) == published  # nothing reached the bus twice
    async with db.transaction() as session:
        (row,) = (await nodes_of(session, [SWARM]))[SWARM]
    assert (row.last_seq, row.outbox_offset, row.status) == (len(lines), chunk.end_offset, NodeStatus.EXITED)
    assert exits == [SWARM]
    async with db.transaction() as session:
        turn = await session.get(TurnRow, "in-1")
    assert turn is not None and (turn.status, turn.node_id) == ("completed", 0)  # its durable effects, once


def test_a_slice_is_cut_only_where_every_record_it_names_is_whole() -> None:
    node = TrackedNode(SWARM, "local", JOB, 0, 0, 0, 0, NodeStatus.IDLE)
    publication = Publication()
    seq = 0
    while len(publication.full) < 2:
        seq += 1
        for _ in range(3):  # three envelopes per record
            publication.add(orjson.dumps({"seq": seq}), 0.0)
        publication.record_done(node, seq)
    slices = publication.slices()
    seen: list[int] = []
    for part in slices:
        seen += [orjson.loads(envelope)["seq"] for envelope in part.envelopes]
        assert len(part.envelopes) < PUBLISH_SLICE + 3
        through = int(part.cursors[node_cursor(SWARM, 0)])
        assert seen.count(through) == 3 and max(seen) == through  # the cursor's record is whole, no later one
    assert seen == [s for s in range(1, seq + 1) for _ in range(3)]


def deltas(first: int, last: int) -> list[bytes]:
    """Delta records only: nothing durable, no status change (the node is busy in its turn already)."""
    made = []
    for seq in range(first, last + 1):
        delta = {"threadId": "t", "turnId": "turn-1", "itemId": "msg-1", "delta": f"t{seq}"}
        made.append(line(seq, "runtime", {"method": "item/agentMessage/delta", "params": delta}))
    return made


def chunk_of(lines: list[bytes], start: int = 0) -> OutboxLines:
    return OutboxLines(JOB, 0, lines, start + sum(len(x) + 1 for x in lines), start)


async def stored(db: Database) -> tuple[int, int]:
    async with db.transaction() as session:
        (row,) = (await nodes_of(session, [SWARM]))[SWARM]
    return row.last_seq, row.outbox_offset


async def busy_ingest(db: Database, bus: MemoryEventBus, save_after_s: float) -> tuple[Ingest, OutboxLines]:
    """An ingest that has read (and committed) a turn's start, so the node is busy."""
    ingest = await tracked_ingest(db, bus)
    ingest.save_after_s = save_after_s
    started = turn_then_exit(0)[:1]
    first = chunk_of(started)
    await ingest.handle([first])
    assert await stored(db) == (1, first.end_offset)
    return ingest, first


async def test_deltas_go_to_the_bus_at_once_and_their_offsets_are_stored_a_while_later(db: Database) -> None:
    bus = MemoryEventBus()
    ingest, first = await busy_ingest(db, bus, save_after_s=0.3)
    batches = [chunk_of(deltas(2, 4), first.end_offset)]
    batches.append(chunk_of(deltas(5, 9), batches[0].end_offset))
    for batch in batches:
        await ingest.handle([batch])
    assert sorted(seq for seq, _ in await events_by_seq(bus)) == list(range(1, 10))  # all on the bus now
    assert await stored(db) == (1, first.end_offset)  # the deltas' progress is not committed yet
    await wait_until_stored(db, (9, batches[1].end_offset))
    await ingest.close()


async def wait_until_stored(db: Database, expected: tuple[int, int], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (found := await stored(db)) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"stored {found}, not {expected}, within {timeout_s}s"
        await asyncio.sleep(0.02)


async def test_a_durable_record_commits_the_unsaved_progress_with_it(db: Database) -> None:
    bus = MemoryEventBus()
    ingest, first = await busy_ingest(db, bus, save_after_s=3600)
    more = chunk_of(deltas(2, 4), first.end_offset)
    await ingest.handle([more])
    assert await stored(db) == (1, first.end_offset)
    end = chunk_of(turn_then_exit(3)[4:5], more.end_offset)  # seq 5: turn/completed (durable)
    await ingest.handle([end])
    assert await stored(db) == (5, end.end_offset)


async def test_a_crash_before_the_offsets_are_stored_publishes_nothing_twice(db: Database) -> None:
    bus = MemoryEventBus()
    crashing, first = await busy_ingest(db, bus, save_after_s=3600)
    more = chunk_of(deltas(2, 6), first.end_offset)
    await crashing.handle([more])  # then the router dies: the progress was never stored
    published = await events_by_seq(bus)

    restarted = await tracked_ingest(db, bus)
    rest = turn_then_exit(5)[6:]  # turn/completed and the exit record, written after the crash
    await restarted.handle([chunk_of(deltas(2, 6) + rest, first.end_offset)])  # re-read from the stored offset

    again = await events_by_seq(bus)
    assert {key: count for key, count in again.items() if key[0] <= 6} == published  # nothing twice
    assert set(again.values()) == {1} and sorted({seq for seq, _ in again}) == list(range(1, 8))
    assert (await stored(db))[0] == 8


async def test_closing_stores_the_unsaved_progress(db: Database) -> None:
    bus = MemoryEventBus()
    ingest, first = await busy_ingest(db, bus, save_after_s=3600)
    more = chunk_of(deltas(2, 3), first.end_offset)
    await ingest.handle([more])
    await ingest.close()
    assert await stored(db) == (3, more.end_offset)


class SlowBus(MemoryEventBus):
    """A bus whose publishes take a while (and the nth may fail)."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.calls = 0
        self.fail_at = fail_at

    async def publish(self, envelopes: Any, cursors: Any = None) -> list[str]:
        self.calls += 1
        await asyncio.sleep(0.01)
        if self.calls == self.fail_at:
            raise ConnectionError("the bus went away mid-publish")
        return await super().publish(envelopes, cursors)


async def test_slices_go_to_the_bus_in_order_with_their_cursors(db: Database) -> None:
    bus = SlowBus()
    ingest, first = await busy_ingest(db, bus, save_after_s=3600)
    many = chunk_of(deltas(2, 3 * PUBLISH_SLICE), first.end_offset)
    await ingest.handle([many])
    entries = await bus.read_after(START_ID, count=10 * PUBLISH_SLICE)
    seqs = [entry.envelope()["data"]["seq"] for entry in entries if entry.envelope()["event"] == "assistant_delta"]
    assert seqs == list(range(2, 3 * PUBLISH_SLICE + 1))
    assert bus.calls >= 1 + 3
    assert (await bus.cursors())[node_cursor(SWARM, 0)] == str(3 * PUBLISH_SLICE)


async def test_a_failed_publish_is_reported_and_the_re_read_publishes_nothing_twice(db: Database) -> None:
    bus = SlowBus(fail_at=3)  # the turn's start, one slice, then the failure
    ingest, first = await busy_ingest(db, bus, save_after_s=3600)
    many = chunk_of(deltas(2, 3 * PUBLISH_SLICE), first.end_offset)
    with pytest.raises(ConnectionError):
        await ingest.handle([many])
    await ingest.handle([many])  # the follower reads the lines again
    published = await events_by_seq(bus)
    assert set(published.values()) == {1} and len(published) == 3 * PUBLISH_SLICE

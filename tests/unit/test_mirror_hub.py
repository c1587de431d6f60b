"""The hub (one bus reader, fan-out to all clients) and the per-client bounded queue."""

from __future__ import annotations

import asyncio
from typing import Any

from mirror.hub import Hub
from mirror.ledger import RequestLedger
from mirror.readmodel import ReadModel
from mirror.subscriber import QueueLimit, Subscriber
from services.bus import MemoryEventBus
from services.protocol import make_envelope
from tests.support.servers import wait_until_async


def roomy(events: int) -> QueueLimit:
    """A limit of ``events`` events and bytes enough for them."""
    return QueueLimit(events=events, bytes=1 << 30)


def env(event: str, swarm_id: str = "sw-a", **data: Any) -> dict[str, Any]:
    return make_envelope(event, {"swarm_id": swarm_id, **data})


async def test_one_reader_fans_every_batch_out_to_every_subscriber() -> None:
    bus = MemoryEventBus(1000)
    hub = Hub(bus, ReadModel(), RequestLedger(), block_ms=50)
    everyone = hub.subscribe(swarm_id=None, node_id=None, limit=roomy(100))
    swarm_b = hub.subscribe(swarm_id="sw-b", node_id=None, limit=roomy(100))
    node_1 = hub.subscribe(swarm_id="sw-a", node_id=1, limit=roomy(100))
    reader = asyncio.create_task(hub.run())
    try:
        ids = await bus.publish(
            [
                env("assistant_delta", node_id=0, item_id="i", delta="x"),
                env("assistant_delta", node_id=1, item_id="i", delta="y"),
                env("swarm_status", status="running", health="ok", reason=None),
                env("turn_started", swarm_id="sw-b", node_id=0),
            ]
        )
        await wait_until_async(lambda: len(everyone.queue) == 4, 5, "fan-out")
        assert [i.id for i in everyone.queue] == ids
        assert [i.id for i in swarm_b.queue] == [ids[3]]
        assert [i.id for i in node_1.queue] == [ids[1], ids[2]]  # its node, and the swarm's own events
        assert bus.waiting_readers <= 1  # one blocked read for all clients
        assert hub.model.position == ids[-1]
    finally:
        reader.cancel()


async def test_a_client_that_falls_behind_is_lapped_its_queue_freed_and_it_rejoins_later() -> None:
    bus = MemoryEventBus(1000)
    hub = Hub(bus, ReadModel(), RequestLedger())
    slow = hub.subscribe(swarm_id=None, node_id=None, limit=roomy(10))
    entries = await bus.read_after("0-0")
    assert entries == []
    await bus.publish([env("assistant_delta", node_id=0, item_id="i", delta=str(n)) for n in range(8)])
    hub.ingest(await bus.read_after("0-0"))
    assert len(slow.queue) == 8 and not slow.lapped
    await bus.publish([env("assistant_delta", node_id=0, item_id="i", delta=str(n)) for n in range(3)])
    hub.ingest(await bus.read_after(hub.model.position))
    assert slow.lapped and slow.cut_reason is None and len(slow.queue) == 0 and slow.queued_bytes == 0
    assert slow in hub.subscribers and hub.clients_lapped == 1 and hub.clients_cut == 0
    await asyncio.wait_for(slow.wait(), 1)  # a waiting stream wakes up to re-read from the bus
    await bus.publish([env("assistant_delta", node_id=0, item_id="i", delta="more")])
    hub.ingest(await bus.read_after(hub.model.position))
    assert len(slow.queue) == 0 and hub.clients_lapped == 1  # lapped: nothing queued until it rejoins
    hub.rejoin(slow)
    assert not slow.lapped and slow.seam == hub.model.position_key
    ids = await bus.publish([env("assistant_delta", node_id=0, item_id="i", delta="live")])
    hub.ingest(await bus.read_after(hub.model.position))
    assert [item.id for item in slow.queue] == ids


async def test_a_client_too_many_bytes_behind_is_lapped_whatever_the_count() -> None:
    bus = MemoryEventBus(1000)
    hub = Hub(bus, ReadModel(), RequestLedger())
    slow = hub.subscribe(swarm_id=None, node_id=None, limit=QueueLimit(events=1000, bytes=100_000))
    await bus.publish([env("command_output_delta", node_id=0, item_id="c", delta="x" * 40_000) for _ in range(2)])
    hub.ingest(await bus.read_after("0-0"))
    assert len(slow.queue) == 2 and not slow.lapped
    assert slow.queued_bytes == sum(len(item.frame) for item in slow.queue) > 80_000
    await bus.publish([env("command_output_delta", node_id=0, item_id="c", delta="x" * 40_000)])
    hub.ingest(await bus.read_after(hub.model.position))
    assert slow.lapped and len(slow.queue) == 0 and slow.queued_bytes == 0 and hub.clients_lapped == 1


async def test_one_take_is_bounded_in_bytes_and_the_budget_follows() -> None:
    bus = MemoryEventBus(1000)
    hub = Hub(bus, ReadModel(), RequestLedger())
    client = hub.subscribe(swarm_id=None, node_id=None, limit=roomy(100))
    await bus.publish([env("assistant_delta", node_id=0, item_id="i", delta="y" * 1000) for _ in range(10)])
    hub.ingest(await bus.read_after("0-0"))
    frame = len(client.queue[0].frame)
    first = client.take(100, most_bytes=3 * frame)
    assert len(first) == 3 and client.queued_bytes == 7 * frame
    assert len(client.take(2, most_bytes=10**9)) == 2
    assert len(client.take(100, most_bytes=1)) == 1  # one item over the cap still goes, alone
    assert len(client.take(100, most_bytes=10**9)) == 4 and client.queued_bytes == 0


async def test_subscribers_start_at_the_seam() -> None:
    bus = MemoryEventBus(1000)
    hub = Hub(bus, ReadModel(), RequestLedger())
    await bus.publish([env("turn_started", node_id=0)])
    hub.ingest(await bus.read_after("0-0"))
    late = hub.subscribe(swarm_id=None, node_id=None, limit=roomy(100))
    assert late.seam == hub.model.position_key
    new_ids = await bus.publish([env("turn_complete", node_id=0)])
    hub.ingest(await bus.read_after(hub.model.position))
    assert [i.id for i in late.queue] == new_ids


async def test_the_mirrors_own_events_are_placed_at_the_current_position() -> None:
    bus = MemoryEventBus(1000)
    hub = Hub(bus, ReadModel(), RequestLedger())
    await bus.publish([env("turn_started", node_id=0)])
    hub.ingest(await bus.read_after("0-0"))
    client = hub.subscribe(swarm_id="sw-a", node_id=None, limit=roomy(100))
    other = hub.subscribe(swarm_id="sw-other", node_id=None, limit=roomy(100))
    item = hub.announce("swarm_removed", {"swarm_id": "sw-a", "reason": "gone"})
    assert item.id is None and item.key == hub.model.position_key
    assert list(client.queue) == [item] and not other.queue
    assert hub.announced_between((0, 0), hub.model.position_key) == [item]
    assert hub.announced_between((hub.model.position_key[0] + 1, 0), (10**15, 0)) == []


def test_filters() -> None:
    both = Subscriber(swarm_id="sw-a", node_id=2, limit=roomy(10), seam=(0, 0))
    hub = Hub(MemoryEventBus(10), ReadModel(), RequestLedger())
    made = [
        hub.announce("node_status", {"swarm_id": "sw-a", "node_id": 2}),
        hub.announce("node_status", {"swarm_id": "sw-a", "node_id": 3}),
        hub.announce("swarm_status", {"swarm_id": "sw-a"}),
        hub.announce("node_status", {"swarm_id": "sw-b", "node_id": 2}),
    ]
    assert [both.matches(i) for i in made] == [True, False, True, False]

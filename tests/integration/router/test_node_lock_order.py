"""Ingest and the staleness sweep update node rows in one order (swarm, node), so on Postgres they never
deadlock on each other's rows, however their transactions interleave."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from router.authority import Authority
from router.inbox_delivery import InboxDelivery
from router.ingest import Ingest
from router.metrics import RouterMetrics
from router.providers.base import OutboxLines
from router.retention import Retention
from router.store.database import Database
from router.store.migrate import upgrade
from router.store.swarms import create_nodes, nodes_of, now
from router.store.tables import SwarmRow
from router.supervisor import Supervisor
from router.transcript import Transcript
from services.bus.redis_bus import RedisEventBus
from services.settings import Settings

ROUNDS = 40
SWARMS = ("sw-lock-a", "sw-lock-b")


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Database]:
    await upgrade(pg_url)
    database = Database(pg_url)
    yield database
    await database.close()


def heartbeat(job_id: str, seq: int) -> bytes:
    old = time.time() - 3600  # so old that the sweep marks the node stale again after each record
    record = {"seq": seq, "ts": old, "job_id": job_id, "node_id": 0, "injection_id": None, "kind": "heartbeat"}
    return orjson.dumps({**record, "payload": {}})


async def test_ingest_and_the_staleness_sweep_never_deadlock(
    db: Database, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    async with db.transaction() as session:
        for swarm_id in SWARMS:
            moment = now()
            session.add(
                SwarmRow(
                    swarm_id=swarm_id,
                    cluster="local",
                    job_id=f"local-{swarm_id}",
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
            create_nodes(session, swarm_id, 1)
    bus = RedisEventBus(redis_url, redis_prefix)
    ingest = Ingest(db, bus, Transcript(1 << 20))
    async with db.transaction() as session:
        rows = await nodes_of(session, list(SWARMS))
    for swarm_id in SWARMS:
        for row in rows[swarm_id]:
            row.status = "idle"
        await ingest.track(swarm_id, f"local-{swarm_id}", rows[swarm_id])
    settings = Settings(home=tmp_path, heartbeat_interval_s=0.5)
    metrics = RouterMetrics()
    authority = Authority(settings, db, {}, ingest, Transcript(1 << 20), InboxDelivery(db, metrics), metrics)
    supervisor = Supervisor(
        settings, db, {}, ingest, bus, authority, Retention(settings, db, {}, bus, authority.spawn), metrics
    )
    try:
        for seq in range(1, ROUNDS + 1):
            # ingest meets the nodes in the reverse of the sweep's order (b, then a)
            chunks = [
                OutboxLines(f"local-{swarm_id}", 0, [heartbeat(f"local-{swarm_id}", seq)], seq, seq - 1)
                for swarm_id in reversed(SWARMS)
            ]
            await asyncio.gather(ingest.handle(chunks), supervisor.mark_stale_nodes())
    finally:
        await bus.close()
    assert ingest.records_ingested == ROUNDS * len(SWARMS)

"""A removed swarm leaves nothing behind in the router: no tracked nodes, no followed outbox, no
delivery lock (each grew by one per swarm ever run)."""

from __future__ import annotations

from pathlib import Path

from router.core import start_router
from router.providers.local.provider import LocalProvider
from router.store.swarms import get_swarm
from services.protocol import InjectRequest, LaunchRequest, TerminateRequest
from services.settings import Settings
from tests.support.router_process import kill_local_nodes
from tests.support.servers import wait_until_async


async def test_removal_forgets_tracked_nodes_followed_outboxes_and_delivery_locks(
    tmp_path: Path, pg_url: str, redis_url: str, redis_prefix: str
) -> None:
    settings = Settings(
        home=tmp_path,
        database_url=pg_url,
        bus="redis",
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        heartbeat_interval_s=0.5,
        probe_interval_s=0.5,
        terminated_ttl_s=0.5,
        terminate_grace_s=3,
    )
    core = await start_router(settings)
    try:
        authority, ingest = core.authority, core.ingest
        provider = core.providers["local"]
        assert isinstance(provider, LocalProvider) and provider.follower is not None
        follower = provider.follower
        swarm_id = (await authority.launch(LaunchRequest(nodes=2), None)).swarm_id

        async def has_status(wanted: str | None) -> bool:
            async with core.db.transaction() as session:
                row = await get_swarm(session, swarm_id)
            return (row.status if row else None) == wanted

        await wait_until_async(lambda: has_status("running"), 20, "the swarm running")
        await authority.inject(swarm_id, InjectRequest(nodes="all", content="hi"))
        await wait_until_async(lambda: swarm_id in authority.delivery.locks, 5, "a delivery lock")
        assert len(ingest.nodes_of(swarm_id)) == 2 and len(follower.files) == 2
        await authority.terminate(swarm_id, TerminateRequest())
        await wait_until_async(lambda: has_status("removed"), 30, "the swarm removed after its TTL")
        assert ingest.nodes_of(swarm_id) == [] and follower.files == {}
        assert swarm_id not in authority.delivery.locks
    finally:
        await core.stop()
        kill_local_nodes(tmp_path)

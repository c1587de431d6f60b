"""What `codeswarm up` says as it stops while swarms still run: their node programs outlive it."""

from __future__ import annotations

import asyncio

from router.store.database import Database
from router.store.swarms import swarms_in
from services.protocol import SwarmStatus
from services.settings import Settings

LIVE = [SwarmStatus.LAUNCHING, SwarmStatus.PENDING, SwarmStatus.RUNNING, SwarmStatus.TERMINATING]


async def _live(url: str) -> list[tuple[str, str, int]]:
    db = Database(url)
    try:
        async with db.transaction() as session:
            return [(s.swarm_id, s.provider, s.node_count) for s in await swarms_in(session, LIVE)]
    finally:
        await db.close()


def still_running_note(settings: Settings) -> str | None:
    """A note naming the swarms whose nodes keep running, and how to stop them (None when there are none)."""
    swarms = asyncio.run(_live(settings.effective_database_url))
    if not swarms:
        return None
    listed = ", ".join(f"{swarm_id} ({provider}, {nodes} nodes)" for swarm_id, provider, nodes in swarms)
    return (
        f"codeswarm up: {len(swarms)} swarm(s) keep running without the services: {listed}. "
        "Their node programs go on (the next `codeswarm up` picks them up again); to stop them, "
        "start `codeswarm up` and run `codeswarm terminate <swarm_id>` for each."
    )

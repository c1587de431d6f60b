"""A node program that cannot start says why, and the swarm's reason carries its words (not only an
exit code): here codex is missing on the compute nodes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.router_process import BusReader, RouterProcess, wait_swarm

if TYPE_CHECKING:
    from tests.slurm.conftest import SlurmRouterKit

MISSING = "/nonexistent/codex"


async def test_nodes_that_exit_at_start_put_their_reason_in_the_swarms(
    slurm_kit: SlurmRouterKit, start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    path = Path(slurm_kit.providers_file(runtimes=["codex"]))
    path.write_text(
        path.read_text()
        + f'\n[providers.runtime_settings.codex]\nbinary = "{MISSING}"\nbase_url = "http://127.0.0.1:9/v1"\n'
    )
    router = start_router(CODESWARM_PROVIDERS_FILE=str(path))
    async with router.client() as client:
        response = await client.post(
            "/v1/swarms", json={"provider": "lab", "nodes": 2, "runtime": "codex", "runtime_params": {"model": "m"}}
        )
        assert response.status_code == 202, response.text
        swarm_id = response.json()["swarm_id"]
        slurm_kit.swarm_ids.append(swarm_id)
        swarm = await wait_swarm(client, swarm_id, lambda s: s.get("status") == "failed", 60)
    words = f"codex binary '{MISSING}' does not exist or is not executable on this node"
    assert swarm["reason"] == f"node 0, 1 exited with code 2: {words}", swarm
    await bus.wait_for(lambda: bool(bus.events("swarm_terminated", swarm_id=swarm_id)), 10, "swarm_terminated")
    (ended,) = bus.events("swarm_terminated", swarm_id=swarm_id)
    assert ended["status"] == "failed" and ended["reason"] == swarm["reason"]

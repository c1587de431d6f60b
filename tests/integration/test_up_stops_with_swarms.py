"""`codeswarm up` stopped with Ctrl-C while a swarm runs says that its nodes keep running, and how to
stop them."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.embedded_process import start_embedded
from tests.support.router_process import all_idle, wait_swarm


async def test_ctrl_c_names_the_swarms_whose_nodes_keep_running(tmp_path: Path) -> None:
    up = start_embedded(tmp_path)
    try:
        async with httpx.AsyncClient(base_url=up.urls["router"], timeout=15) as client:
            swarm_id = (await client.post("/v1/swarms", json={"nodes": 2})).json()["swarm_id"]
            await wait_swarm(client, swarm_id, all_idle, 30)
    finally:
        up.stop()  # SIGINT, as Ctrl-C
    log = up.log()
    assert f"1 swarm(s) keep running without the services: {swarm_id} (local, 2 nodes)" in log, log
    assert "codeswarm terminate <swarm_id>" in log and "codeswarm up: stopped" in log

"""A provider removed from the settings file while it has a live swarm: the router still starts and
serves the others, leaves that swarm and its job alone (health unknown, saying why), and picks it up
again when the provider comes back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from router.providers.local.processes import is_node_process
from tests.support.router_process import BusReader, RouterProcess, all_idle, wait_swarm


def providers_file(path: Path, *ids: str) -> str:
    entries = [f'[[providers]]\nid = "{provider_id}"\nbackend = "local"\nruntimes = ["mock"]\n' for provider_id in ids]
    path.write_text("\n".join(entries))
    return str(path)


def node_pids(router: RouterProcess, job_id: str) -> list[int]:
    control = router.home / "local" / "runs" / job_id / "control"
    return [int(p.read_text()) for p in sorted(control.glob("node_*.pid"))]


async def test_a_provider_missing_from_the_settings_file_does_not_stop_the_router(
    start_router: Callable[..., RouterProcess], bus: BusReader, tmp_path: Path
) -> None:
    both = providers_file(tmp_path / "both.toml", "local", "gone")
    router = start_router(CODESWARM_PROVIDERS_FILE=both, CODESWARM_TERMINATED_TTL_S="1")
    async with router.client() as client:
        launched = await client.post("/v1/swarms", json={"provider": "gone", "nodes": 2})
        orphan = launched.json()["swarm_id"]
        job_id = (await wait_swarm(client, orphan, all_idle, 20))["job_id"]
    pids = node_pids(router, job_id)
    router.stop()

    only_local = providers_file(tmp_path / "local.toml", "local")
    router = start_router(CODESWARM_PROVIDERS_FILE=only_local, CODESWARM_TERMINATED_TTL_S="1")
    async with router.client() as client:
        swarm = await wait_swarm(client, orphan, lambda s: s.get("health") == "unknown", 10)
        assert swarm["status"] == "running" and swarm["reason"] is None, swarm
        assert "provider 'gone' is not in the providers file" in swarm["health_reason"]
        assert all(is_node_process(pid, job_id) for pid in pids), "its job is left alone"

        def says_why() -> bool:
            return any("'gone'" in (e.get("health_reason") or "") for e in bus.events("swarm_status", swarm_id=orphan))

        await bus.wait_for(says_why, 10, "a swarm_status event with the health reason")
        injected = await client.post(f"/v1/swarms/{orphan}/inject", json={"nodes": "all", "content": "hi"})
        assert injected.status_code == 503 and "'gone'" in injected.json()["detail"], injected.text

        # the other provider is served, and the supervisor's loop goes on past the orphan (removal by TTL)
        other = (await client.post("/v1/swarms", json={"provider": "local", "nodes": 1})).json()["swarm_id"]
        await wait_swarm(client, other, all_idle, 20)
        assert (await client.post(f"/v1/swarms/{other}/terminate", json={})).status_code == 202
        await wait_swarm(client, other, lambda s: s.get("status_code") == 404, 20)
    router.stop()

    router = start_router(CODESWARM_PROVIDERS_FILE=both)  # the provider is back
    async with router.client() as client:
        swarm = await wait_swarm(client, orphan, lambda s: s.get("health") == "ok", 10)
        assert swarm["status"] == "running" and swarm["health_reason"] is None
        await client.post(f"/v1/swarms/{orphan}/inject", json={"nodes": "all", "content": "back again"})
        await bus.wait_for(
            lambda: len(bus.events("assistant", swarm_id=orphan, text="echo: back again")) == 2, 20, "both answers"
        )

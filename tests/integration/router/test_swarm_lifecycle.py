"""A swarm's life on the local provider with mock agents: launch, turns, terminate, archive, removal."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable

from tests.support.router_process import BusReader, RouterProcess, all_idle, wait_swarm


async def test_launch_inject_and_durable_turns(start_router: Callable[..., RouterProcess], bus: BusReader) -> None:
    router = start_router()
    async with router.client() as client:
        launched = await client.post(
            "/v1/swarms", json={"nodes": 2, "runtime": "mock", "runtime_params": {"delay_ms": 0}}
        )
        assert launched.status_code == 202, launched.text
        body = launched.json()
        swarm_id = body["swarm_id"]
        assert body["status"] == "launching" and body["request_id"].startswith("rq-")
        swarm = await wait_swarm(client, swarm_id, all_idle, 20)
        assert swarm["job_id"] and swarm["node_count"] == 2 and swarm["health"] == "ok"

        prompt = "hello there\n$ echo from-node && pwd\n$ echo oops >&2; exit 3"
        injected = await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": prompt})
        assert injected.status_code == 202, injected.text
        refs = injected.json()["injections"]
        assert [r["node_id"] for r in refs] == [0, 1]

        await bus.wait_for(lambda: len(bus.events("turn_complete", swarm_id=swarm_id)) == 2, 20, "both turns complete")
        for ref in refs:
            mine = {"swarm_id": swarm_id, "node_id": ref["node_id"], "injection_id": ref["injection_id"]}
            assert bus.events("inject_ack", **mine) and bus.events("inject_delivered", **mine)
            assert bus.events("turn_started", **mine) and bus.events("reasoning_delta", **mine)
            answer = "".join(d["delta"] for d in bus.events("assistant_delta", **mine))
            assert answer == f"echo: {prompt}"
            assert bus.events("assistant", **mine)[0]["text"] == answer
            commands = bus.events("command_completed", **mine)
            assert [c["exit_code"] for c in commands] == [0, 3]
            assert f"node_0{ref['node_id']}" in commands[0]["output"]  # ran in its own workspace
            assert "oops" in commands[1]["output"]
            assert bus.events("usage", **mine)[-1]["total"]["totalTokens"] > 0
            assert bus.events("assistant_delta", **mine)[0]["raw"]["method"] == "item/agentMessage/delta"

            turns = (await client.get(f"/v1/swarms/{swarm_id}/nodes/{ref['node_id']}/turns")).json()["turns"]
            assert len(turns) == 1
            turn = turns[0]
            assert turn["injection_id"] == ref["injection_id"] and turn["prompt"] == prompt
            assert turn["status"] == "completed" and turn["assistant"] == answer and turn["reasoning"]
            assert [(c["exit_code"], c["output"].strip().splitlines()[0]) for c in turn["commands"]] == [
                (0, "from-node"),
                (3, "oops"),
            ]
            usage = bus.events("usage", **mine)[-1]
            assert usage["context_window"]
            # the durable turn keeps what the page showed live: counts, context window, model and cost
            kept = ("total", "last", "context_window", "model", "cost_usd")
            assert turn["usage"] == {name: usage[name] for name in kept}

        # every node's records reached the bus once, in order
        for node_id in (0, 1):
            seqs = [e["seq"] for e in bus.events(None, swarm_id=swarm_id, node_id=node_id) if "seq" in e]
            assert seqs == sorted(seqs)


async def test_terminate_is_idempotent_archives_and_the_swarm_is_removed_after_its_ttl(
    start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    router = start_router(CODESWARM_TERMINATED_TTL_S="2")
    async with router.client() as client:
        swarm_id = (await client.post("/v1/swarms", json={"nodes": 2})).json()["swarm_id"]
        await wait_swarm(client, swarm_id, all_idle, 20)
        await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": 1, "content": "$ echo kept > kept.txt"})
        await bus.wait_for(lambda: bool(bus.events("turn_complete", swarm_id=swarm_id)), 20, "turn done")

        first = await client.post(f"/v1/swarms/{swarm_id}/terminate", json={"download_workspaces": True})
        again = await client.post(f"/v1/swarms/{swarm_id}/terminate", json={})
        assert first.status_code == again.status_code == 202
        assert first.json()["status"] == "terminating" and again.json()["status"] in ("terminating", "terminated")

        await bus.wait_for(lambda: bool(bus.events("workspace_archive_ready", swarm_id=swarm_id)), 30, "archive ready")
        swarm = (await client.get(f"/v1/swarms/{swarm_id}")).json()
        assert swarm["status"] == "terminated" and swarm["reason"] == "terminated by user"
        assert all(n["status"] == "exited" for n in swarm["nodes"])
        archive = await client.get(f"/v1/swarms/{swarm_id}/archive")
        assert archive.status_code == 200
        with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as tar:
            names = tar.getnames()
            member = tar.extractfile(f"{swarm['job_id']}/node_01/kept.txt")
            assert member is not None and member.read() == b"kept\n"
        assert f"{swarm['job_id']}/node_00" in names

        blocked = await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": "late"})
        assert blocked.status_code == 409 and "terminated" in blocked.json()["detail"]

        await bus.wait_for(lambda: bool(bus.events("swarm_removed", swarm_id=swarm_id)), 15, "removed after ttl")
        assert (await client.get(f"/v1/swarms/{swarm_id}")).status_code == 404
        listed = (await client.get("/v1/swarms")).json()["swarms"]
        assert swarm_id not in [s["swarm_id"] for s in listed]
        statuses = [e["status"] for e in bus.events("swarm_status", swarm_id=swarm_id)]
        assert statuses[:2] == ["running", "terminating"] and statuses[-1] == "terminated"

"""Approvals on the mock runtime (a `$? ` prompt line asks first), through a real router process."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.router_process import BusReader, RouterProcess, all_idle, wait_swarm
from tests.support.servers import wait_until_async


async def test_a_mock_approval_is_durable_and_answered_once(
    start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    router = start_router()
    async with router.client() as client:
        launched = await client.post("/v1/swarms", json={"nodes": 2, "runtime_params": {"delay_ms": 0}})
        swarm_id = launched.json()["swarm_id"]
        await wait_swarm(client, swarm_id, all_idle, 20)
        prompt = "please\n$? echo approved > approved.txt && cat approved.txt"
        injected = await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": 1, "content": prompt})
        injection_id = injected.json()["injections"][0]["injection_id"]
        await bus.wait_for(lambda: bool(bus.events("exec_approval_required", swarm_id=swarm_id)), 20, "the request")
        [asked] = bus.events("exec_approval_required", swarm_id=swarm_id)
        assert asked["node_id"] == 1 and asked["injection_id"] == injection_id and asked["request_id"] == 0
        assert asked["available_decisions"] == ["accept", "acceptForSession", "decline", "cancel"]
        assert "approved.txt" in asked["command"]

        async def pending_in_the_transcript() -> bool:  # committed just after the event is published
            turns = (await client.get(f"/v1/swarms/{swarm_id}/nodes/1/turns")).json()["turns"]
            approvals = turns[0]["approvals"]
            return turns[0]["status"] == "running" and [a["status"] for a in approvals] == ["pending"]

        await wait_until_async(pending_in_the_transcript, 10, "the pending approval in the durable turn")
        url = f"/v1/swarms/{swarm_id}/approvals/{asked['call_id']}"
        wrong_node = await client.post(url, json={"node_id": 7, "decision": "accept"})
        assert wrong_node.status_code == 422 and "out of range" in wrong_node.text
        elsewhere = await client.post(url, json={"node_id": 0, "decision": "accept"})
        assert elsewhere.status_code == 404  # that call is node 1's
        assert (await client.post(url, json={"node_id": 1, "decision": "accept"})).status_code == 202
        await bus.wait_for(lambda: bool(bus.events("turn_complete", swarm_id=swarm_id)), 20, "the turn")
        [done] = bus.events("command_completed", swarm_id=swarm_id)
        assert done["exit_code"] == 0 and done["output"].strip().endswith("approved")
        [resolved] = bus.events("exec_approval_resolved", swarm_id=swarm_id)
        assert (resolved["call_id"], resolved["decision"]) == (asked["call_id"], "accept")
        turn = (await client.get(f"/v1/swarms/{swarm_id}/nodes/1/turns")).json()["turns"][0]
        assert turn["approvals"][0]["status"] == "resolved" and turn["approvals"][0]["decision"] == "accept"
        again = await client.post(url, json={"node_id": 1, "decision": "decline"})
        assert again.status_code == 409 and "resolved (accept)" in again.text

        await client.post(f"/v1/swarms/{swarm_id}/terminate", json={})
        await wait_swarm(client, swarm_id, lambda s: s.get("status") == "terminated", 20)
        late = await client.post(url, json={"node_id": 1, "decision": "accept"})
        assert late.status_code == 409

"""A 50 MB command output on a real local swarm (router process, Postgres, Redis, mock agent): the turn
completes, the node stays alive and idle, the output is capped where the node writes it (the event says
so), the durable transcript keeps its own cut with the same note, and the node takes the next prompt."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from services.node.records import OUTPUT_CAP, truncation_note
from tests.support.router_process import BusReader, RouterProcess, all_idle, wait_swarm

BIG_COMMAND = "yes | head -c 50000000"
WRITTEN = 50_000_000
DURABLE_CAP = 65_536  # CODESWARM_COMMAND_OUTPUT_CAP's default


async def inject(client: httpx.AsyncClient, swarm_id: str, content: str) -> str:
    response = await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": 0, "content": content})
    assert response.status_code == 202, response.text
    return str(response.json()["injections"][0]["injection_id"])


async def turn_completed(bus: BusReader, injection_id: str, within_s: float) -> dict[str, Any]:
    await bus.wait_for(
        lambda: bool(bus.events("turn_complete", injection_id=injection_id)), within_s, f"turn {injection_id}"
    )
    (completed,) = bus.events("command_completed", injection_id=injection_id)
    return completed


async def test_a_50_mb_output_completes_its_turn_capped_and_the_node_goes_on(
    start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    router = start_router()
    async with router.client() as client:
        swarm_id = (await client.post("/v1/swarms", json={"nodes": 1})).json()["swarm_id"]
        await wait_swarm(client, swarm_id, all_idle, 30)

        big = await inject(client, swarm_id, f"$ {BIG_COMMAND}")
        completed = await turn_completed(bus, big, 120)
        node_note = truncation_note(WRITTEN - OUTPUT_CAP)
        assert completed["exit_code"] == 0 and completed["truncated"] is True
        assert completed["output_chars"] == WRITTEN
        assert completed["output"] == "y\n" * (OUTPUT_CAP // 2) + node_note
        assert "raw" not in completed, "the output goes once, not a second time inside the runtime's message"
        assert "output" in completed["raw_omitted"]
        streamed = "".join(d["delta"] for d in bus.events("command_output_delta", injection_id=big))
        assert streamed == completed["output"]
        (turn_end,) = bus.events("turn_complete", injection_id=big)
        assert turn_end["status"] == "completed"

        swarm = await wait_swarm(client, swarm_id, all_idle, 10)  # alive, idle, not stale
        assert swarm["nodes"][0]["status"] == "idle"
        turns = (await client.get(f"/v1/swarms/{swarm_id}/nodes/0/turns")).json()["turns"]
        (command,) = next(t for t in turns if t["injection_id"] == big)["commands"]
        assert command["exit_code"] == 0
        assert command["output"] == "y\n" * (DURABLE_CAP // 2) + truncation_note(WRITTEN - DURABLE_CAP)

        after = await inject(client, swarm_id, "$ echo after")
        later = await turn_completed(bus, after, 30)
        assert later["output"] == "after\n" and later["truncated"] is False
        assert later["raw"] and "raw_omitted" not in later, "a small output keeps the runtime's message"
        await wait_swarm(client, swarm_id, all_idle, 10)

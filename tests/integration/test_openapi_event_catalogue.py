"""Every event a real run sends — router on Postgres and Redis, mock agents, the mirror's SSE stream with
its own annotations — fits the published event catalogue, the mirror serves that catalogue, and its read
model and live answers are what its OpenAPI description says."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from services.protocol import EventName
from services.protocol.mirror_views import LiveSwarm, MirrorState
from tests.contract.event_schema import EVENTS_SCHEMA, problems
from tests.support.mirror_process import sse_events
from tests.support.mirror_stream import serve_mirror
from tests.support.router_process import RouterProcess, all_idle, wait_swarm
from tests.support.servers import wait_until_async

# What this run cannot produce: it changes no file, has no agent fault, no refused, failed or steered
# injection, no failed archive, and removes nothing.  Every other event it must produce at least once (so
# a flow that silently does less fails here, and a new event is either produced or named here).
NOT_PRODUCED = {
    EventName.FILECHANGE_STARTED,
    EventName.FILECHANGE_COMPLETED,
    EventName.AGENT_ERROR,
    EventName.AGENT_WARNING,
    EventName.COMMAND_REJECTED,
    EventName.INJECT_FAILED,
    EventName.INJECT_STEERED,
    EventName.WORKSPACE_ARCHIVE_FAILED,
    EventName.SWARM_REMOVED,
    EventName.SWARM_FILES_DELETED,
}
EXPECTED = {str(name) for name in EventName} - NOT_PRODUCED


async def _read(url: str, envelopes: list[dict[str, Any]], opened: asyncio.Event) -> None:
    async with (
        httpx.AsyncClient(timeout=None) as client,
        client.stream("GET", f"{url}/v1/events", params={"last_event_id": "0-0"}) as response,
    ):
        opened.set()
        async for event in sse_events(response):
            envelopes.append({"sse_event": event.event, **event.json()})


async def test_every_event_of_a_real_run_fits_the_catalogue(
    start_router: Callable[..., RouterProcess], tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    router = start_router()
    envelopes: list[dict[str, Any]] = []
    async with serve_mirror(router.url, tmp_path / "mirror", redis_url, redis_prefix) as url:
        opened = asyncio.Event()
        reader = asyncio.create_task(_read(url, envelopes, opened))
        try:
            await asyncio.wait_for(opened.wait(), 10)
            async with httpx.AsyncClient(base_url=url, timeout=15) as client:
                served = (await client.get("/v1/events/schema")).json()
                assert served == json.loads(EVENTS_SCHEMA.read_text())
                swarm_id = await _drive(client)
                # the mirror's own answers are what its description says
                MirrorState.model_validate((await client.get("/v1/state")).json())
                live = LiveSwarm.model_validate((await client.get(f"/v1/swarms/{swarm_id}/live")).json())
                assert [node.node_id for node in live.nodes] == [0, 1]

                def seen() -> set[str]:
                    return {e["event"] for e in envelopes if "event" in e}

                await wait_until_async(lambda: seen() >= EXPECTED, 30, f"every expected event; missing {EXPECTED}")
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    assert all(e["sse_event"] == e["event"] for e in envelopes)
    wrong = {f"{e['event']}: {found}" for e in envelopes if (found := problems(e))}
    assert not wrong, "\n".join(sorted(wrong))
    annotated = [e for e in envelopes if e["event"] == "inject_delivered"]
    assert annotated and all(isinstance(e["data"]["request_id"], str) for e in annotated)


async def _drive(client: httpx.AsyncClient) -> str:
    """Launch, prompt (a command, an approval, one queued behind a running turn), terminate with an archive."""
    launched = await client.post("/v1/swarms", json={"nodes": 2, "runtime_params": {"delay_ms": 30}})
    assert launched.status_code == 202, launched.text
    swarm_id = launched.json()["swarm_id"]
    await wait_swarm(client, swarm_id, all_idle, 30)
    first = await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": "$ echo one"})
    assert first.status_code == 202, first.text
    queued = await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": 0, "content": "then this"})
    assert queued.status_code == 202, queued.text
    asked = await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": 1, "content": "$? echo approved"})
    assert asked.status_code == 202, asked.text

    async def pending() -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = (await client.get(f"/v1/swarms/{swarm_id}/approvals")).json()["approvals"]
        return answer

    async def one_pending() -> bool:
        return len(await pending()) == 1

    await wait_until_async(one_pending, 30, "the approval request")
    [approval] = await pending()
    answer = await client.post(
        f"/v1/swarms/{swarm_id}/approvals/{approval['call_id']}", json={"node_id": 1, "decision": "accept"}
    )
    assert answer.status_code == 202, answer.text
    await wait_swarm(client, swarm_id, all_idle, 30)
    terminated = await client.post(f"/v1/swarms/{swarm_id}/terminate", json={"download_workspaces": True})
    assert terminated.status_code == 202, terminated.text
    await wait_swarm(client, swarm_id, lambda s: s.get("status") == "terminated", 30)
    return swarm_id

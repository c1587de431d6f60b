"""The embedded mode holds under load (issue 8 item 5): `codeswarm up` on SQLite with the in-process bus,
128 local mock nodes streaming while each runs a command that keeps a processor busy (as agents building
on a login node do), injections to every node several times while GET /v1/swarms and GET /v1/swarms/{id}
are polled: every GET answered and none with a 5xx, no failed transaction in the router's log, and every
injection ends inject_delivered or inject_failed on the stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from codeswarm.cli.sse import SseEvent
from tests.e2e.embedded_process import EmbeddedProcess, start_embedded
from tests.support.mirror_process import ResumingClient
from tests.support.provider_files import write_local_providers
from tests.support.router_process import all_idle, wait_swarm

NODES = 128
ROUNDS = 3
START_S = 90  # 128 node programs start on a shared two-core machine
OUTCOME_S = 60
BUSY_COMMAND = "timeout 5 sh -c 'while :; do :; done'"  # a processor kept busy for 5 s, by every node
FAILED_TRANSACTION = ("database is locked", "Traceback", "background task", "OperationalError")


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedProcess]:
    # a HOME of its own: the commands' login shells read no profile of this machine's user
    (tmp_path / "home").mkdir()
    env = {"CODESWARM_PROVIDERS_FILE": str(write_local_providers(tmp_path, NODES)), "HOME": str(tmp_path / "home")}
    running = start_embedded(tmp_path, env)
    yield running
    running.stop()


NO_ANSWER = 0  # a GET that got no answer within the client's timeout


async def poll(client: httpx.AsyncClient, paths: list[str], statuses: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for path in paths:
            try:
                statuses.append((await client.get(path)).status_code)
            except httpx.TimeoutException:
                statuses.append(NO_ANSWER)


async def test_128_streaming_nodes_on_sqlite_lose_no_injection_and_answer_no_5xx(embedded: EmbeddedProcess) -> None:
    async with httpx.AsyncClient(base_url=embedded.urls["router"], timeout=30) as http:
        launched = await http.post(
            "/v1/swarms", json={"nodes": NODES, "runtime": "mock", "runtime_params": {"tokens": 200, "delay_ms": 1}}
        )
        assert launched.status_code == 202, launched.text
        swarm_id = launched.json()["swarm_id"]
        await wait_swarm(http, swarm_id, all_idle, START_S)

        statuses: list[int] = []
        stop = asyncio.Event()
        pollers = [
            asyncio.create_task(poll(http, ["/v1/swarms", f"/v1/swarms/{swarm_id}"], statuses, stop)) for _ in range(2)
        ]
        injection_ids: set[str] = set()
        try:
            for round_no in range(ROUNDS):
                command = BUSY_COMMAND if round_no == 0 else "true"
                injected = await http.post(
                    f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": f"round {round_no}\n$ {command}"}
                )
                assert injected.status_code == 202, injected.text
                injection_ids |= {ref["injection_id"] for ref in injected.json()["injections"]}

            def outcomes(events: list[SseEvent]) -> set[str]:
                return {
                    e.json()["data"]["injection_id"] for e in events if e.event in ("inject_delivered", "inject_failed")
                }

            stream = ResumingClient(embedded.mirror_url, last_id="0-0")
            await stream.run(lambda events: injection_ids <= outcomes(events), within=OUTCOME_S)
            await wait_swarm(http, swarm_id, all_idle, OUTCOME_S)  # every turn ran: no node is left stuck
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.gather(*pollers)

    assert len(injection_ids) == NODES * ROUNDS
    unanswered = [s for s in statuses if s == NO_ANSWER or s >= 500]
    assert statuses and not unanswered, f"{len(unanswered)} of {len(statuses)} GETs unanswered or 5xx: {unanswered}"
    log = embedded.log()
    failures = {marker: log.count(marker) for marker in FAILED_TRANSACTION if marker in log}
    assert not failures, f"the router's log shows failed work {failures}:\n{log[-4000:]}"

"""Claude swarms end to end: the real Claude Code on the local provider, a fake Anthropic Messages API, a
router process on Postgres and Redis and the mirror in front of it: launch, stream, a real command,
usage, a durable transcript equal to what streamed, approvals through REST, interrupt."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fake_anthropic import FakeAnthropic
from tests.support.mirror_stream import MirrorStream, serve_mirror
from tests.support.router_process import BusReader, RouterProcess, all_idle, wait_swarm
from tests.support.servers import wait_until_async

KEY_VAR = "CODESWARM_TEST_ANTHROPIC_KEY"
KEY = "sk-ant-test-0123456789"
TURN_S = 120  # Claude Code takes seconds per model round trip on a loaded machine


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic().start()
    yield fake
    fake.stop()


@pytest.fixture
def claude_router(
    start_router: Callable[..., RouterProcess], tmp_path: Path, fake_anthropic: FakeAnthropic, claude_binary: Path
) -> RouterProcess:
    providers = tmp_path / "providers.toml"
    providers.write_text(
        f"""
[[providers]]
id = "local"
backend = "local"
runtimes = ["mock", "claude"]

[runtimes.claude]
base_url = "{fake_anthropic.base_url}"
env_key = "{KEY_VAR}"

[prices."fake-model"]
input = 3.0
cached_input = 0.3
output = 15.0
"""
    )
    return start_router(CODESWARM_PROVIDERS_FILE=str(providers), **{KEY_VAR: KEY})


@pytest.fixture
async def mirror(claude_router: RouterProcess, tmp_path: Path, redis_url: str, redis_prefix: str) -> AsyncIterator[str]:
    async with serve_mirror(claude_router.url, tmp_path / "mirror", redis_url, redis_prefix) as url:
        yield url


async def launch_claude(http: httpx.AsyncClient, nodes: int, **params: Any) -> dict[str, Any]:
    body = {"nodes": nodes, "runtime": "claude", "runtime_params": {"model": "fake-model", **params}}
    launched = await http.post("/v1/swarms", json=body)
    assert launched.status_code == 202, launched.text
    return await wait_swarm(http, launched.json()["swarm_id"], all_idle, TURN_S)


async def test_a_claude_swarm_answers_runs_a_command_and_reports_usage_durably(
    claude_router: RouterProcess, mirror: str, bus: BusReader, fake_anthropic: FakeAnthropic
) -> None:
    async with httpx.AsyncClient(base_url=mirror, timeout=15) as http, MirrorStream(mirror) as stream:
        swarm = await launch_claude(http, 2, approval_policy="never")
        swarm_id = swarm["swarm_id"]
        prompt = "Show where you are [bash: pwd && echo done > done.txt]"
        injected = await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": prompt})
        assert injected.status_code == 202, injected.text
        await stream.wait("turn_complete", within=TURN_S, count=2, swarm_id=swarm_id)
        for node_id in (0, 1):
            mine = {"swarm_id": swarm_id, "node_id": node_id}
            [started] = stream.of("command_started", **mine)
            [command] = stream.of("command_completed", **mine)
            assert started["call_id"] == command["call_id"] and "pwd" in command["command"]
            assert command["exit_code"] == 0 and command["output"].endswith(f"node_0{node_id}")
            streamed = "".join(d["delta"] for d in stream.of("assistant_delta", **mine))
            assert streamed == f"Ran it. Output: {command['output']}"
            [usage] = stream.of("usage", **mine)
            assert usage["last"]["totalTokens"] > 0 and usage["model"] == "fake-model" and usage["cost_usd"] > 0
            assert stream.of("turn_complete", **mine)[0]["status"] == "completed"
            # the durable transcript (Postgres, through the mirror) says what streamed
            [turn] = (await http.get(f"/v1/swarms/{swarm_id}/nodes/{node_id}/turns")).json()["turns"]
            assert turn["status"] == "completed" and turn["prompt"] == prompt and turn["assistant"] == streamed
            assert [(c["call_id"], c["exit_code"], c["output"]) for c in turn["commands"]] == [
                (command["call_id"], 0, command["output"])
            ]
            kept = ("total", "last", "context_window", "model", "cost_usd")
            assert turn["usage"] == {name: usage[name] for name in kept}
        nodes = (await http.get(f"/v1/swarms/{swarm_id}")).json()["nodes"]
        assert [n["status"] for n in nodes] == ["idle", "idle"]
    assert {request.headers["x-api-key"] for request in fake_anthropic.requests} == {KEY}
    await bus.poll()
    published = json.dumps([envelope for _, envelope in bus.entries])
    assert KEY not in published and KEY not in claude_router.log_tail()


async def test_claude_approvals_are_answered_through_rest_and_a_waiting_turn_is_interrupted(
    claude_router: RouterProcess, mirror: str, fake_anthropic: FakeAnthropic
) -> None:
    async with httpx.AsyncClient(base_url=mirror, timeout=15) as http, MirrorStream(mirror) as stream:
        swarm = await launch_claude(http, 2, approval_policy="untrusted")
        swarm_id = swarm["swarm_id"]
        for node_id, name in ((0, "yes"), (1, "no")):
            content = f"[bash: touch {name}.txt]"
            await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": node_id, "content": content})
        asked = await stream.wait("exec_approval_required", within=TURN_S, count=2, swarm_id=swarm_id)
        by_node = {a["node_id"]: a for a in asked}
        assert by_node[0]["command"] == "touch yes.txt" and by_node[0]["available_decisions"] == [
            "accept",
            "decline",
            "cancel",
        ]
        for node_id, decision in ((0, "accept"), (1, "decline")):
            url = f"/v1/swarms/{swarm_id}/approvals/{by_node[node_id]['call_id']}"
            answered = await http.post(url, json={"node_id": node_id, "decision": decision})
            assert answered.status_code == 202, answered.text
        await stream.wait("turn_complete", within=TURN_S, count=2, swarm_id=swarm_id)
        [accepted] = stream.of("command_completed", swarm_id=swarm_id, node_id=0)
        [declined] = stream.of("command_completed", swarm_id=swarm_id, node_id=1)
        assert accepted["call_id"] == by_node[0]["call_id"] and accepted["status"] == "completed"
        assert declined["call_id"] == by_node[1]["call_id"] and declined["status"] == "declined"
        [turn] = (await http.get(f"/v1/swarms/{swarm_id}/nodes/0/turns")).json()["turns"]
        assert [(a["status"], a["decision"]) for a in turn["approvals"]] == [("resolved", "accept")]

        waiting = await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": "[hang]"})
        hung = [i["injection_id"] for i in waiting.json()["injections"]]
        await wait_until_async(
            lambda: fake_anthropic.user_texts().count("[hang]") >= 2, TURN_S, "both model requests to hang"
        )
        interrupted = await http.post(f"/v1/swarms/{swarm_id}/interrupt", json={"nodes": "all"})
        assert interrupted.status_code == 202, interrupted.text
        for injection_id in hung:
            [done] = await stream.wait("turn_complete", within=TURN_S, injection_id=injection_id)
            assert done["status"] == "interrupted"
        turns = (await http.get(f"/v1/swarms/{swarm_id}/nodes/1/turns")).json()["turns"]
        assert [t["status"] for t in turns] == ["completed", "interrupted"]

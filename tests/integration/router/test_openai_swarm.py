"""A swarm of the openai runtime against a fake OpenAI-compatible server, through a router process on
Postgres and Redis: it answers, runs a command, asks for and gets an approval, is interrupted, reports
usage, and its durable transcript is what streamed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.fake_chat import FakeChat
from tests.support.router_process import BusReader, RouterProcess, all_idle, wait_swarm

KEY_VAR = "SITE_MODEL_KEY"


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    fake = FakeChat().start()
    yield fake
    fake.stop()


@pytest.fixture
def router(start_router: Callable[..., RouterProcess], tmp_path: Path, chat: FakeChat) -> RouterProcess:
    providers = tmp_path / "providers.toml"
    providers.write_text(
        f'[runtimes.openai]\nbase_url = "{chat.base_url}"\napi_key_env = "{KEY_VAR}"\n\n'
        '[[providers]]\nid = "local"\nbackend = "local"\nruntimes = ["mock", "openai"]\n'
    )
    return start_router(CODESWARM_PROVIDERS_FILE=str(providers), **{KEY_VAR: "sk-site-0123456789"})


async def test_an_openai_swarm_answers_runs_asks_is_interrupted_and_keeps_its_transcript(
    router: RouterProcess, bus: BusReader, chat: FakeChat
) -> None:
    async with router.client() as http:
        body = {
            "nodes": 2,
            "runtime": "openai",
            "runtime_params": {"model": "fake-chat", "approval_policy": "untrusted"},
        }
        launched = await http.post("/v1/swarms", json=body)
        assert launched.status_code == 202, launched.text
        swarm_id = launched.json()["swarm_id"]
        await wait_swarm(http, swarm_id, all_idle, 30)
        await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": "[tool: echo from-$PWD]"})
        await bus.wait_for(lambda: len(bus.events("exec_approval_required", swarm_id=swarm_id)) == 2, 30, "asks")
        for asked in bus.events("exec_approval_required", swarm_id=swarm_id):
            url = f"/v1/swarms/{swarm_id}/approvals/{asked['call_id']}"
            answered = await http.post(url, json={"node_id": asked["node_id"], "decision": "accept"})
            assert answered.status_code == 202, answered.text
        await bus.wait_for(lambda: len(bus.events("turn_complete", swarm_id=swarm_id)) == 2, 30, "both turns")
        for node_id in (0, 1):
            mine = {"swarm_id": swarm_id, "node_id": node_id}
            [command] = bus.events("command_completed", **mine)
            assert command["exit_code"] == 0 and f"node_0{node_id}" in command["output"]
            streamed = "".join(d["delta"] for d in bus.events("assistant_delta", **mine))
            assert streamed.startswith("Tool said: from-") and bus.events("usage", **mine)[-1]["total"]["totalTokens"]
            [turn] = (await http.get(f"/v1/swarms/{swarm_id}/nodes/{node_id}/turns")).json()["turns"]
            assert turn["status"] == "completed" and turn["assistant"] == streamed
            assert turn["reasoning"] == "".join(d["delta"] for d in bus.events("reasoning_delta", **mine))
            assert [c["output"] for c in turn["commands"]] == [command["output"]]
            assert turn["approvals"][0]["status"] == "resolved"

        sleeping = await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": 0, "content": "[tool: sleep 30]"})
        injection_id = sleeping.json()["injections"][0]["injection_id"]
        await bus.wait_for(lambda: bool(bus.events("exec_approval_required", injection_id=injection_id)), 30, "ask")
        [asked] = bus.events("exec_approval_required", injection_id=injection_id)
        await http.post(
            f"/v1/swarms/{swarm_id}/approvals/{asked['call_id']}", json={"node_id": 0, "decision": "accept"}
        )
        await bus.wait_for(lambda: bool(bus.events("command_started", injection_id=injection_id)), 30, "the sleep")
        assert (await http.post(f"/v1/swarms/{swarm_id}/interrupt", json={"nodes": 0})).status_code == 202
        await bus.wait_for(lambda: bool(bus.events("turn_complete", injection_id=injection_id)), 30, "interrupted")
        assert bus.events("turn_complete", injection_id=injection_id)[0]["status"] == "interrupted"
    assert {r.headers.get("authorization") for r in chat.requests if r.method == "POST"} == {
        "Bearer sk-site-0123456789"
    }


async def test_a_model_the_endpoint_does_not_serve_is_refused_at_launch_with_the_ones_it_does(
    router: RouterProcess,
) -> None:
    async with router.client() as http:
        body = {"nodes": 1, "runtime": "openai", "runtime_params": {"model": "gpt-imaginary"}}
        refused = await http.post("/v1/swarms", json=body)
        assert refused.status_code == 422 and "it serves: fake-chat" in refused.text, refused.text
        override = {"nodes": 1, "runtime": "openai", "runtime_params": {"model": "fake-chat", "base_url": "http://x"}}
        refused = await http.post("/v1/swarms", json=override)
        assert refused.status_code == 422 and "come from the provider's settings" in refused.text

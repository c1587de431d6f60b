"""Codex swarms end to end: the real codex binary on the local provider, a fake model, a router process
on Postgres and Redis, the mirror in front of it (and the embedded mode): launch, stream, approvals
through REST, steer, queue, interrupt, the router killed mid-turn."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from codeswarm.cli import main
from tests.support.embedded_stack import embedded_stack
from tests.support.fake_responses import FakeResponses
from tests.support.mirror_stream import MirrorStream, serve_mirror
from tests.support.router_process import BusReader, RouterProcess, all_idle, wait_swarm
from tests.support.servers import wait_until_async

KEY_VAR = "CODESWARM_TEST_MODEL_KEY"
KEY = "sk-test-0123456789"


def providers_file(tmp_path: Path, fake: FakeResponses) -> Path:
    path = tmp_path / "providers.toml"
    path.write_text(
        f"""
[[providers]]
id = "local"
backend = "local"
runtimes = ["mock", "shell", "codex"]

[runtimes.codex]
base_url = "{fake.base_url}"
env_key = "{KEY_VAR}"

[prices."fake-model"]
input = 1.0
cached_input = 0.1
output = 4.0
"""
    )
    return path


@pytest.fixture
def fake_model() -> Iterator[FakeResponses]:
    fake = FakeResponses(expected_key=KEY, slow_delay_s=0.2).start()
    yield fake
    fake.stop()


@pytest.fixture
def codex_router(
    start_router: Callable[..., RouterProcess], tmp_path: Path, fake_model: FakeResponses, codex_binary: Path
) -> RouterProcess:
    return start_router(CODESWARM_PROVIDERS_FILE=str(providers_file(tmp_path, fake_model)), **{KEY_VAR: KEY})


@pytest.fixture
async def mirror(codex_router: RouterProcess, tmp_path: Path, redis_url: str, redis_prefix: str) -> AsyncIterator[str]:
    async with serve_mirror(codex_router.url, tmp_path / "mirror", redis_url, redis_prefix) as url:
        yield url


async def launch_codex(http: httpx.AsyncClient, nodes: int, **params: Any) -> dict[str, Any]:
    body = {"nodes": nodes, "runtime": "codex", "runtime_params": {"model": "fake-model", **params}}
    launched = await http.post("/v1/swarms", json=body)
    assert launched.status_code == 202, launched.text
    return await wait_swarm(http, launched.json()["swarm_id"], all_idle, 30)


async def test_a_codex_swarm_streams_runs_commands_and_reports_usage(
    codex_router: RouterProcess, mirror: str, bus: BusReader
) -> None:
    async with httpx.AsyncClient(base_url=mirror, timeout=15) as http, MirrorStream(mirror) as stream:
        swarm = await launch_codex(http, 2, approval_policy="never", sandbox="danger-full-access")
        swarm_id = swarm["swarm_id"]
        prompt = "Show where you are [run: pwd && echo done > done.txt]"
        injected = await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": prompt})
        assert injected.status_code == 202, injected.text
        await stream.wait("turn_complete", count=2, swarm_id=swarm_id)
        for node_id in (0, 1):
            mine = {"swarm_id": swarm_id, "node_id": node_id}
            assert stream.of("reasoning_delta", **mine) and stream.of("assistant_delta", **mine)
            [command] = stream.of("command_completed", **mine)
            assert command["exit_code"] == 0 and f"node_0{node_id}" in command["output"]
            usage = stream.of("usage", **mine)[-1]
            assert usage["last"]["totalTokens"] > 0 and usage["model"] == "fake-model" and usage["cost_usd"] > 0
            assert stream.of("turn_complete", **mine)[0]["status"] == "completed"
            turns = (await http.get(f"/v1/swarms/{swarm_id}/nodes/{node_id}/turns")).json()["turns"]
            [turn] = turns
            # the model saw the command's output as codex sent it: stdout, after any stderr the login
            # shell wrote (a pyenv rehash racing another process once put two lines there)
            answer = turn["assistant"]
            assert turn["status"] == "completed" and answer.startswith("Ran it. Output: ")
            assert answer.endswith(command["output"].strip()), answer
            assert [c["exit_code"] for c in turn["commands"]] == [0]
        nodes = (await http.get(f"/v1/swarms/{swarm_id}")).json()["nodes"]
        assert [n["status"] for n in nodes] == ["idle", "idle"]
    await bus.poll()
    published = json.dumps([envelope for _, envelope in bus.entries])
    assert KEY not in published and KEY not in codex_router.log_tail()


async def test_approvals_are_answered_through_rest_with_the_offered_decisions(
    codex_router: RouterProcess, mirror: str
) -> None:
    async with httpx.AsyncClient(base_url=mirror, timeout=15) as http, MirrorStream(mirror) as stream:
        swarm = await launch_codex(http, 2, approval_policy="untrusted")
        swarm_id = swarm["swarm_id"]
        for node_id, name in ((0, "yes"), (1, "no")):
            content = f"[run: touch {name}.txt]"
            await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": node_id, "content": content})
        asked = await stream.wait("exec_approval_required", count=2, swarm_id=swarm_id)
        by_node = {a["node_id"]: a for a in asked}
        assert by_node[0]["available_decisions"][:1] == ["accept"] and "decline" in by_node[0]["available_decisions"]

        async def both_listed() -> bool:  # each is committed just after its event is published
            pending = (await http.get(f"/v1/swarms/{swarm_id}/approvals")).json()["approvals"]
            return sorted(a["call_id"] for a in pending) == sorted(a["call_id"] for a in asked)

        await wait_until_async(both_listed, 10, "both approvals listed as pending")

        url = f"/v1/swarms/{swarm_id}/approvals/{by_node[0]['call_id']}"
        wrong = await http.post(url, json={"node_id": 0, "decision": "maybe"})
        assert wrong.status_code == 422 and "available: accept" in wrong.text
        assert (await http.post(url, json={"node_id": 0, "decision": "accept"})).status_code == 202
        again = await http.post(url, json={"node_id": 0, "decision": "accept"})
        assert again.status_code == 409, again.text
        unknown = await http.post(
            f"/v1/swarms/{swarm_id}/approvals/call_nope", json={"node_id": 0, "decision": "accept"}
        )
        assert unknown.status_code == 404
        no_url = f"/v1/swarms/{swarm_id}/approvals/{by_node[1]['call_id']}"
        assert (await http.post(no_url, json={"node_id": 1, "decision": "decline"})).status_code == 202

        await stream.wait("turn_complete", count=2, swarm_id=swarm_id)
        resolved = {r["call_id"]: r["decision"] for r in stream.of("exec_approval_resolved", swarm_id=swarm_id)}
        assert resolved == {by_node[0]["call_id"]: "accept", by_node[1]["call_id"]: "decline"}
        [accepted] = stream.of("command_completed", swarm_id=swarm_id, node_id=0)
        [declined] = stream.of("command_completed", swarm_id=swarm_id, node_id=1)
        assert accepted["status"] == "completed" and declined["status"] == "declined"
        turn = (await http.get(f"/v1/swarms/{swarm_id}/nodes/0/turns")).json()["turns"][0]
        assert [(a["status"], a["decision"]) for a in turn["approvals"]] == [("resolved", "accept")]
        assert (await http.get(f"/v1/swarms/{swarm_id}/approvals")).json()["approvals"] == []


async def test_steer_queue_and_interrupt(codex_router: RouterProcess, mirror: str) -> None:
    async with httpx.AsyncClient(base_url=mirror, timeout=15) as http, MirrorStream(mirror) as stream:
        swarm = await launch_codex(http, 1, approval_policy="never", sandbox="danger-full-access")
        swarm_id = swarm["swarm_id"]
        inject = f"/v1/swarms/{swarm_id}/inject"
        first = (await http.post(inject, json={"nodes": 0, "content": "[slow] a long one"})).json()
        await stream.wait("assistant_delta", swarm_id=swarm_id)
        queued = (await http.post(inject, json={"nodes": 0, "content": "[run: sleep 30]"})).json()
        steered = (await http.post(inject, json={"nodes": 0, "content": "[steered] and this", "mode": "steer"})).json()
        queued_id = queued["injections"][0]["injection_id"]
        steer_id = steered["injections"][0]["injection_id"]
        await stream.wait("inject_steered", injection_id=steer_id)
        [waiting] = await stream.wait("inject_queued", injection_id=queued_id)
        assert waiting["position"] == 1

        async def durable_statuses() -> bool:  # committed just after the events are published
            answer = (await http.get(f"/v1/swarms/{swarm_id}/nodes/0/turns")).json()["turns"]
            turns = {t["injection_id"]: t["status"] for t in answer}
            return turns[queued_id] == "queued" and turns[steer_id] == "steered"

        await wait_until_async(durable_statuses, 10, "the queued and steered turns in the transcript")

        await stream.wait("command_started", injection_id=queued_id)  # the queued turn runs `sleep 30`
        interrupted = await http.post(f"/v1/swarms/{swarm_id}/interrupt", json={"nodes": [0]})
        assert interrupted.status_code == 202 and interrupted.json()["nodes"] == [0]
        [done] = await stream.wait("turn_complete", injection_id=queued_id)
        assert done["status"] == "interrupted"
        [closed] = stream.of("command_completed", injection_id=queued_id)
        assert closed["status"] == "interrupted" and closed["exit_code"] is None
        first_id = first["injections"][0]["injection_id"]
        assert stream.of("turn_complete", injection_id=first_id)[0]["status"] == "completed"
        nothing = await http.post(f"/v1/swarms/{swarm_id}/interrupt", json={"nodes": "all"})
        assert nothing.status_code == 202
        [refused] = await stream.wait("agent_error", swarm_id=swarm_id)
        assert "nothing to interrupt" in refused["message"]


async def test_router_killed_during_a_codex_turn_loses_nothing_and_its_approval_is_still_answerable(
    start_router: Callable[..., RouterProcess], codex_router: RouterProcess, bus: BusReader
) -> None:
    async with codex_router.client() as http:
        swarm = await launch_codex(http, 1, approval_policy="untrusted")
        swarm_id = swarm["swarm_id"]
        await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": 0, "content": "[run: touch after.txt]"})
        await bus.wait_for(lambda: bool(bus.events("exec_approval_required", swarm_id=swarm_id)), 30, "the request")
        [asked] = bus.events("exec_approval_required", swarm_id=swarm_id)
    codex_router.kill()
    start_router(**codex_router.extra_env)
    async with codex_router.client() as http:

        async def still_pending() -> bool:  # the restarted router re-reads what it had not committed
            pending = (await http.get(f"/v1/swarms/{swarm_id}/approvals")).json()["approvals"]
            return [a["call_id"] for a in pending] == [asked["call_id"]]

        await wait_until_async(still_pending, 15, "the approval pending after the restart")
        url = f"/v1/swarms/{swarm_id}/approvals/{asked['call_id']}"
        answered = await http.post(url, json={"node_id": 0, "decision": "accept"})
        assert answered.status_code == 202, answered.text
        await bus.wait_for(lambda: bool(bus.events("turn_complete", swarm_id=swarm_id)), 30, "the turn to end")
        assert bus.events("turn_complete", swarm_id=swarm_id)[0]["status"] == "completed"
        assert bus.events("command_completed", swarm_id=swarm_id)[0]["exit_code"] == 0
    await bus.poll()
    from_node = [e for e in bus.events(None, swarm_id=swarm_id, node_id=0) if "seq" in e]
    seqs = [e["seq"] for e in from_node]
    assert seqs == sorted(seqs)  # in the node's order
    assert bus.events("exec_approval_required", swarm_id=swarm_id) == [asked]  # nothing twice
    names = [(e["seq"], n) for n, e in ((name_of(bus, e), e) for e in from_node)]
    assert len(names) == len(set(names))


def name_of(bus: BusReader, data: dict[str, Any]) -> str:
    return next(envelope["event"] for _, envelope in bus.entries if envelope["data"] is data)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"model": "fake-model", "approval_policy": "sometimes"}, "must be one of never, on-request, untrusted"),
        ({"model": "fake-model", "sandbox": "open"}, "must be one of read-only, workspace-write, danger-full-access"),
        ({"model": "fake-model", "binary": "/bin/true"}, "come from the provider's settings"),
        ({"approval_policy": "never"}, "'model' for runtime 'codex' must be a non-empty string"),
        ({"model": "fake-model", "colour": "blue"}, "valid keys: approval_policy"),
    ],
)
async def test_bad_codex_launch_fields_are_refused_with_the_valid_values(
    codex_router: RouterProcess, params: dict[str, Any], expected: str
) -> None:
    async with codex_router.client() as http:
        refused = await http.post("/v1/swarms", json={"nodes": 1, "runtime": "codex", "runtime_params": params})
        assert refused.status_code == 422 and expected in refused.text, refused.text


async def test_a_missing_key_or_binary_is_refused_at_launch(
    start_router: Callable[..., RouterProcess], tmp_path: Path, fake_model: FakeResponses, codex_binary: Path
) -> None:
    path = providers_file(tmp_path, fake_model)
    path.write_text(path.read_text().replace("[runtimes.codex]", '[runtimes.codex]\nbinary = "/nowhere/codex"'))
    router = start_router(CODESWARM_PROVIDERS_FILE=str(path))  # and no key in its environment
    async with router.client() as http:
        body = {"nodes": 1, "runtime": "codex", "runtime_params": {"model": "fake-model"}}
        refused = await http.post("/v1/swarms", json=body)
        assert refused.status_code == 422 and f"${KEY_VAR}, which is not set" in refused.text


async def test_a_codex_swarm_in_the_embedded_mode(
    tmp_path: Path,
    fake_model: FakeResponses,
    codex_binary: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(KEY_VAR, KEY)
    with embedded_stack(tmp_path / "home", providers_file=providers_file(tmp_path, fake_model)) as stack:
        assert stack.mirror is not None
        async with httpx.AsyncClient(base_url=stack.mirror, timeout=15) as http, MirrorStream(stack.mirror) as stream:
            swarm = await launch_codex(http, 2, approval_policy="untrusted")
            swarm_id = swarm["swarm_id"]
            await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": "[run: echo ok]"})
            asked = {a["node_id"]: a for a in await stream.wait("exec_approval_required", count=2, swarm_id=swarm_id)}
            # node 0 from the CLI, node 1 over plain HTTP
            cli = ["--router", stack.router, "--mirror", stack.mirror]
            assert await asyncio.to_thread(main, [*cli, "approvals", swarm_id]) == 0
            listed = capsys.readouterr().out
            assert asked[0]["call_id"] in listed and asked[1]["call_id"] in listed
            assert await asyncio.to_thread(main, [*cli, "approve", swarm_id, "0", asked[0]["call_id"]]) == 0
            assert f"accept sent for {asked[0]['call_id']} on n0" in capsys.readouterr().out
            url = f"/v1/swarms/{swarm_id}/approvals/{asked[1]['call_id']}"
            assert (await http.post(url, json={"node_id": 1, "decision": "accept"})).status_code == 202
            done = await stream.wait("turn_complete", count=2, swarm_id=swarm_id)
            assert {d["status"] for d in done} == {"completed"}
            outputs = [c["output"] for c in stream.of("command_completed", swarm_id=swarm_id)]
            assert len(outputs) == 2 and all(o.endswith("ok\n") for o in outputs)  # after any login-shell noise
            # a second turn, interrupted from the CLI while its command runs (approved over HTTP first)
            second = await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": 0, "content": "[run: sleep 30]"})
            injection_id = second.json()["injections"][0]["injection_id"]
            [ask] = await stream.wait("exec_approval_required", injection_id=injection_id)
            url = f"/v1/swarms/{swarm_id}/approvals/{ask['call_id']}"
            assert (await http.post(url, json={"node_id": 0, "decision": "accept"})).status_code == 202
            await wait_until_async(lambda: bool(stream.of("exec_approval_resolved", call_id=ask["call_id"])), 30, "ok")
            assert await asyncio.to_thread(main, [*cli, "interrupt", swarm_id, "0"]) == 0
            [ended] = await stream.wait("turn_complete", injection_id=injection_id)
            assert ended["status"] == "interrupted"


async def test_providers_list_the_codex_launch_fields_with_their_choices(codex_router: RouterProcess) -> None:
    async with codex_router.client() as http:
        [local] = (await http.get("/v1/providers")).json()["providers"]
    fields = {f["key"]: f for f in local["runtime_fields"]["codex"]}
    assert fields["approval_policy"]["options"] == ["never", "on-request", "untrusted"]
    assert fields["approval_policy"]["default"] == "on-request"
    assert fields["sandbox"]["default"] == "workspace-write" and fields["model"]["required"]
    assert not {"binary", "base_url", "env_key"} & set(fields)  # the provider's, not a launch's
    assert {f["key"] for f in local["runtime_fields"]["mock"]} == {"tokens", "delay_ms"}

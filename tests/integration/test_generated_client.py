"""A Python client generated with openapi-python-client from the running router's /openapi.json (as the
README says) drives a swarm on the real router: launch, inject, answer an approval, read the durable
turns, terminate — and reads each refusal as the one ErrorBody."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.support.router_process import RouterProcess
from tests.support.servers import wait_until_async

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
CONFIG = ROOT / "clients" / "openapi-python-client.yaml"
PACKAGE = "codeswarm_router_client"


def generate(spec: Path, into: Path) -> None:
    command = [str(GENERATOR), "generate", "--path", str(spec), "--meta", "none", "--config", str(CONFIG)]
    command += ["--output-path", str(into / PACKAGE)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Unsupported" not in done.stdout + done.stderr, "the generator left part of the API out: " + done.stdout


@pytest.fixture
def generated_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], ModuleType]]:
    """generated_client(router_url) → the client package generated from that router's /openapi.json."""

    def build(router_url: str) -> ModuleType:
        spec = tmp_path / "openapi.json"
        spec.write_bytes(httpx.get(f"{router_url}/openapi.json", timeout=10).raise_for_status().content)
        generate(spec, tmp_path)
        monkeypatch.syspath_prepend(str(tmp_path))
        return importlib.import_module(PACKAGE)

    yield build
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]


TOKEN = "generated-client-token-0123456789abcdef"


def part(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


async def test_a_generated_python_client_drives_a_swarm(
    start_router: Callable[..., RouterProcess], generated_client: Callable[[str], ModuleType]
) -> None:
    router = start_router(CODESWARM_API_TOKEN=TOKEN)  # auth on, as by default
    package = generated_client(router.url)
    refused = package.Client(base_url=router.url)  # the generated security scheme is what lets it in
    assert part("api.providers.list_providers").sync_detailed(client=refused).status_code == 401
    await _drive(package.AuthenticatedClient(base_url=router.url, token=TOKEN, raise_on_unexpected_status=True))


async def _drive(client: Any) -> None:
    m = part("models")
    launch, get_swarm = part("api.swarms.launch_swarm"), part("api.swarms.get_swarm")
    inject, list_approvals = part("api.swarms.inject_prompt"), part("api.swarms.list_approvals")
    answer, list_turns = part("api.swarms.answer_approval"), part("api.swarms.list_turns")
    terminate, providers = part("api.swarms.terminate_swarm"), part("api.providers.list_providers")

    listed = await providers.asyncio(client=client)
    assert isinstance(listed, m.ProviderList) and "mock" in listed.providers[0].runtimes
    body = m.LaunchRequest(
        nodes=2, runtime="mock", runtime_params=m.LaunchRequestRuntimeParams.from_dict({"delay_ms": 0})
    )
    launched = await launch.asyncio(client=client, body=body)
    assert isinstance(launched, m.LaunchAccepted) and launched.status == "launching"
    swarm_id = launched.swarm_id

    async def swarm_is(status: str, *, idle: bool = False) -> bool:
        swarm = await get_swarm.asyncio(swarm_id, client=client)
        assert isinstance(swarm, m.SwarmView)
        return swarm.status == status and (not idle or all(n.status == m.NodeStatus.IDLE for n in swarm.nodes))

    await wait_until_async(lambda: swarm_is("running", idle=True), 30, "both nodes idle")

    prompt = "please\n$? echo approved > approved.txt && cat approved.txt"
    injected = await inject.asyncio(swarm_id, client=client, body=m.InjectRequest(nodes=1, content=prompt))
    assert isinstance(injected, m.InjectAccepted)
    [ref] = injected.injections
    assert ref.node_id == 1

    async def one_pending() -> bool:
        pending = await list_approvals.asyncio(swarm_id, client=client)
        return isinstance(pending, m.ApprovalList) and len(pending.approvals) == 1

    await wait_until_async(one_pending, 30, "the approval request")
    pending = await list_approvals.asyncio(swarm_id, client=client)
    [approval] = pending.approvals
    assert approval.injection_id == ref.injection_id and "accept" in approval.available_decisions

    wrong_node = await answer.asyncio_detailed(
        swarm_id, approval.call_id, client=client, body=m.ApprovalRequest(node_id=7, decision="accept")
    )
    assert wrong_node.status_code == 422 and isinstance(wrong_node.parsed, m.ErrorBody)
    [field] = wrong_node.parsed.detail
    assert isinstance(field, m.FieldError) and field.loc == ["body", "node_id"] and "out of range" in field.msg
    accepted = await answer.asyncio(
        swarm_id, approval.call_id, client=client, body=m.ApprovalRequest(node_id=1, decision="accept")
    )
    assert isinstance(accepted, m.Accepted) and accepted.request_id

    async def turn_completed() -> bool:
        turns = await list_turns.asyncio(swarm_id, 1, client=client)
        return isinstance(turns, m.TurnList) and [t.status for t in turns.turns] == ["completed"]

    await wait_until_async(turn_completed, 30, "the durable turn")
    turns = await list_turns.asyncio(swarm_id, 1, client=client)
    [turn] = turns.turns
    assert turn.injection_id == ref.injection_id and turn.prompt == prompt
    assert turn.assistant.startswith("echo: please")
    [command] = turn.commands
    assert command.exit_code == 0 and command.output.strip().endswith("approved")
    assert [(a.status, a.decision) for a in turn.approvals] == [("resolved", "accept")]

    again = await answer.asyncio_detailed(
        swarm_id, approval.call_id, client=client, body=m.ApprovalRequest(node_id=1, decision="decline")
    )
    assert again.status_code == 409 and isinstance(again.parsed, m.ErrorBody)
    assert isinstance(again.parsed.detail, str) and "cannot be answered again" in again.parsed.detail

    ended = await terminate.asyncio(swarm_id, client=client, body=m.TerminateRequest())
    assert isinstance(ended, m.TerminateAccepted) and ended.request_id
    await wait_until_async(lambda: swarm_is("terminated"), 30, "the swarm terminated")
    unknown = await get_swarm.asyncio_detailed("no-such-swarm", client=client)
    assert (
        unknown.status_code == 404 and isinstance(unknown.parsed, m.ErrorBody) and "no swarm" in unknown.parsed.detail
    )

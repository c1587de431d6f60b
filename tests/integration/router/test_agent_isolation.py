"""Secrets out of the agents' reach: an agent runs as the router's Unix user, so it can read
/proc/<pid>/environ of the router and /proc/<pid>/cmdline of every process (so can `ps` for every user).
Neither shows the API token, the model key, the database password or the launch's runtime params."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.support.fake_chat import FakeChat
from tests.support.router_process import RouterProcess, all_idle, wait_swarm
from tests.support.servers import wait_until_async

TOKEN = "isolation-test-token-0123456789abcdefghij"
MODEL_KEY = "sk-site-key-that-agents-must-not-see"
DB_PASSWORD = "db-password-agents-must-not-see"
SECRETS = (TOKEN, MODEL_KEY, DB_PASSWORD)


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    fake = FakeChat().start()
    yield fake
    fake.stop()


@pytest.fixture
def router(start_router: Callable[..., RouterProcess], tmp_path: Path, pg_url: str, chat: FakeChat) -> RouterProcess:
    providers = tmp_path / "providers.toml"
    providers.write_text(
        f'[runtimes.openai]\nbase_url = "{chat.base_url}"\napi_key_env = "SITE_MODEL_KEY"\n\n'
        '[[providers]]\nid = "local"\nbackend = "local"\nruntimes = ["mock", "openai"]\n'
    )
    # trust auth ignores the password, so the router works with it while it must keep it hidden
    database_url = make_url(pg_url).set(password=DB_PASSWORD).render_as_string(hide_password=False)
    return start_router(
        CODESWARM_PROVIDERS_FILE=str(providers),
        CODESWARM_API_TOKEN=TOKEN,
        CODESWARM_DATABASE_URL=database_url,
        SITE_MODEL_KEY=MODEL_KEY,
    )


async def only_turn(http: httpx.AsyncClient, swarm_id: str) -> dict[str, Any]:
    """Node 0's first turn, once it has completed."""
    found: dict[str, Any] = {}

    async def completed() -> bool:
        turns = (await http.get(f"/v1/swarms/{swarm_id}/nodes/0/turns")).json()["turns"]
        found.update(turns[0] if turns and turns[0]["status"] == "completed" else {})
        return bool(found)

    await wait_until_async(completed, 30, f"the first turn of {swarm_id}")
    return found


def node_pids(home: Path) -> list[int]:
    return [int(path.read_text()) for path in sorted((home / "local" / "runs").glob("*/control/node_*.pid"))]


async def test_an_agent_reading_the_routers_environ_finds_no_secret(router: RouterProcess) -> None:
    assert router.process is not None
    router_pid = router.process.pid
    async with router.client(TOKEN) as http:
        launched = await http.post("/v1/swarms", json={"nodes": 1, "runtime": "mock"})
        swarm_id = launched.json()["swarm_id"]
        await wait_swarm(http, swarm_id, all_idle, 30)
        prompt = f"$ tr '\\0' '\\n' < /proc/{router_pid}/environ\n$ env"
        await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": 0, "content": prompt})
        turn = await only_turn(http, swarm_id)
    environ, own = (command["output"] for command in turn["commands"])
    assert [command["exit_code"] for command in turn["commands"]] == [0, 0]
    assert "PATH=" in environ and "PATH=" in own  # the reads worked: they show what is harmless
    for secret in SECRETS:
        assert secret not in environ and secret not in own
    assert "CODESWARM_DATABASE_URL" not in environ and "CODESWARM_API_TOKEN" not in environ


async def test_no_runtime_param_or_secret_is_on_a_nodes_command_line(router: RouterProcess, chat: FakeChat) -> None:
    params = {"model": "fake-chat", "approval_policy": "never", "temperature": 0.4321, "max_tool_calls": 17}
    async with router.client(TOKEN) as http:
        launched = await http.post("/v1/swarms", json={"nodes": 1, "runtime": "openai", "runtime_params": params})
        assert launched.status_code == 202, launched.text
        swarm_id = launched.json()["swarm_id"]
        await wait_swarm(http, swarm_id, all_idle, 30)
        [pid] = node_pids(router.home)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        assert "--runtime-params-file" in cmdline  # the node reads them from its 0600 control file
        for shown in ("fake-chat", "0.4321", "approval_policy", *SECRETS):
            assert shown not in cmdline, (shown, cmdline)
        assert not [arg for arg in cmdline.split() if arg == "17" or arg.endswith("=17")], cmdline  # paths hold digits
        await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": 0, "content": "[tool: ps -eo args]"})
        turn = await only_turn(http, swarm_id)
    [listing] = turn["commands"]
    assert listing["exit_code"] == 0 and "--runtime-params-file" in listing["output"]  # ps saw the node
    for shown in ("0.4321", "approval_policy", *SECRETS):
        assert shown not in listing["output"]
    # the params did reach the node, and the key the model server
    assert {r.body.get("temperature") for r in chat.requests if r.method == "POST"} == {0.4321}
    assert {r.headers.get("authorization") for r in chat.requests if r.method == "POST"} == {f"Bearer {MODEL_KEY}"}

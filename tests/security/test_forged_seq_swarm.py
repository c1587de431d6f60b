"""A forged huge seq does not blind ingest: an agent appends a line with seq 10**12 to a node's outbox (any
process of the nodes' Unix user can); the router ignores it, says so once in an agent_warning (without the
line), and the node's real records after it still arrive.  A real router process on SQLite, mock nodes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.node.records import outbox_path
from services.protocol.catalogue import validate_envelope
from tests.support.router_process import BusReader, RouterProcess, all_idle, wait_swarm

pytestmark = pytest.mark.integration

FORGED_SEQ = 10**12


@pytest.fixture
def router(tmp_path: Path, redis_url: str, redis_prefix: str) -> Iterator[RouterProcess]:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    router = RouterProcess(home, "", redis_url, redis_prefix, extra_env={"CODESWARM_DATABASE_URL": ""})
    try:
        yield router.start()  # SQLite under home
    finally:
        router.stop()
        router.stop_nodes()


def append_line(outbox: Path, record: dict[str, object]) -> None:
    """One whole line, as one append (a small buffered write goes out in one write(2) at close)."""
    with outbox.open("ab") as handle:
        handle.write(json.dumps(record).encode() + b"\n")


async def test_a_forged_huge_seq_is_ignored_and_real_records_still_arrive(
    router: RouterProcess, bus: BusReader
) -> None:
    async with router.client() as http:
        launched = await http.post(
            "/v1/swarms", json={"nodes": 1, "runtime": "mock", "runtime_params": {"delay_ms": 0}}
        )
        swarm_id = launched.json()["swarm_id"]
        job_id = (await wait_swarm(http, swarm_id, all_idle, 30))["job_id"]
        outbox = Path(outbox_path(str(router.home / "local"), job_id, 0))
        forged = {"seq": FORGED_SEQ, "ts": time.time(), "job_id": job_id, "node_id": 0, "injection_id": None}
        append_line(outbox, {**forged, "kind": "heartbeat", "payload": {"note": "forged-line-marker"}})
        # the node's answer is written after the forged line: the inject reaches the node after it
        sent = await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": 0, "content": "after the forgery"})
        assert sent.status_code == 202, sent.text
        await bus.wait_for(lambda: bool(bus.events("turn_complete", swarm_id=swarm_id)), 20, "the real answer")
        answers = [e["text"] for e in bus.events("assistant", swarm_id=swarm_id)]
        assert answers == ["echo: after the forgery"]

        def warned() -> list[dict[str, Any]]:
            return [e for e in bus.events("agent_warning", swarm_id=swarm_id) if e.get("code") == "seqOutOfOrder"]

        (warning,) = warned()
        assert str(FORGED_SEQ) in str(warning["message"]) and warning["node_id"] == 0
        assert warning["seq"] < FORGED_SEQ
        for _, envelope in bus.entries:
            assert "forged-line-marker" not in json.dumps(envelope)  # the line itself is never published
            if envelope["event"] == "agent_warning":
                validate_envelope(envelope)
        swarm = (await http.get(f"/v1/swarms/{swarm_id}")).json()
        assert swarm["nodes"][0]["status"] == "idle"

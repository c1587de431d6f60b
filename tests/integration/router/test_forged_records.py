"""Records can't be forged across swarms: every agent of the router's Unix user can append to any outbox,
so an exit record is believed only when the provider agrees (the local node's process is gone).  A forged
one is reported, and leaves the swarm running, tracked and usable."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from router.authority import EXIT_CONFIRM_S
from services.node.records import KIND_EXIT, outbox_path
from services.protocol.catalogue import validate_envelope
from tests.support.router_process import BusReader, RouterProcess, all_idle, wait_swarm


def forge_exit(outbox: Path, job_id: str, node_id: int) -> None:
    """Append the exit record the node itself would write, with the next seq, as one atomic write."""
    last = json.loads(outbox.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[-1])
    record = {
        "seq": last["seq"] + 1,
        "ts": time.time(),
        "job_id": job_id,
        "node_id": node_id,
        "injection_id": None,
        "kind": KIND_EXIT,
        "payload": {"code": 0, "reason": "forged by another swarm's agent"},
    }
    fd = os.open(outbox, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, json.dumps(record).encode() + b"\n")
    finally:
        os.close(fd)


async def test_a_forged_exit_record_does_not_end_a_live_swarm(
    start_router: Callable[..., RouterProcess], bus: BusReader
) -> None:
    router = start_router()
    async with router.client() as http:
        launched = await http.post("/v1/swarms", json={"nodes": 2, "runtime_params": {"delay_ms": 0}})
        swarm_id = launched.json()["swarm_id"]
        swarm = await wait_swarm(http, swarm_id, all_idle, 30)
        job_id = swarm["job_id"]
        for node_id in (0, 1):
            forge_exit(Path(outbox_path(str(router.home / "local"), job_id, node_id)), job_id, node_id)

        def warned() -> list[dict[str, Any]]:
            return [e for e in bus.events("agent_warning", swarm_id=swarm_id) if e.get("code") == "exitNotBelieved"]

        await bus.wait_for(lambda: len(warned()) == 2, EXIT_CONFIRM_S + 20, "both forged records reported")
        assert sorted(e["node_id"] for e in warned()) == [0, 1]
        assert all("not believed" in str(e["message"]) for e in warned())
        for _, envelope in bus.entries:
            if envelope["event"] == "agent_warning" and envelope["data"]["swarm_id"] == swarm_id:
                validate_envelope(envelope)  # the event catalogue's agent_warning
        assert [e for e in bus.events("swarm_terminated") if e["swarm_id"] == swarm_id] == []
        # the swarm still runs, its nodes count as running again, and they still answer
        await wait_swarm(http, swarm_id, all_idle, 10)
        sent = await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": "still here"})
        assert sent.status_code == 202, sent.text
        await bus.wait_for(lambda: len(bus.events("turn_complete", swarm_id=swarm_id)) == 2, 20, "both turns")

        # a real exit is still believed: terminate, and the swarm ends as it should
        await http.post(f"/v1/swarms/{swarm_id}/terminate", json={})
        ended = await wait_swarm(http, swarm_id, lambda s: s.get("status") == "terminated", 30)
        assert ended["reason"] == "terminated by user"

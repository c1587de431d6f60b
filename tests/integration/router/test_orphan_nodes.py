"""No orphan node programs: a node whose mailbox and workspace were deleted exits on its own after the
configured time, instead of running idle for ever."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable

from router.providers.local.processes import is_node_process
from tests.support.router_process import RouterProcess, all_idle, wait_swarm
from tests.support.servers import wait_until_async

ORPHAN_AFTER_S = 2.0


async def test_a_node_whose_mailbox_and_workspace_are_deleted_exits_on_its_own(
    start_router: Callable[..., RouterProcess],
) -> None:
    router = start_router(CODESWARM_NODE_ORPHAN_AFTER_S=str(ORPHAN_AFTER_S))
    base = router.home / "local"
    async with router.client() as client:
        swarm_id = (await client.post("/v1/swarms", json={"nodes": 2})).json()["swarm_id"]
        job_id = (await wait_swarm(client, swarm_id, all_idle, 20))["job_id"]
    control = base / "runs" / job_id / "control"
    pids = [int(p.read_text()) for p in sorted(control.glob("node_*.pid"))]
    router.stop()  # nodes outlive the router by design; what is deleted now nobody will read again
    try:
        shutil.rmtree(base / "runs" / job_id)
        for box in (base / "mailbox" / "inbox", base / "mailbox" / "outbox"):
            for path in box.glob(f"{job_id}_*.jsonl"):
                path.unlink()
        await wait_until_async(
            lambda: not any(is_node_process(pid, job_id) for pid in pids),
            ORPHAN_AFTER_S + 15,
            "both orphaned node programs exited",
        )
    finally:
        for pid in pids:
            if is_node_process(pid, job_id):
                os.kill(pid, signal.SIGKILL)

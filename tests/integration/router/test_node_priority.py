"""Local nodes yield the processor to the services that follow them (services/node/priority.py): a node
program and the commands its agent runs have the configured nice value, the commands stay in the node's
session, and where the kernel schedules by session (autogroup) the node's session has that nice too."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.integration.router.test_agent_isolation import node_pids, only_turn
from tests.support.router_process import RouterProcess, all_idle, wait_swarm
from tests.support.servers import wait_until

NICE = 7
AUTOGROUPS = Path("/proc/self/autogroup").exists()


def stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: [0] is field 3 (state)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def session_nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/autogroup").read_text().split()[-1])


async def test_a_local_node_and_its_commands_run_at_the_configured_nice(
    start_router: Callable[..., RouterProcess],
) -> None:
    router = start_router(CODESWARM_LOCAL_NODE_NICE=str(NICE))
    base_nice = os.getpriority(os.PRIO_PROCESS, 0)
    async with router.client() as http:
        launched = await http.post("/v1/swarms", json={"nodes": 1, "runtime": "mock"})
        assert launched.status_code == 202, launched.text
        swarm_id = launched.json()["swarm_id"]
        await wait_swarm(http, swarm_id, all_idle, 30)
        [pid] = node_pids(router.home)
        node = stat_fields(pid)
        assert int(node[16]) == min(19, base_nice + NICE)  # field 19: nice
        assert int(node[3]) == pid  # field 6: the node leads its own session
        if AUTOGROUPS:
            wait_until(lambda: session_nice(pid) == NICE, 30, "the node's session nice")
        prompt = "$ cut -d' ' -f6,19 /proc/$$/stat"  # the command's session and nice
        await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": 0, "content": prompt})
        turn = await only_turn(http, swarm_id)
    [command] = turn["commands"]
    assert command["exit_code"] == 0, command
    session, nice = command["output"].split()
    assert (int(session), int(nice)) == (pid, min(19, base_nice + NICE))

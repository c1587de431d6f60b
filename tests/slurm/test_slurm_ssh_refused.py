"""SSH errors that no retry can heal (a host key not in known_hosts, a key file that cannot be used, a
user the login node refuses) reject the launch at once, saying what to fix — never a wait until the
launch timeout."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.router_process import BusReader, RouterProcess

if TYPE_CHECKING:
    from tests.slurm.conftest import SlurmRouterKit

REJECTED_WITHIN_S = 15  # the launch timeout below is 600 s: a retried launch would still be waiting


async def test_permanent_ssh_errors_reject_the_launch_at_once_with_the_fix(
    slurm_kit: SlurmRouterKit, start_router: Callable[..., RouterProcess], bus: BusReader, tmp_path: Path
) -> None:
    lab, base = slurm_kit.lab, slurm_kit.remote_base
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("")
    not_a_key = tmp_path / "id_broken"
    not_a_key.write_text("this is not a private key\n")
    expected = {
        "nohostkey": ({"known_hosts": str(empty_known_hosts)}, ["not found in known_hosts", "ssh-keyscan"]),
        "badkey": ({"key_file": str(not_a_key)}, [f"key_file {not_a_key} cannot be used", "readable private key"]),
        "nouser": ({"user": "nobody"}, ["Authentication failed", "check user and key_file", "authorized_keys"]),
    }
    entries = [slurm_kit.entry(lab, name, base, **extra) for name, (extra, _) in expected.items()]
    router = start_router(CODESWARM_PROVIDERS_FILE=slurm_kit.write_providers(entries), CODESWARM_LAUNCH_TIMEOUT_S="600")
    launched = {}
    async with router.client() as client:
        for name in expected:
            response = await client.post("/v1/swarms", json={"provider": name, "nodes": 1})
            assert response.status_code == 202, response.text
            launched[name] = response.json()["swarm_id"]
        slurm_kit.swarm_ids += list(launched.values())
        await bus.wait_for(
            lambda: all(bus.events("command_rejected", swarm_id=s) for s in launched.values()),
            REJECTED_WITHIN_S,
            "every launch rejected",
        )
        for name, (_, words) in expected.items():
            (rejected,) = bus.events("command_rejected", swarm_id=launched[name])
            assert rejected["command"] == "launch" and rejected["reason"].startswith(f"{name}: "), rejected
            for word in words:
                assert word in rejected["reason"], (word, rejected["reason"])
            swarm = (await client.get(f"/v1/swarms/{launched[name]}")).json()
            assert swarm["status"] == "rejected" and swarm["reason"] == rejected["reason"]

"""On a shared login node every state file is its owner's only: whatever the user's umask, what the
router and its node programs create under CODESWARM_HOME is 0700 (directories) and 0600 (files) — the
SQLite database and its WAL, the outboxes that hold every prompt and answer, the mailboxes."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.router_process import RouterProcess, all_idle, wait_swarm
from tests.support.servers import wait_until

OPEN_UMASK = 0o022  # the common default: files 0644, directories 0755


@contextmanager
def umask(value: int) -> Iterator[None]:
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


def shared_paths(home: Path, made_by_test: set[Path]) -> list[str]:
    """Every path under home (the test's own excepted) that a group or other user could read."""
    return [
        f"{stat.filemode(path.lstat().st_mode)} {path.relative_to(home)}"
        for path in sorted(home.rglob("*"))
        if path not in made_by_test and not path.is_symlink() and path.lstat().st_mode & 0o077
    ]


async def test_state_files_are_private_whatever_the_umask(start_router: Callable[..., RouterProcess]) -> None:
    with umask(OPEN_UMASK):
        router = start_router(CODESWARM_DATABASE_URL="")  # SQLite under home: the embedded default
    home = router.home
    async with router.client() as client:
        launched = await client.post("/v1/swarms", json={"nodes": 2, "runtime": "mock"})
        swarm_id = launched.json()["swarm_id"]
        await wait_swarm(client, swarm_id, all_idle, 30)
        sent = await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": "a secret prompt"})
        assert sent.status_code == 202
        await wait_swarm(client, swarm_id, all_idle, 30)
    outboxes = [path for path in home.rglob("*.jsonl") if path.parent.name == "outbox"]
    wait_until(lambda: (home / "codeswarm.db-wal").exists(), 10, "the SQLite WAL")
    assert len(outboxes) == 2 and all(path.stat().st_size for path in outboxes)
    assert shared_paths(home, {home / "router.log"}) == []

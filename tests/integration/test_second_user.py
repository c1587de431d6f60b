"""A second Unix user on the same machine reads nothing of a swarm's state.  After a real local swarm
ran (router on SQLite under CODESWARM_HOME, mock nodes, a prompt answered), `nobody` (through setpriv)
tries every directory and file under CODESWARM_HOME, and the router's /proc environ: each is refused.
CODESWARM_HOME sits in a directory anyone may enter, so only Codeswarm's own modes stand in the way, and
the files' own modes hold even when the directories let others pass through."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.router_process import RouterProcess, all_idle, wait_swarm
from tests.support.servers import wait_until

SETPRIV = shutil.which("setpriv")
AS_NOBODY = [str(SETPRIV), "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
# Prints each path the user could open (a directory: list; a file: read), nothing else.
TRY_EACH = (
    'for p in "$@"; do if [ -d "$p" ]; then ls -- "$p"; else cat -- "$p"; fi >/dev/null 2>&1 && echo "$p"; done; true'
)

pytestmark = pytest.mark.skipif(
    SETPRIV is None or os.geteuid() != 0, reason="needs root and setpriv to act as a second user"
)


def readable_by_nobody(paths: list[Path]) -> list[str]:
    result = subprocess.run(
        [*AS_NOBODY, "/bin/sh", "-c", TRY_EACH, "sh", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A directory every user may enter and list (0755), like a home or scratch directory."""
    parent = Path(tempfile.mkdtemp(prefix="codeswarm-second-user-"))
    parent.chmod(0o755)
    yield parent
    shutil.rmtree(parent)


@pytest.fixture
def router(open_parent: Path, pg_url: str, redis_url: str, redis_prefix: str) -> Iterator[RouterProcess]:
    home = open_parent / "home"
    home.mkdir(mode=0o700)
    router = RouterProcess(home, pg_url, redis_url, redis_prefix, extra_env={"CODESWARM_DATABASE_URL": ""})
    try:
        yield router.start()  # SQLite under home: the embedded default
    finally:
        router.stop()
        router.stop_nodes()


async def test_nobody_reads_no_state_file_after_a_swarm_ran(router: RouterProcess, open_parent: Path) -> None:
    home = router.home
    async with router.client() as client:
        launched = await client.post("/v1/swarms", json={"nodes": 2, "runtime": "mock"})
        swarm_id = launched.json()["swarm_id"]
        await wait_swarm(client, swarm_id, all_idle, 30)
        sent = await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": "a secret prompt"})
        assert sent.status_code == 202
        await wait_swarm(client, swarm_id, lambda s: all_idle(s) and bool(list(home.rglob("*.jsonl"))), 30)
        wait_until(lambda: (home / "codeswarm.db-wal").exists(), 10, "the SQLite WAL")
        test_log = home / "router.log"  # the test's own capture of the router's output
        state = sorted(path for path in home.rglob("*") if not path.is_symlink() and path != test_log)
        names = {path.name for path in state}
        assert {"codeswarm.db", "codeswarm.db-wal", "outbox", "inbox", "control"} <= names, names
        assert len([p for p in state if p.parent.name == "outbox"]) == 2

        control = open_parent / "readable.txt"  # the check itself works: nobody can read a 0644 file here
        control.write_text("anyone")
        control.chmod(0o644)
        assert router.process is not None
        environ = Path(f"/proc/{router.process.pid}/environ")
        assert readable_by_nobody([control, open_parent, environ, home, *state]) == [str(control), str(open_parent)]

        # Each file is private on its own, too: with every directory opened for passing through (as a
        # careless ACL might), nobody still reads no file and lists no directory.
        directories = [home, *(path for path in state if path.is_dir())]
        for directory in directories:
            directory.chmod(directory.stat().st_mode | 0o001)
        assert readable_by_nobody([home, *state]) == []

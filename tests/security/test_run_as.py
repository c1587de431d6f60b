"""Local nodes as another Unix user (CODESWARM_LOCAL_RUN_AS), the router running as root: a real router
on SQLite starts mock nodes as `nobody`; an agent's `$ id -u` says 65534; the node's files are nobody's
and a third user reads none of them; nobody reads none of the router's own files; terminate still ends the
nodes.  The setting is refused, with the reason, when it cannot work (an interpreter nobody cannot run, an
unknown user, a router that is not root)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from router.providers.local.run_as import RunAs, RunAsError
from services.node.records import inbox_path, outbox_path, workspace_path
from tests.support.router_process import ROOT, BusReader, RouterProcess, all_idle, wait_swarm
from tests.support.servers import wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv"),
]

NOBODY = pwd.getpwnam("nobody").pw_uid
THIRD_USER = ["setpriv", "--reuid=65533", "--regid=65533", "--clear-groups"]  # a uid nobody else has
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
# Prints each path the user could open (a directory: list; a file: read), nothing else.
TRY_EACH = (
    'for p in "$@"; do if [ -d "$p" ]; then ls -- "$p"; else cat -- "$p"; fi >/dev/null 2>&1 && echo "$p"; done; true'
)
# A Python 3.11+ outside root's 0700 /root, which the suite's own interpreter (pyenv) is under.
SYSTEM_PYTHON = "/usr/bin/python3"


def opened_by(user: list[str], paths: list[Path]) -> list[str]:
    result = subprocess.run(
        [*user, "/bin/sh", "-c", TRY_EACH, "sh", *map(str, paths)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.fixture
def home() -> Iterator[Path]:
    """CODESWARM_HOME in a directory anyone may enter; itself enterable (0711), not listable."""
    parent = Path(tempfile.mkdtemp(prefix="codeswarm-run-as-"))
    parent.chmod(0o755)
    (parent / "home").mkdir(mode=0o711)
    (parent / "home").chmod(0o711)
    yield parent / "home"
    shutil.rmtree(parent)


@pytest.fixture
def node_python() -> str:
    """An interpreter nobody can run (the test fails, rather than skips, when this host has none)."""
    check = subprocess.run([*AS_NOBODY, SYSTEM_PYTHON, "-c", "import sys; assert sys.version_info >= (3, 11)"])
    assert check.returncode == 0, f"{SYSTEM_PYTHON} must be a Python 3.11+ that nobody can run"
    return SYSTEM_PYTHON


@pytest.fixture
def make_router(home: Path, redis_url: str, redis_prefix: str) -> Iterator[Callable[..., RouterProcess]]:
    started: list[RouterProcess] = []

    def make(**env: str) -> RouterProcess:
        router = RouterProcess(home, "", redis_url, redis_prefix, extra_env={"CODESWARM_DATABASE_URL": "", **env})
        started.append(router)
        return router

    yield make
    for router in started:
        router.stop()
        router.stop_nodes()


async def test_nodes_run_as_nobody_with_files_of_their_own(
    make_router: Callable[..., RouterProcess], node_python: str, bus: BusReader
) -> None:
    router = make_router(CODESWARM_LOCAL_RUN_AS="nobody", CODESWARM_LOCAL_PYTHON=node_python).start()
    base = router.home / "local"
    async with router.client() as http:
        launched = await http.post("/v1/swarms", json={"nodes": 1, "runtime": "mock"})
        assert launched.status_code == 202, launched.text
        swarm_id = launched.json()["swarm_id"]
        job_id = (await wait_swarm(http, swarm_id, all_idle, 30))["job_id"]
        sent = await http.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": 0, "content": "$ id -u; echo $HOME"})
        assert sent.status_code == 202, sent.text
        await bus.wait_for(lambda: bool(bus.events("command_completed", swarm_id=swarm_id)), 30, "the command")
        (completed,) = bus.events("command_completed", swarm_id=swarm_id)
        assert completed["output"].split() == [str(NOBODY), pwd.getpwnam("nobody").pw_dir], completed

        node_files = [
            Path(outbox_path(str(base), job_id, 0)),
            Path(inbox_path(str(base), job_id, 0)),
            Path(workspace_path(str(base), job_id, 0)),
        ]
        assert all(path.stat().st_uid == NOBODY for path in node_files)
        test_log = router.home / "router.log"  # the test's own capture of the router's output
        state = sorted(path for path in router.home.rglob("*") if not path.is_symlink() and path != test_log)
        assert opened_by(THIRD_USER, state) == []
        # nobody reads its node's files, and none of the router's: database, token, pid files, logs
        readable = set(opened_by(AS_NOBODY, state))
        assert {str(path) for path in node_files} <= readable
        routers_own = [p for p in state if p.name.startswith("codeswarm.db") or p.parent.name == "control"]
        assert routers_own and readable.isdisjoint(map(str, routers_own))

        pids = [int(p.read_text()) for p in (base / "runs" / job_id / "control").glob("node_*.pid")]
        assert [Path(f"/proc/{pid}").stat().st_uid for pid in pids] == [NOBODY]
        await http.post(f"/v1/swarms/{swarm_id}/terminate", json={})
        await wait_swarm(http, swarm_id, lambda s: s.get("status") == "terminated", 30)
        wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids), 10, "the node process gone")


def test_an_interpreter_nobody_cannot_reach_is_refused_at_start_up(make_router: Callable[..., RouterProcess]) -> None:
    """The suite's interpreter lives under /root (0700): the router names it instead of starting nodes
    that would die."""
    router = make_router(CODESWARM_LOCAL_RUN_AS="nobody")
    with pytest.raises(RuntimeError, match=r"nobody cannot enter /root, so it cannot run the node interpreter"):
        router.start()


def test_a_home_nobody_cannot_enter_is_refused_at_start_up(
    make_router: Callable[..., RouterProcess], home: Path, node_python: str
) -> None:
    home.chmod(0o700)
    router = make_router(CODESWARM_LOCAL_RUN_AS="nobody", CODESWARM_LOCAL_PYTHON=node_python)
    with pytest.raises(RuntimeError, match=rf"nobody cannot enter {home}, on the way to the nodes' files"):
        router.start()


def test_an_unknown_user_is_refused() -> None:
    with pytest.raises(RunAsError, match="no such user"):
        RunAs.of("no-such-user-codeswarm")


def test_a_router_that_is_not_root_is_refused(node_python: str) -> None:
    """RunAs.of as nobody (run_as.py needs only the standard library)."""
    code = "from router.providers.local.run_as import RunAs\nRunAs.of('nobody')"
    result = subprocess.run(
        [*AS_NOBODY, node_python, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert "only a router running as root can start nodes as another user" in result.stderr, result.stderr

"""Every long-running Codeswarm process keeps its settings out of /proc/<pid>/environ, which any
process of the same Unix user (every agent) can read: `codeswarm up` and the mirror as well as the
router (tests/integration/router/test_agent_isolation.py runs an agent against the router)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.embedded_process import start_embedded
from tests.support.mirror_process import MirrorProcess

TOKEN = "environ-test-token-0123456789abcdefghijkl"
SECRET = "a-secret-agents-must-not-see-0123456789"


def environ(pid: int) -> str:
    return Path(f"/proc/{pid}/environ").read_bytes().replace(b"\0", b"\n").decode()


def test_codeswarm_up_shows_no_setting_in_its_environ(tmp_path: Path) -> None:
    running = start_embedded(tmp_path, {"CODESWARM_API_TOKEN": TOKEN, "SITE_MODEL_KEY": SECRET})
    try:
        shown = environ(running.process.pid)
        assert "PATH=" in shown  # what is harmless stays
        assert TOKEN not in shown and SECRET not in shown
        assert [line for line in shown.splitlines() if line.startswith("CODESWARM_")] == ["CODESWARM_ENVIRON_FD=3"]
        assert running.login_url.endswith(f"#token={TOKEN}")  # the process itself still has the token
    finally:
        running.stop()


def test_the_mirror_shows_no_setting_in_its_environ(tmp_path: Path, redis_url: str, redis_prefix: str) -> None:
    mirror = MirrorProcess(
        tmp_path / "mirror", redis_url, redis_prefix, "http://127.0.0.1:9", extra_env={"CODESWARM_API_TOKEN": TOKEN}
    ).start()
    try:
        shown = environ(mirror.pid)
        assert "PATH=" in shown and TOKEN not in shown and "CODESWARM_REDIS_URL" not in shown
    finally:
        mirror.stop()

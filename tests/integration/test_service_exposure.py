"""Each deployment-mode service refuses to run without auth beyond loopback (the router too), and the
services that hold the token refuse a short one at start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_service(service: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "CODESWARM_HOME": str(home),
        "CODESWARM_API_TOKEN": "",
        f"CODESWARM_{service.upper()}_PORT": str(free_port()),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", f"{service}.main"], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("service", ["router", "mirror", "web"])
def test_a_service_refuses_a_public_address_without_auth(service: str, tmp_path: Path) -> None:
    done = run_service(
        service, tmp_path, CODESWARM_INSECURE_NO_AUTH="1", **{f"CODESWARM_{service.upper()}_HOST": "0.0.0.0"}
    )
    assert done.returncode == 1
    assert f"refusing to serve the {service} on 0.0.0.0 without a token" in done.stderr
    assert "CODESWARM_INSECURE_NO_AUTH" in done.stderr and f"CODESWARM_{service.upper()}_HOST" in done.stderr
    assert not (tmp_path / "api-token").exists()


@pytest.mark.parametrize("service", ["router", "mirror"])
def test_a_short_token_is_refused_at_start(service: str, tmp_path: Path) -> None:
    done = run_service(service, tmp_path, CODESWARM_INSECURE_NO_AUTH="0", CODESWARM_API_TOKEN="s3cret-token")
    assert done.returncode == 1
    assert "CODESWARM_API_TOKEN has 12 characters; at least 32 are required" in done.stderr

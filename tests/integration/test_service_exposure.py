"""Each deployment-mode service refuses to listen beyond loopback without a token, the router too."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.servers import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("service", ["router", "mirror", "web"])
def test_a_service_refuses_a_public_address_without_a_token(service: str, tmp_path) -> None:
    env = {
        **os.environ,
        "CODESWARM_HOME": str(tmp_path),
        "CODESWARM_API_TOKEN": "",
        f"CODESWARM_{service.upper()}_HOST": "0.0.0.0",
        f"CODESWARM_{service.upper()}_PORT": str(free_port()),
    }
    done = subprocess.run(
        [sys.executable, "-m", f"{service}.main"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert f"refusing to serve the {service} on 0.0.0.0 without a token" in done.stderr
    assert f"CODESWARM_{service.upper()}_HOST" in done.stderr

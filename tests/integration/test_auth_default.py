"""Auth on by default, with real services: a fresh CODESWARM_HOME gets a private random token that the
router demands and the CLI reads; another Unix user can neither read it nor launch without it; a
foreign Host (DNS rebinding) and a cross-site write are refused by router, mirror and web; the OpenAPI
descriptions say so and /docs needs no CDN."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.embedded_process import EmbeddedProcess, start_embedded
from tests.support.router_process import RouterProcess

AUTH_ON = {"CODESWARM_INSECURE_NO_AUTH": "false"}  # the default a user gets: the suite's own is no auth
OTHER_USER = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
CLI = [sys.executable, "-m", "codeswarm.cli"]


def cli_env(home: Path) -> dict[str, str]:
    env = {**os.environ, "CODESWARM_HOME": str(home)}
    for name in ("CODESWARM_INSECURE_NO_AUTH", "CODESWARM_API_TOKEN"):
        env.pop(name, None)
    return env


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def test_a_fresh_home_gets_a_private_token_the_router_demands_and_the_cli_reads(
    start_router: Callable[..., RouterProcess],
) -> None:
    router = start_router(**AUTH_ON)
    path = router.home / "api-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = path.read_text().strip()
    assert len(token) >= 32
    refused = httpx.post(f"{router.url}/v1/swarms", json={"nodes": 1}, timeout=10)
    assert refused.status_code == 401 and "api-token" in refused.json()["detail"]
    assert httpx.get(f"{router.url}/v1/swarms", timeout=10).status_code == 401
    launched = httpx.post(f"{router.url}/v1/swarms", json={"nodes": 1}, headers=bearer(token), timeout=10)
    assert launched.status_code == 202
    swarm_id = launched.json()["swarm_id"]

    listed = subprocess.run(
        [*CLI, "list", "--router", router.url], env=cli_env(router.home), capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    assert swarm_id in listed.stdout

    router.stop()
    again = start_router(**AUTH_ON)  # a later start reuses the token
    assert (again.home / "api-token").read_text().strip() == token
    assert httpx.get(f"{again.url}/v1/swarms/{swarm_id}", headers=bearer(token), timeout=10).status_code == 200


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_another_user_can_neither_read_the_token_nor_launch(start_router: Callable[..., RouterProcess]) -> None:
    router = start_router(**AUTH_ON)
    token_file = router.home / "api-token"
    read = subprocess.run([*OTHER_USER, "cat", str(token_file)], capture_output=True, text=True, timeout=30)
    assert read.returncode != 0 and "Permission denied" in read.stderr
    launch = (
        "import sys, urllib.request, urllib.error\n"
        "request = urllib.request.Request(sys.argv[1] + '/v1/swarms', data=b'{\"nodes\": 1}', "
        "headers={'content-type': 'application/json'})\n"
        "try:\n    urllib.request.urlopen(request, timeout=10)\n"
        "except urllib.error.HTTPError as e:\n    print(e.code)\n"
    )
    answered = subprocess.run(
        [*OTHER_USER, "/usr/bin/python3", "-c", launch, router.url], capture_output=True, text=True, timeout=30
    )
    assert answered.stdout.strip() == "401", answered.stderr
    # the CLI as the other user, pointed at the owner's home: it cannot get at the token either
    as_other = subprocess.run(
        [*OTHER_USER, *CLI, "launch", "--nodes", "1", "--router", router.url],
        cwd="/",
        env=cli_env(router.home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert as_other.returncode != 0
    assert "401" in as_other.stderr or "api-token" in as_other.stderr, as_other.stderr
    listed = httpx.get(f"{router.url}/v1/swarms", headers=bearer(router.token()), timeout=10)
    assert listed.json()["swarms"] == []  # nothing was launched


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedProcess]:
    running = start_embedded(tmp_path_factory.mktemp("codeswarm-home"), AUTH_ON)
    yield running
    running.stop()


def test_up_prints_the_login_url_once_with_the_token_of_its_file(up: EmbeddedProcess) -> None:
    token = (up.home / "api-token").read_text().strip()
    assert up.login_url == f"{up.web_url}/#token={token}"
    assert up.log().count(token) == 1


@pytest.mark.parametrize("service", ["router", "mirror", "web"])
def test_a_foreign_host_is_refused_dns_rebinding(up: EmbeddedProcess, service: str) -> None:
    url = up.urls[service]
    port = url.rsplit(":", 1)[1]
    for host in ("evil.example", f"evil.example:{port}"):
        refused = httpx.get(f"{url}/healthz", headers={"Host": host}, timeout=10)
        assert refused.status_code == 421, (service, host)
        assert "CODESWARM_ALLOWED_HOSTS" in refused.json()["detail"]
    assert httpx.get(f"{url}/healthz", headers={"Host": f"localhost:{port}"}, timeout=10).status_code == 200


@pytest.mark.parametrize("service", ["router", "mirror", "web"])
def test_a_cross_site_write_is_refused(up: EmbeddedProcess, service: str) -> None:
    token = (up.home / "api-token").read_text().strip()
    headers = {"Authorization": f"Bearer {token}", "Origin": "http://evil.example"}
    refused = httpx.post(f"{up.urls[service]}/v1/swarms", json={"nodes": 1}, headers=headers, timeout=10)
    assert refused.status_code == 403, service
    assert "cross-site" in refused.json()["detail"] and "CODESWARM_WEB_ORIGIN" in refused.json()["detail"]


def test_the_web_origin_may_write_to_the_mirror(up: EmbeddedProcess) -> None:
    token = (up.home / "api-token").read_text().strip()
    headers = {"Authorization": f"Bearer {token}", "Origin": up.web_url}
    launched = httpx.post(f"{up.mirror_url}/v1/swarms", json={"nodes": 1, "alias": "from-web"}, headers=headers)
    assert launched.status_code == 202, launched.text
    swarm_id = launched.json()["swarm_id"]
    ended = httpx.post(f"{up.urls['router']}/v1/swarms/{swarm_id}/terminate", json={}, headers=headers, timeout=10)
    assert ended.status_code == 202


@pytest.mark.parametrize("service", ["router", "mirror"])
def test_openapi_declares_the_auth_and_docs_need_no_cdn(up: EmbeddedProcess, service: str) -> None:
    url = up.urls[service]
    document = httpx.get(f"{url}/openapi.json", timeout=10).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "description": schemes["bearer"]["description"]}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path == "/healthz" or (path == "/v1/session" and method == "delete"):
                assert "security" not in operation, (path, method)
                continue
            names = {name for requirement in operation["security"] for name in requirement}
            assert "bearer" in names, (path, method)
            if service == "mirror" and path in ("/v1/events", "/v1/events/focused"):
                assert names == {"bearer", "session_cookie"}, path
                assert schemes["session_cookie"]["in"] == "cookie"
    page = httpx.get(f"{url}/docs", timeout=10)
    assert page.status_code == 200
    assert not re.findall(r"https?://", page.text), "the docs page loads something from the internet"
    assets = re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', page.text)
    assert len(assets) == 3
    for asset in assets:
        assert httpx.get(f"{url}{asset}", timeout=10).status_code == 200, asset

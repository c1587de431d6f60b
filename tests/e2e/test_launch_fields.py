"""A provider's launch fields in the form: its defaults filled in, its patterns checked by the browser
before anything is sent; the launch then shows the router's progress (a Slurm provider whose login
node never answers: the router keeps retrying)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from playwright.sync_api import Page, Request, expect

from tests.e2e.embedded_process import EmbeddedProcess, start_embedded
from tests.e2e.ui import open_ui

pytestmark = pytest.mark.e2e

PROVIDERS = """
[[providers]]
id = "local"
backend = "local"
label = "This machine"

[[providers]]
id = "hpc"
backend = "slurm"
label = "HPC cluster"
runtimes = ["mock"]
host = "127.0.0.1"
port = 1
user = "alice"
key_file = "{home}/id_ed25519"
known_hosts = "{home}/known_hosts"
base = "/shared/alice/codeswarm"
[providers.defaults]
partition = "debug"
time = "02:00:00"

[[providers]]
id = "badkey"
backend = "slurm"
label = "A cluster with an unusable key"
runtimes = ["mock"]
host = "127.0.0.1"
port = 1
user = "alice"
key_file = "{home}/not_a_key"
known_hosts = "{home}/known_hosts"
base = "/shared/alice/codeswarm"
"""


@pytest.fixture(scope="module")
def with_slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedProcess]:
    home = tmp_path_factory.mktemp("codeswarm-home")
    key = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
    (home / "id_ed25519").write_bytes(key)  # a real key, for a login node that never answers (port 1)
    (home / "id_ed25519").chmod(0o600)
    (home / "not_a_key").write_text("not a key\n")
    (home / "known_hosts").write_text("")
    (home / "providers.toml").write_text(PROVIDERS.format(home=home))
    running = start_embedded(home, {"CODESWARM_PROVIDERS_FILE": str(home / "providers.toml")})
    yield running
    running.stop()
    print(f"`codeswarm up` output:\n{running.log()}")


def test_launch_fields_have_defaults_and_patterns(page: Page, with_slurm: EmbeddedProcess) -> None:
    launches: list[Request] = []
    page.on(
        "request",
        lambda request: (
            launches.append(request) if request.method == "POST" and request.url.endswith("/v1/swarms") else None
        ),
    )
    open_ui(page, with_slurm.web_url)
    page.click("#new-swarm")
    page.select_option("#launch-provider", "hpc")
    partition = page.locator("#launch-fields [data-key='partition']")
    time_limit = page.locator("#launch-fields [data-key='time']")
    expect(partition).to_have_value("debug")
    expect(time_limit).to_have_value("02:00:00")

    time_limit.fill("two hours")
    assert time_limit.evaluate("(input) => input.validity.patternMismatch") is True
    page.fill("#launch-alias", "e2e-bad-time")
    page.click("#launch-submit")
    expect(page.locator("#launch-fields [data-key='time']:invalid")).to_have_count(1)
    time_limit.fill("04:00:00")
    assert time_limit.evaluate("(input) => input.validity.valid") is True
    expect(page.locator("#swarm-list .ghost")).to_have_count(0)
    page.click("#launch-submit")  # valid now: sent, and the router keeps trying the login node
    row = page.locator("#swarm-list .swarm-row", has_text="e2e-bad-time")
    expect(row.locator(".row-status")).to_have_text("launching")
    expect(row.locator(".row-progress")).to_contain_text("retrying")
    assert len(launches) == 1  # only the valid form was sent


def test_a_launch_the_router_rejects_later_names_its_alias(page: Page, with_slurm: EmbeddedProcess) -> None:
    open_ui(page, with_slurm.web_url)
    page.click("#new-swarm")
    page.select_option("#launch-provider", "badkey")
    page.fill("#launch-alias", "e2e-bad-key")
    page.click("#launch-submit")  # accepted (202), then rejected by the router: command_rejected
    banner = page.locator(".banner", has_text='Launch of "e2e-bad-key" rejected')
    expect(banner).to_contain_text("key_file")
    expect(page.locator("#swarm-list .swarm-row", has_text="e2e-bad-key")).to_have_count(0)
    expect(page.locator("#swarm-list .ghost")).to_have_count(0)

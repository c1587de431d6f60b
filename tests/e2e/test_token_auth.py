"""With CODESWARM_API_TOKEN set, the page says it is refused (and what it needs) until the user enters
the token; then commands and the live stream (authenticated by the session cookie) work; "Forget"
clears the page.  With nothing set (auth on by default), the login URL `codeswarm up` prints opens the
page in one step: the token leaves the address bar, the stream's cookie is a session id, not the token,
and "Forget" (log out) ends the session on the mirror."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.embedded_process import EmbeddedProcess, start_embedded
from tests.e2e.ui import inject, launch, open_node, swarm_row, swarm_view, terminate

pytestmark = pytest.mark.e2e

TOKEN = "e2e-token-7f3a9c-long-enough-for-the-32-character-rule"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedProcess]:
    running = start_embedded(tmp_path_factory.mktemp("codeswarm-home"), {"CODESWARM_API_TOKEN": TOKEN})
    yield running
    running.stop()
    print(f"`codeswarm up` output:\n{running.log()}")  # shown with a failing test's report


def use_token(page: Page, token: str) -> None:
    page.fill("#token-input", token)
    page.click("#token-save")


def test_page_needs_the_token_then_streams(page: Page, guarded: EmbeddedProcess) -> None:
    page.goto(guarded.web_url)
    auth_banner = page.locator(".banner[data-key='auth']")
    expect(auth_banner).to_contain_text("authentication required")
    expect(auth_banner).to_contain_text("API token")
    expect(page.locator("#connection")).to_have_attribute("data-state", "auth")

    use_token(page, "not-the-token")
    expect(auth_banner).to_contain_text("invalid API token")

    use_token(page, TOKEN)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect(auth_banner).to_have_count(0)

    view = launch(page, "e2e-guarded", nodes=1)
    node = open_node(view, 0)
    inject(view, "hello")
    expect(node.locator(".answer[data-streamed='true']")).to_have_text("echo: hello")
    expect(node.locator(".turn[data-state='completed']")).to_have_count(1)

    # the token lives in this tab's sessionStorage, so a reload needs no retyping
    page.reload()
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect(view.locator(".node-view .answer")).to_have_text("echo: hello")

    # terminate with workspaces; the archive downloads with the token (a plain link could not send it)
    terminate(page, view, download_workspaces=True)
    download_button = view.locator(".archive-download")
    expect(download_button).to_be_visible()
    with page.expect_download() as download:
        download_button.click()
    assert download.value.suggested_filename.endswith(".tar.gz")
    archive = download.value.path()
    assert archive.stat().st_size > 0
    assert archive.read_bytes()[:2] == b"\x1f\x8b"  # gzip

    # forgetting the token clears what it showed
    page.click("#token-forget")
    expect(swarm_row(page, "e2e-guarded")).to_have_count(0)
    expect(swarm_view(page, "e2e-guarded")).to_have_count(0)
    expect(auth_banner).to_contain_text("authentication required")


@pytest.fixture(scope="module")
def by_default(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedProcess]:
    running = start_embedded(tmp_path_factory.mktemp("codeswarm-home"), {"CODESWARM_INSECURE_NO_AUTH": "false"})
    yield running
    running.stop()
    print(f"`codeswarm up` output:\n{running.log()}")


def test_the_printed_login_url_opens_a_session_and_logout_ends_it(page: Page, by_default: EmbeddedProcess) -> None:
    token = (by_default.home / "api-token").read_text().strip()
    assert by_default.login_url == f"{by_default.web_url}/#token={token}"
    page.goto(by_default.login_url)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    assert token not in page.url and "#token" not in page.url  # gone from the address bar

    sessions = [
        c for c in page.context.cookies(f"{by_default.mirror_url}/v1/events") if c["name"] == "codeswarm_session"
    ]
    assert len(sessions) == 1
    session = sessions[0]
    assert session["value"] != token and token not in session["value"]
    assert session["httpOnly"] and session["sameSite"] == "Strict" and session["path"] == "/v1"

    view = launch(page, "e2e-by-default", nodes=1)
    node = open_node(view, 0)
    inject(view, "hello")
    expect(node.locator(".answer[data-streamed='true']")).to_have_text("echo: hello")

    stream = f"{by_default.mirror_url}/v1/events"
    with httpx.stream("GET", stream, cookies={"codeswarm_session": session["value"]}, timeout=10) as live:
        assert live.status_code == 200  # the cookie alone opens the stream
    page.click("#token-forget")
    expect(swarm_row(page, "e2e-by-default")).to_have_count(0)
    revoked = httpx.get(stream, cookies={"codeswarm_session": session["value"]}, timeout=10)
    assert revoked.status_code == 401  # logged out on the server, not only in this browser
    assert "expired or was closed" in revoked.json()["detail"]

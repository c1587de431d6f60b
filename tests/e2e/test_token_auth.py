"""With CODESWARM_API_TOKEN set, the page says it is refused (and what it needs) until the user enters
the token; then commands and the live stream (authenticated by the session cookie) work; "Forget"
clears the page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.embedded_process import EmbeddedProcess, start_embedded
from tests.e2e.ui import inject, launch, open_node, swarm_row, swarm_view, terminate

pytestmark = pytest.mark.e2e

TOKEN = "e2e-token-7f3a9c"


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

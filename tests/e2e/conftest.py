"""Browser tests: Debian's Chromium driven by Playwright against `codeswarm up` (router, mirror, web).

Every wait is Playwright's own: ``expect`` assertions and locators retry until their deadline.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.chromium import ChromiumUnavailable, ensure_chromium
from tests.e2e.embedded_process import EmbeddedProcess, start_embedded

EXPECT_TIMEOUT_MS = 30_000  # a whole mock turn on a loaded machine fits well inside this


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    try:
        return ensure_chromium()
    except ChromiumUnavailable as exc:
        pytest.fail(str(exc))


# package scope: sync Playwright runs its own event loop in this thread, so it must stop before the
# asyncio tests of the other packages run (pytest-asyncio refuses to start a loop inside a running one).
@pytest.fixture(scope="package")
def browser(chromium_path: Path) -> Iterator[Browser]:
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        # Chromium's sandbox cannot start as root (the suite runs as root in CI)
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = playwright.chromium.launch(executable_path=str(chromium_path), headless=True, args=args)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedProcess]:
    """The embedded mode without a token (loopback only)."""
    running = start_embedded(tmp_path_factory.mktemp("codeswarm-home"))
    yield running
    running.stop()
    print(f"`codeswarm up` output:\n{running.log()}")  # shown with a failing test's report


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(EXPECT_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"

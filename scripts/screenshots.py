"""Render the web UI's main states into docs/ (the README shows them): a 64-node mock swarm on
`codeswarm up`, driven over the mirror's API, photographed in headless Chromium.

Usage: .venv/bin/python scripts/screenshots.py   (from the repository root; takes about a minute)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.chromium import ensure_chromium  # noqa: E402
from tests.e2e.embedded_process import start_embedded  # noqa: E402

DOCS = ROOT / "docs"
NODES = 64
ANSWER = (
    "## Plan\n\n1. run the **tests**\n2. fix what fails\n\n| step | result |\n|---|---|\n| build | `ok` |\n\n$ ls -la"
)


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.5)  # polling a server from a script, not a test


def shoot(page: Page, name: str) -> None:
    page.screenshot(path=str(DOCS / name), full_page=False)
    print(f"wrote docs/{name}")


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    running = start_embedded(Path(tempfile.mkdtemp(prefix="codeswarm-screens-")))
    try:
        mirror = httpx.Client(base_url=running.mirror_url, timeout=30)
        params = {"delay_ms": 40, "tokens": 400}
        body = {"nodes": NODES, "runtime": "mock", "alias": "demo-64", "runtime_params": params}
        swarm_id = mirror.post("/v1/swarms", json=body).raise_for_status().json()["swarm_id"]

        def statuses() -> list[str]:
            swarm = mirror.get(f"/v1/swarms/{swarm_id}").json()
            return [node["status"] for node in swarm["nodes"]]

        wait_until(lambda: statuses().count("idle") == NODES, "every node idle")

        def inject(nodes: object, content: str) -> None:
            mirror.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": nodes, "content": content}).raise_for_status()

        inject([*range(8), 32], "build it\n$ false")
        inject(list(range(8, 24)), ANSWER)
        wait_until(lambda: "busy" not in statuses(), "the first turns")
        inject([5], "clean up first\n$? rm -rf build")
        inject(list(range(40, 56)), "a long answer " + "z" * 380)
        with sync_playwright() as playwright:
            sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []
            browser = playwright.chromium.launch(executable_path=str(ensure_chromium()), headless=True, args=sandbox)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{running.web_url}/#/swarm/{swarm_id}/node/12")
            view = page.locator("section.swarm")
            expect(view.locator(".tile[data-state='busy']").first).to_be_visible(timeout=60_000)
            expect(view.locator(".node-view .answer.markdown table")).to_be_visible(timeout=60_000)
            shoot(page, "ui-swarm.png")
            view.locator(".filter[data-filter='failed']").click()
            view.locator(".pick-failed").click()
            shoot(page, "ui-failed-filter.png")
            view.locator(".filter[data-filter='']").click()
            view.locator(".tile[data-node-id='5']").click()
            expect(view.locator(".node-view .approval")).to_be_visible(timeout=60_000)
            shoot(page, "ui-approval.png")
            view.locator(".tile[data-node-id='44']").click()
            expect(view.locator(".node-view .turn[data-state='running']")).to_be_visible(timeout=60_000)
            shoot(page, "ui-streaming.png")
            page.click("#new-swarm")
            expect(page.locator("#launch-runtime-fields [data-key='tokens']")).to_be_visible()
            page.select_option("#launch-runtime", "mock")
            page.fill("#launch-alias", "review-bots")
            shoot(page, "ui-launch.png")
            browser.close()
    finally:
        running.stop()


if __name__ == "__main__":
    main()

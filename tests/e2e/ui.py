"""What the tests do on the page, in the user's terms (launch, inject, find a swarm's panel)."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


def open_ui(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")


def swarm_panel(page: Page, alias: str) -> Locator:
    return page.locator("section.swarm", has=page.locator(".swarm-title", has_text=alias))


def launch(page: Page, alias: str, nodes: int) -> Locator:
    """Launch a mock swarm from the form; returns its panel once the swarm is running."""
    expect(page.locator("#launch-provider option[value='local']")).to_have_count(1)
    page.fill("#launch-nodes", str(nodes))
    page.select_option("#launch-runtime", "mock")
    page.fill("#launch-alias", alias)
    page.click("#launch-submit")
    panel = swarm_panel(page, alias)
    expect(panel.locator(".swarm-status")).to_have_text("running")
    return panel


def inject(panel: Locator, content: str, nodes: list[int] | None = None) -> None:
    """Send a prompt to all nodes, or to the ones listed."""
    panel.locator(".inject-content").fill(content)
    if nodes is None:
        panel.locator(".target-all").check()
    else:
        for node_id in nodes:
            panel.locator(f".target-node[value='{node_id}']").check()
    panel.locator(".inject-submit").click()
    expect(panel.locator(".inject-result")).to_have_text("sent")


def node(panel: Locator, node_id: int) -> Locator:
    return panel.locator(f".node[data-node-id='{node_id}']")

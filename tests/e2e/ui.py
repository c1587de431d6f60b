"""What the tests do on the page, in the user's terms (launch, pick nodes, inject, open a node)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Locator, Page, expect


def open_ui(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")


def swarm_view(page: Page, alias: str) -> Locator:
    """The shown swarm, once it is the one named ``alias``."""
    return page.locator("section.swarm", has=page.locator(".swarm-title", has_text=alias))


def swarm_row(page: Page, alias: str) -> Locator:
    return page.locator("#swarm-list .swarm-row", has=page.locator(".row-name", has_text=alias))


def fill_launch(
    page: Page,
    alias: str,
    nodes: int,
    *,
    runtime_params: dict[str, str] | None = None,
    system_prompt: str = "",
    agents_md: Path | None = None,
) -> None:
    page.click("#new-swarm")
    expect(page.locator("#launch-provider option[value='local']")).to_have_count(1)
    page.fill("#launch-nodes", str(nodes))
    page.select_option("#launch-runtime", "mock")
    page.fill("#launch-alias", alias)
    for key, value in (runtime_params or {}).items():
        page.fill(f"#launch-runtime-fields [data-key='{key}']", value)
    page.fill("#launch-system-prompt", system_prompt)
    if agents_md is not None:
        page.set_input_files("#launch-agents", str(agents_md))
    page.click("#launch-submit")


def launch(page: Page, alias: str, nodes: int, **options: object) -> Locator:
    """Launch a mock swarm from the form; returns its view once the swarm runs and every node is idle."""
    fill_launch(page, alias, nodes, **options)  # type: ignore[arg-type]
    view = swarm_view(page, alias)
    expect(view.locator(".swarm-status")).to_have_text("running")
    expect(view.locator(".tile[data-state='idle']")).to_have_count(nodes)
    return view


def inject(view: Locator, content: str, targets: str = "all") -> None:
    """Send a prompt to the nodes named by ``targets`` ("all" or ranges like "0-3,7")."""
    view.locator(".inject-targets").fill(targets)
    view.locator(".inject-content").fill(content)
    view.locator(".inject-submit").click()
    expect(view.locator(".inject-result")).to_contain_text("sent to")


def tile(view: Locator, node_id: int) -> Locator:
    return view.locator(f".tile[data-node-id='{node_id}']")


def open_node(view: Locator, node_id: int) -> Locator:
    """Click a node's tile; returns the focused node view."""
    tile(view, node_id).click()
    node = view.locator(f".node-view[data-node-id='{node_id}']")
    expect(node).to_be_visible()
    return node


def terminate(page: Page, view: Locator, *, download_workspaces: bool = False, within_ms: float | None = None) -> None:
    view.locator(".terminate").click()
    dialog = page.locator("dialog.terminate-dialog")
    expect(dialog).to_be_visible()
    if download_workspaces:
        dialog.locator(".terminate-download").check()
    dialog.locator(".terminate-confirm").click()
    expect(view.locator(".swarm-status")).to_have_text("terminated", timeout=within_ms)

"""128 mock nodes in one swarm: the matrix fits on a screen, counts and filters find the nodes whose
command failed, and targets are picked from the matrix (typed ranges, quick picks, click, shift-click,
Ctrl-click, arrow keys) — an injection reaches those nodes and no other."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.embedded_process import EmbeddedProcess, start_embedded
from tests.e2e.ui import fill_launch, inject, open_node, open_ui, swarm_view, terminate, tile
from tests.support.provider_files import write_local_providers

pytestmark = pytest.mark.e2e

NODES = 128
START_TIMEOUT_MS = 180_000  # 128 node programs start on a shared two-core machine
FAILED = [*range(16), 32]


@pytest.fixture(scope="module")
def roomy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedProcess]:
    """The embedded mode with a local provider that takes 256 nodes."""
    home = tmp_path_factory.mktemp("codeswarm-home")
    providers = write_local_providers(home, 256, label="This machine")
    running = start_embedded(home, {"CODESWARM_PROVIDERS_FILE": str(providers)})
    yield running
    running.stop()
    print(f"`codeswarm up` output:\n{running.log()}")


def test_matrix_of_128_nodes_filters_and_targets(page: Page, roomy: EmbeddedProcess) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    open_ui(page, roomy.web_url)
    fill_launch(page, "e2e-matrix", NODES)
    view = swarm_view(page, "e2e-matrix")
    expect(view.locator(".tile")).to_have_count(NODES)
    expect(view.locator(".tile[data-state='idle']")).to_have_count(NODES, timeout=START_TIMEOUT_MS)
    expect(view.locator(".state-chip[data-state='idle']")).to_have_text(f"idle {NODES}")
    box = view.locator(".matrix").bounding_box()
    assert box is not None and box["height"] < 400, f"the matrix of {NODES} nodes takes {box} px"

    # a typed range picks the tiles it names
    view.locator(".inject-targets").fill("0-15,32")
    expect(view.locator(".tile[aria-pressed='true']")).to_have_count(len(FAILED))
    expect(view.locator(".target-summary")).to_have_text(f"{len(FAILED)} nodes")
    view.locator(".inject-targets").fill("0-200")
    expect(view.locator(".target-summary")).to_contain_text("node 200 does not exist")
    inject(view, "fail on purpose\n$ false", targets="0-15,32")
    expect(view.locator(".tile[data-exit='failed']")).to_have_count(len(FAILED))
    expect(tile(view, 32).locator(".tile-exit")).to_have_text("✗1")

    # one click finds them; "All failed" targets exactly them
    view.locator(".filter[data-filter='failed']").click()
    expect(view.locator(".tile:visible")).to_have_count(len(FAILED))
    view.locator(".pick-failed").click()
    expect(view.locator(".inject-targets")).to_have_value("0-15,32")
    inject(view, "again\n$ echo fixed", targets=view.locator(".inject-targets").input_value())
    expect(view.locator(".tile[data-exit='ok']")).to_have_count(len(FAILED))
    expect(view.locator(".tile:visible")).to_have_count(0)  # the filter follows the nodes
    view.locator(".filter[data-filter='']").click()
    expect(view.locator(".tile:visible")).to_have_count(NODES)

    node = open_node(view, 32)
    expect(node.locator(".turn[data-state='completed']")).to_have_count(2)
    expect(node.locator(".command-output").last).to_have_text("fixed")
    expect(open_node(view, 20).locator(".turn")).to_have_count(0)  # never targeted

    # click, shift-click and Ctrl-click build the target; arrows move between tiles
    tile(view, 40).click()
    tile(view, 43).click(modifiers=["Shift"])
    tile(view, 50).click(modifiers=["Control"])
    expect(view.locator(".inject-targets")).to_have_value("40-43,50")
    tile(view, 50).press("ArrowRight")
    expect(tile(view, 51)).to_be_focused()
    columns = page.evaluate(
        "() => { const t = [...document.querySelectorAll('.tile')];"
        " return t.findIndex((x) => x.offsetTop !== t[0].offsetTop); }"
    )
    tile(view, 51).press("ArrowDown")
    expect(tile(view, 51 + columns)).to_be_focused()
    tile(view, 51 + columns).press("Enter")
    expect(view.locator(f".node-view[data-node-id='{51 + columns}']")).to_be_visible()
    terminate(page, view, within_ms=START_TIMEOUT_MS)  # 128 node programs stop on a shared two-core machine

"""The whole path through a real browser: launch from the form, inject, watch the turns stream in
(answer, command with output and exit code, usage) in the focused node view, reload without losing
or doubling anything, terminate after confirming."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.embedded_process import EmbeddedProcess
from tests.e2e.ui import inject, launch, open_node, open_ui, swarm_row, swarm_view, terminate, tile

pytestmark = pytest.mark.e2e

COMMAND_PROMPT = "run a command\n$ echo hi"


def expect_two_turns(node: Locator) -> None:
    """The node shows both turns complete, each exactly once, in order."""
    expect(node.locator(".turn")).to_have_count(2)
    expect(node.locator(".turn[data-state='completed']")).to_have_count(2)
    expect(node.locator(".answer")).to_have_text(["echo: hello", f"echo: {COMMAND_PROMPT}"])
    command = node.locator(".command")
    expect(command).to_have_count(1)
    expect(command.locator(".command-line")).to_have_text("$ echo hi")  # what was asked, not the bash -lc wrapper
    expect(command.locator(".command-output")).to_have_text("hi")
    expect(command).to_have_attribute("data-exit-code", "0")
    expect(command.locator(".command-exit")).to_contain_text("exit 0")
    expect(node.locator(".usage")).to_have_count(2)
    expect(node.locator(".usage").last).to_contain_text("this turn")
    expect(node.locator(".usage").last).to_contain_text("thread total")
    expect(node.locator(".usage").last).to_contain_text("context window 128,000")  # live, and after a reload
    expect(node.locator(".reasoning")).to_have_count(2)
    expect(node.locator(".turn-prompt").last).to_have_text(COMMAND_PROMPT)


def test_launch_inject_watch_reload_terminate(page: Page, embedded: EmbeddedProcess) -> None:
    open_ui(page, embedded.web_url)
    view = launch(page, "e2e-two-nodes", nodes=2)

    row = swarm_row(page, "e2e-two-nodes")
    expect(row.locator(".row-status")).to_have_text("running")
    expect(row.locator(".row-where")).to_contain_text("2 nodes · local/mock")
    expect(row.locator(".row-counts")).to_have_text("2 idle")
    expect(view.locator(".tile")).to_have_count(2)

    watched = open_node(view, 0)
    inject(view, "hello", targets="all")
    inject(view, COMMAND_PROMPT, targets="all")
    expect_two_turns(watched)
    # node 0 was open: its answers arrived as deltas, then markdown once the completed item settled them
    expect(watched.locator(".answer[data-streamed='true'][data-final='true']")).to_have_count(2)
    expect_two_turns(open_node(view, 1))  # opened afterwards: from the durable transcript
    for node_id in (0, 1):
        expect(tile(view, node_id).locator(".tile-exit")).to_have_text("✓")

    # a reload rebuilds the same page (same swarm, same node) from /v1/state, the live view and the transcript
    page.reload()
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    view = swarm_view(page, "e2e-two-nodes")
    expect_two_turns(view.locator(".node-view[data-node-id='1']"))
    expect(tile(view, 1)).to_have_attribute("aria-pressed", "false")

    # terminate asks first; cancelling changes nothing
    view.locator(".terminate").click()
    page.locator("dialog.terminate-dialog .terminate-cancel").click()
    expect(view.locator(".swarm-status")).to_have_text("running")
    terminate(page, view)
    expect(row.locator(".row-status")).to_have_text("terminated")
    expect(view.locator(".inject-submit")).to_be_disabled()

"""The whole path through a real browser: launch from the form, inject, watch both nodes' turns stream
in (answer, command with output and exit code, usage), reload without losing or doubling anything,
terminate."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.embedded_process import EmbeddedProcess
from tests.e2e.ui import inject, launch, node, open_ui

pytestmark = pytest.mark.e2e

COMMAND_PROMPT = "run a command\n$ echo hi"


def expect_two_turns(page: Page, alias: str) -> None:
    """Both nodes show both turns complete, each exactly once."""
    panel = page.locator("section.swarm", has=page.locator(".swarm-title", has_text=alias))
    for node_id in (0, 1):
        card = node(panel, node_id)
        expect(card.locator(".turn")).to_have_count(2)
        expect(card.locator(".turn[data-state='completed']")).to_have_count(2)
        expect(card.locator(".answer")).to_have_text(["echo: hello", f"echo: {COMMAND_PROMPT}"])
        command = card.locator(".command")
        expect(command).to_have_count(1)
        expect(command.locator(".command-line")).to_contain_text("echo hi")  # as the runtime ran it, e.g. bash -lc
        expect(command.locator(".command-output")).to_have_text("hi")
        expect(command).to_have_attribute("data-exit-code", "0")
        expect(command.locator(".command-exit")).to_contain_text("exit 0")
        expect(card.locator(".usage")).to_have_count(2)
        expect(card.locator(".usage").last).to_contain_text("tokens (input")
        expect(card.locator(".reasoning")).to_have_count(2)


def test_launch_inject_watch_reload_terminate(page: Page, embedded: EmbeddedProcess) -> None:
    open_ui(page, embedded.web_url)
    panel = launch(page, "e2e-two-nodes", nodes=2)

    row = page.locator("#swarm-list tbody tr", has_text="e2e-two-nodes")
    expect(row.locator(".col-status")).to_have_text("running")
    expect(row.locator(".col-provider")).to_have_text("local")
    expect(row.locator(".col-node_count")).to_have_text("2")
    expect(panel.locator(".node")).to_have_count(2)

    inject(panel, "hello")
    inject(panel, COMMAND_PROMPT)
    expect_two_turns(page, "e2e-two-nodes")
    for node_id in (0, 1):
        card = node(panel, node_id)
        # the answers arrived as deltas and were settled by the completed item
        expect(card.locator(".answer[data-streamed='true'][data-final='true']")).to_have_count(2)
        expect(card.locator(".turn-prompt").last).to_have_text(COMMAND_PROMPT)

    # a reload rebuilds the same page from /v1/state, the durable transcript and the stream
    page.reload()
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect_two_turns(page, "e2e-two-nodes")

    panel.locator(".terminate").click()
    expect(panel.locator(".swarm-status")).to_have_text("terminated")
    expect(row.locator(".col-status")).to_have_text("terminated")
    expect(panel.locator(".inject-submit")).to_be_disabled()


def test_inject_into_chosen_nodes_only(page: Page, embedded: EmbeddedProcess) -> None:
    open_ui(page, embedded.web_url)
    panel = launch(page, "e2e-chosen", nodes=2)
    inject(panel, "only one", nodes=[1])
    expect(node(panel, 1).locator(".answer")).to_have_text(["echo: only one"])
    expect(node(panel, 1).locator(".turn[data-state='completed']")).to_have_count(1)
    expect(node(panel, 0).locator(".turn")).to_have_count(0)
    panel.locator(".terminate").click()
    expect(panel.locator(".swarm-status")).to_have_text("terminated")

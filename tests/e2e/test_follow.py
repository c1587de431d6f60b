"""The focused node follows the live end of its transcript until the user scrolls up; then it stays
put and offers a button back.  Long command output is folded to its last lines until asked."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.embedded_process import EmbeddedProcess
from tests.e2e.ui import inject, launch, open_node, open_ui, terminate

pytestmark = pytest.mark.e2e

AT_END = "(list) => list.scrollHeight - list.scrollTop - list.clientHeight <= 40"


def test_follow_pauses_when_scrolled_up(page: Page, embedded: EmbeddedProcess) -> None:
    page.set_viewport_size({"width": 1200, "height": 700})
    open_ui(page, embedded.web_url)
    view = launch(page, "e2e-follow", nodes=1)
    node = open_node(view, 0)
    inject(view, "count\n$ seq 1 300")
    command = node.locator(".command")
    expect(command).to_have_attribute("data-exit-code", "0")
    output = command.locator(".command-output")
    expect(output).to_have_text("…\n293\n294\n295\n296\n297\n298\n299\n300")  # the last 8 lines
    command.locator(".collapse-toggle").click()
    expect(output).to_contain_text("1\n2\n3\n")
    expect(command.locator(".collapse-toggle")).to_have_text("show fewer lines of the output")

    turns = node.locator(".turns")
    inject(view, "another turn")
    expect(node.locator(".turn[data-state='completed']")).to_have_count(2)
    assert turns.evaluate(AT_END) is True  # followed the new turn to the end

    turns.evaluate("(list) => { list.scrollTop = 0; }")
    jump = node.locator(".jump-live")
    expect(jump).to_be_visible()
    inject(view, "a third turn")
    expect(node.locator(".turn[data-state='completed']")).to_have_count(3)
    assert turns.evaluate("(list) => list.scrollTop") == 0  # the user's place is kept
    jump.click()
    assert turns.evaluate(AT_END) is True
    expect(jump).to_be_hidden()
    terminate(page, view)

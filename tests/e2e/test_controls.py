"""Approvals, interrupt and steer from the page, against the mock runtime: a prompt line that starts
with `$? ` asks for approval before it runs."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.embedded_process import EmbeddedProcess
from tests.e2e.ui import inject, launch, open_node, open_ui, swarm_row, terminate, tile

pytestmark = pytest.mark.e2e


def test_accept_an_approval_from_the_page(page: Page, embedded: EmbeddedProcess) -> None:
    open_ui(page, embedded.web_url)
    view = launch(page, "e2e-approve", nodes=2)
    inject(view, "needs a yes\n$? echo approved-run", targets="1")

    # the node waiting is marked in the matrix, the swarm header and the sidebar
    expect(tile(view, 1)).to_have_attribute("data-state", "approval")
    expect(tile(view, 0)).to_have_attribute("data-state", "idle")
    expect(view.locator(".waiting-notice")).to_have_text("1 node waiting on approval")
    expect(swarm_row(page, "e2e-approve").locator(".row-counts")).to_contain_text("1 waiting")

    view.locator(".waiting-notice").click()  # shows the nodes waiting only
    expect(view.locator(".tile:visible")).to_have_count(1)
    node = open_node(view, 1)
    card = node.locator(".approval")
    expect(card.locator(".approval-command")).to_have_text("$ echo approved-run")
    decisions = card.locator(".decision")
    expect(decisions.first).to_be_visible()
    accept = card.locator(".decision-accept")
    expect(accept).to_have_accessible_name("Accept: echo approved-run on node 1 of swarm " + view_label(page))
    accept.click()

    expect(card).to_have_attribute("data-resolved", "true")
    expect(node.locator(".command .command-output")).to_have_text("approved-run")
    expect(node.locator(".turn[data-state='completed']")).to_have_count(1)
    expect(tile(view, 1)).to_have_attribute("data-state", "idle")
    expect(view.locator(".waiting-notice")).to_be_hidden()
    terminate(page, view)


def view_label(page: Page) -> str:
    return page.locator("section.swarm .swarm-title").inner_text()


def test_interrupt_and_steer_a_running_turn(page: Page, embedded: EmbeddedProcess) -> None:
    open_ui(page, embedded.web_url)
    view = launch(page, "e2e-interrupt", nodes=1, runtime_params={"tokens": "400", "delay_ms": "100"})
    node = open_node(view, 0)
    inject(view, "a long answer")
    running = node.locator(".turn[data-state='running']")
    expect(running).to_have_count(1)
    expect(node.locator(".answer[data-streamed='true']")).to_have_count(1)

    node.locator(".steer-content").fill("and mention steering")
    node.locator(".steer").click()
    expect(node.locator(".steer-result")).to_have_text("steer sent")
    expect(node.locator(".turn-prompt", has_text="and mention steering")).to_have_count(1)
    expect(node.locator(".turn").last).to_have_attribute("data-state", "queued")  # behind the running turn

    interrupt = node.locator(".interrupt")
    expect(interrupt).to_have_accessible_name(f"interrupt the running turn of node 0 of swarm {view_label(page)}")
    interrupt.click()
    turns = node.locator(".turn")
    expect(turns.first).to_have_attribute("data-state", "interrupted")
    # the mock runtime cannot steer a running turn, so the steer waited and runs next; interrupt it too
    expect(turns.last).to_have_attribute("data-state", "running")
    interrupt.click()
    expect(turns.last).to_have_attribute("data-state", "interrupted")
    expect(interrupt).to_be_hidden()
    terminate(page, view)


def test_ctrl_enter_sends_and_text_typed_meanwhile_stays(page: Page, embedded: EmbeddedProcess) -> None:
    open_ui(page, embedded.web_url)
    view = launch(page, "e2e-typing", nodes=1)
    held: list[Route] = []
    page.route("**/v1/swarms/*/inject", lambda route: held.append(route))  # waits until the test lets it go
    content = view.locator(".inject-content")
    content.fill("first prompt")
    with page.expect_request("**/v1/swarms/*/inject"):
        content.press("Control+Enter")
    expect(view.locator(".inject-result")).to_have_text("sending…")
    content.fill("the next prompt, typed while the first is in flight")
    assert len(held) == 1
    held[0].continue_()
    expect(view.locator(".inject-result")).to_have_text("sent to 1 node")
    expect(content).to_have_value("the next prompt, typed while the first is in flight")
    page.unroute("**/v1/swarms/*/inject")
    content.press("Control+Enter")
    expect(view.locator(".inject-result")).to_have_text("sent to 1 node")
    expect(content).to_have_value("")  # unchanged since sending: cleared
    node = open_node(view, 0)
    expect(node.locator(".turn-prompt")).to_have_text(
        ["first prompt", "the next prompt, typed while the first is in flight"]
    )
    terminate(page, view)

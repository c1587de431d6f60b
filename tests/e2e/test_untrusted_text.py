"""Untrusted text never becomes page markup: an answer is rendered as markdown (sanitized), while HTML
in it, in a prompt or in an alias stays characters, and a javascript: link goes nowhere."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.embedded_process import EmbeddedProcess
from tests.e2e.ui import inject, launch, open_node, open_ui, swarm_row, terminate

pytestmark = pytest.mark.e2e

PAYLOAD = (
    '**bold** and `code` <img src=x onerror="window.__xss = 1"> <script>window.__xss = 2</script>\n\n'
    '[click](javascript:window.__xss=3) <b id="answer-markup">b</b>'
)


def test_markdown_renders_and_markup_stays_text(page: Page, embedded: EmbeddedProcess) -> None:
    open_ui(page, embedded.web_url)
    alias = 'e2e-xss <b id="alias-markup">bold</b>'
    view = launch(page, alias, nodes=1)
    node = open_node(view, 0)
    inject(view, PAYLOAD)

    expect(node.locator(".turn[data-state='completed']")).to_have_count(1)
    answer = node.locator(".answer")
    expect(answer).to_have_attribute("data-final", "true")
    expect(answer.locator("strong")).to_have_text("bold")  # markdown is rendered
    expect(answer.locator("code")).to_have_text("code")
    expect(answer).to_contain_text('<img src=x onerror="window.__xss = 1">')  # HTML shows as text
    expect(answer).to_contain_text("<script>window.__xss = 2</script>")
    link = answer.locator("a", has_text="click")
    assert (link.get_attribute("href") or "").startswith("javascript") is False
    link.click()
    expect(node.locator(".turn-prompt")).to_have_text(PAYLOAD)
    expect(view.locator(".swarm-title")).to_contain_text('<b id="alias-markup">bold</b>')
    expect(swarm_row(page, "e2e-xss").locator(".row-name")).to_contain_text("<b id=")

    for markup in ("img", "script:not([src])", "#alias-markup", "#answer-markup"):
        assert page.locator(markup).count() == 0, markup
    assert page.evaluate("window.__xss") is None

    terminate(page, view)

"""Event data is shown as text: markup in a prompt, an answer or an alias never becomes page markup."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.embedded_process import EmbeddedProcess
from tests.e2e.ui import inject, launch, node, open_ui

pytestmark = pytest.mark.e2e

PAYLOAD = '<img src=x onerror="window.__xss = 1">'


def test_markup_in_events_is_text(page: Page, embedded: EmbeddedProcess) -> None:
    open_ui(page, embedded.web_url)
    alias = 'e2e-xss <b id="alias-markup">bold</b>'
    panel = launch(page, alias, nodes=1)
    inject(panel, PAYLOAD)

    card = node(panel, 0)
    expect(card.locator(".turn[data-state='completed']")).to_have_count(1)
    expect(card.locator(".answer")).to_have_text(f"echo: {PAYLOAD}")
    expect(card.locator(".turn-prompt")).to_have_text(PAYLOAD)
    expect(panel.locator(".swarm-title")).to_contain_text('<b id="alias-markup">bold</b>')

    assert page.locator("img").count() == 0
    assert page.locator("#alias-markup").count() == 0
    assert page.evaluate("window.__xss") is None

    panel.locator(".terminate").click()
    expect(panel.locator(".swarm-status")).to_have_text("terminated")

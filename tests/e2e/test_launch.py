"""The launch flow: a ghost appears the moment a launch is sent and shows the router's progress; the
swarm starts with the system prompt and AGENTS.md from the form; a refused launch's ghost goes away
with the reason, naming the alias."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.embedded_process import EmbeddedProcess
from tests.e2e.ui import fill_launch, inject, open_node, open_ui, swarm_view, terminate

pytestmark = pytest.mark.e2e

SYSTEM_PROMPT = "You are a careful agent. " * 16  # 400 characters: 100 tokens to the mock runtime
AGENTS_MD = "# House rules\n\nAlways run the tests first.\n"

# Records what the swarm list showed while the launch went by (a ghost, progress texts).
WATCH_LIST = """() => {
  window.__seen = { ghosts: [], progress: [] };
  new MutationObserver(() => {
    for (const ghost of document.querySelectorAll("#swarm-list .ghost")) window.__seen.ghosts.push(ghost.textContent);
    for (const row of document.querySelectorAll("#swarm-list .row-progress")) {
      if (row.textContent) window.__seen.progress.push(row.textContent);
    }
  }).observe(document.getElementById("swarm-list"), { subtree: true, childList: true, characterData: true });
}"""


def test_launch_with_system_prompt_and_agents_md(page: Page, embedded: EmbeddedProcess, tmp_path: Path) -> None:
    open_ui(page, embedded.web_url)
    agents = tmp_path / "AGENTS.md"
    agents.write_text(AGENTS_MD)
    page.evaluate(WATCH_LIST)
    fill_launch(page, "e2e-launch", 3, system_prompt=SYSTEM_PROMPT, agents_md=agents)
    view = swarm_view(page, "e2e-launch")
    expect(view.locator(".swarm-status")).to_have_text("running")
    expect(page.locator("#swarm-list .ghost")).to_have_count(0)  # replaced by the swarm's own row
    seen = page.evaluate("window.__seen")
    assert any("e2e-launch" in text for text in seen["ghosts"]), seen
    assert any(text.startswith(("accepted", "starting")) for text in seen["progress"] + seen["ghosts"]), seen

    expect(view.locator(".tile[data-state='idle']")).to_have_count(3)
    node = open_node(view, 2)
    inject(view, "$ cat AGENTS.md", targets="2")
    expect(node.locator(".command-output")).to_have_text(AGENTS_MD.strip())
    # the mock counts 200 instruction tokens + the system prompt's 100 + the prompt's 4
    expect(node.locator(".usage")).to_contain_text("(input 304,")
    terminate(page, view)


def test_a_refused_launch_leaves_its_reason_not_a_ghost(page: Page, embedded: EmbeddedProcess) -> None:
    open_ui(page, embedded.web_url)
    page.evaluate(WATCH_LIST)
    fill_launch(page, "e2e-refused", 2, runtime_params={"tokens": "0"})
    banner = page.locator(".banner[data-key='launch']")
    expect(banner).to_contain_text('Launch of "e2e-refused" rejected')
    expect(banner).to_contain_text("tokens")
    expect(page.locator("#swarm-list .ghost")).to_have_count(0)
    assert any("e2e-refused" in text for text in page.evaluate("window.__seen")["ghosts"])
    expect(page.locator("#swarm-list .swarm-row", has_text="e2e-refused")).to_have_count(0)

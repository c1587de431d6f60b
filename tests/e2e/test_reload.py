"""A reload in the middle of a turn shows the whole answer so far, in order after the turns before it,
then the rest of it, exactly once."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.embedded_process import EmbeddedProcess
from tests.e2e.ui import inject, launch, open_node, open_ui, swarm_view, terminate

pytestmark = pytest.mark.e2e

# streamed as 80 deltas of ~1 character, 250 ms apart: about 20 s, so that a reload on a loaded machine
# still lands mid-turn (at 100 ms apart the turn could end before the reloaded page was up)
SECOND = "second " + "x" * 60

RELOADED_MID_TURN = """(second) => {
  const turns = [...document.querySelectorAll(".node-view .turn")];
  if (turns.length !== 2) return false;
  const answers = turns.map((turn) => ((turn.querySelector(".answer") || {}).textContent || "").trim());
  return turns[0].dataset.state === "completed" && answers[0] === "echo: first"
    && turns[1].dataset.state === "running" && answers[1].startsWith("echo: second x")
    && ("echo: " + second).startsWith(answers[1]);
}"""


def test_reload_mid_turn_keeps_the_answer_and_the_order(page: Page, embedded: EmbeddedProcess) -> None:
    open_ui(page, embedded.web_url)
    view = launch(page, "e2e-reload", nodes=2, runtime_params={"tokens": "80", "delay_ms": "250"})
    node = open_node(view, 0)
    inject(view, "first", targets="0")
    expect(node.locator(".turn[data-state='completed']")).to_have_count(1)
    inject(view, SECOND, targets="0")
    page.wait_for_function(
        "() => ((document.querySelectorAll('.node-view .turn')[1] || {}).textContent || '').includes('echo: second x')"
    )

    page.reload()
    page.wait_for_function(RELOADED_MID_TURN, arg=SECOND)  # the start of the answer is there, while it runs

    node = swarm_view(page, "e2e-reload").locator(".node-view[data-node-id='0']")
    expect(node.locator(".turn[data-state='completed']")).to_have_count(2)
    expect(node.locator(".answer")).to_have_text(["echo: first", f"echo: {SECOND}"])
    expect(node.locator(".turn-prompt")).to_have_text(["first", SECOND])
    terminate(page, view)

"""Streams that scale: the page's one EventSource carries deltas only for the node on screen
(GET /v1/events/focused) and everything else for every node; opening another node mid-turn shows its
answer from the start (the mirror's live view) and streams the rest."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.embedded_process import EmbeddedProcess
from tests.e2e.ui import inject, launch, open_node, open_ui, terminate

pytestmark = pytest.mark.e2e

LONG = "switch " + "w" * 50  # ~57 deltas 250 ms apart: the page opens another node well within one turn


def read_events(url: str, params: dict[str, str], until: int, timeout_s: float = 60) -> list[tuple[str, dict]]:
    """SSE events from the mirror until `until` turn_complete events arrived (or the deadline)."""
    events: list[tuple[str, dict]] = []
    deadline = time.monotonic() + timeout_s
    with httpx.stream("GET", url, params=params, timeout=httpx.Timeout(5, read=timeout_s)) as answer:
        answer.raise_for_status()
        name = ""
        for line in answer.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:") and name not in ("", "reset", "error"):
                events.append((name, json.loads(line[5:])["data"]))
                if sum(1 for event, _ in events if event == "turn_complete") >= until:
                    return events
            if time.monotonic() > deadline:
                break
    raise AssertionError(f"{until} turns did not complete in {timeout_s}s: {[e for e, _ in events]}")


def test_focused_stream_sends_deltas_of_the_focused_node_only(page: Page, embedded: EmbeddedProcess) -> None:
    open_ui(page, embedded.web_url)
    view = launch(page, "e2e-focus", nodes=2, runtime_params={"tokens": "60", "delay_ms": "250"})
    swarm_id = view.get_attribute("data-swarm-id") or ""
    state = httpx.get(f"{embedded.mirror_url}/v1/state").json()
    node = open_node(view, 0)
    inject(view, LONG)
    params = {"swarm_id": swarm_id, "node_id": "0", "last_event_id": state["last_event_id"]}
    events = read_events(f"{embedded.mirror_url}/v1/events/focused", params, until=2)
    deltas = {data["node_id"] for name, data in events if name == "assistant_delta"}
    answers = {data["node_id"] for name, data in events if name == "assistant"}
    assert deltas == {0}, deltas  # the other node's fragments were not sent ...
    assert answers == {0, 1}, answers  # ... but its completed answer was
    expect(node.locator(".turn[data-state='completed']")).to_have_count(1)

    # mid-turn, open the other node: its answer so far, then the rest
    inject(view, LONG)
    expect(node.locator(".turn[data-state='running'] .answer[data-streamed='true']")).to_have_count(1)
    other = open_node(view, 1)
    page.wait_for_function(
        """() => { const turn = document.querySelectorAll(".node-view .turn")[1];
                   const answer = turn && turn.querySelector(".answer");
                   return turn && turn.dataset.state === "running" && answer
                     && answer.textContent.startsWith("echo: switch"); }"""
    )
    expect(other.locator(".answer")).to_have_text([f"echo: {LONG}", f"echo: {LONG}"])
    expect(other.locator(".turn[data-state='completed']")).to_have_count(2)
    terminate(page, view)

"""The browser UI at scale, measured in one headless Chromium tab against `codeswarm up`: a swarm of
N mock nodes (default 256) each streaming 10 deltas/s.  Prints the figures issue 10 asks for:

- the time from navigation to a matrix of N tiles, all with their state;
- while every node streams: frame intervals (p50/p95/max), long tasks (count, longest), whether the
  mirror cut the page's stream off (the connection badge leaving "live");
- a reload of the swarm with history: the time to a complete page (every tile, the focused node's
  transcript).

Usage: .venv/bin/python scripts/ui_bench.py [--nodes 256] [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from tests.e2e.chromium import ensure_chromium
from tests.e2e.embedded_process import start_embedded

PROVIDERS = '[[providers]]\nid = "local"\nbackend = "local"\nlabel = "This machine"\nmax_nodes = 256\n'
MONITOR = """(seconds) => new Promise((resolve) => {
  const frames = [];
  const longTasks = [];
  const states = new Set([document.getElementById("connection").dataset.state]);
  new PerformanceObserver((list) => { for (const entry of list.getEntries()) longTasks.push(entry.duration); })
    .observe({ type: "longtask", buffered: false });
  new MutationObserver(() => states.add(document.getElementById("connection").dataset.state))
    .observe(document.getElementById("connection"), { attributes: true });
  let last = performance.now();
  const end = last + seconds * 1000;
  const tick = (now) => {
    frames.push(now - last);
    last = now;
    if (now < end) requestAnimationFrame(tick);
    else resolve({ frames, longTasks, states: [...states] });
  };
  requestAnimationFrame(tick);
})"""
RESOURCES = """() => performance.getEntriesByType("resource")
  .filter((entry) => entry.name.includes("/v1/") || entry.name.includes("/static/js/app.js"))
  .map((entry) => `${new URL(entry.name).pathname.split("/").slice(-2).join("/")} ${Math.round(entry.startTime)}`
    + `-${Math.round(entry.responseEnd)} ms`)"""
MATRIX_READY = """(count) => {
  const tiles = document.querySelectorAll(".tile[data-state]");
  return tiles.length === count && [...tiles].every((t) => t.dataset.state !== "starting") && performance.now();
}"""
PAGE_COMPLETE = """(count) => {
  const tiles = [...document.querySelectorAll(".tile")];
  const tokens = tiles.filter((t) => t.querySelector(".tile-tokens").textContent).length;
  const turns = document.querySelectorAll(".node-view .turn[data-state]").length;
  return tiles.length === count && tokens === count && turns >= 2 && performance.now();
}"""


def wait_until(check: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.5)  # polling a server from a benchmark, not a test


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="codeswarm-ui-bench-"))
    (home / "providers.toml").write_text(PROVIDERS)
    running = start_embedded(home, {"CODESWARM_PROVIDERS_FILE": str(home / "providers.toml")})
    figures: dict[str, object] = {"nodes": args.nodes}
    try:
        mirror = httpx.Client(base_url=running.mirror_url, timeout=120)
        body = {
            "nodes": args.nodes,
            "runtime": "mock",
            "alias": "ui-bench",
            "runtime_params": {"tokens": 300, "delay_ms": 100},  # 10 deltas/s per node, 30 s an answer
        }
        swarm_id = mirror.post("/v1/swarms", json=body).raise_for_status().json()["swarm_id"]

        def all_idle() -> bool:
            swarms = mirror.get("/v1/state").json()["swarms"]
            nodes: list[dict[str, Any]] = next((s["nodes"] for s in swarms if s["swarm_id"] == swarm_id), [])
            return len(nodes) == args.nodes and all(n["status"] == "idle" for n in nodes)

        wait_until(all_idle, "every node idle", 600)
        mirror.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": "warm up"}).raise_for_status()

        def warmed_up() -> bool:  # from the mirror's memory: the router is busy writing the transcript
            nodes = mirror.get(f"/v1/swarms/{swarm_id}/live").json()["nodes"]
            done = [n for n in nodes if n["turn"] and n["turn"].get("completed_at")]
            return len(done) == args.nodes and all_idle()

        wait_until(warmed_up, "the warm-up turn (a short answer: history for the reload)", 600)
        with sync_playwright() as playwright:
            sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []
            browser = playwright.chromium.launch(executable_path=str(ensure_chromium()), headless=True, args=sandbox)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{running.web_url}/#/swarm/{swarm_id}/node/0", timeout=120_000)
            ready = page.wait_for_function(MATRIX_READY, arg=args.nodes, timeout=60_000)
            figures["matrix_visible_ms"] = round(ready.json_value())
            figures["requests_at_load"] = page.evaluate(RESOURCES)
            stream = {"nodes": "all", "content": "stream " + "y" * 400}
            mirror.post(f"/v1/swarms/{swarm_id}/inject", json=stream).raise_for_status()
            page.wait_for_function("() => document.querySelector('.tile[data-state=busy]') !== null", timeout=60_000)
            measured = page.evaluate(MONITOR, args.seconds)
            frames = measured["frames"][1:]
            figures |= {
                "frames": len(frames),
                "frame_p50_ms": round(statistics.median(frames), 1),
                "frame_p95_ms": round(percentile(frames, 0.95), 1),
                "frame_max_ms": round(max(frames), 1),
                "long_tasks": len(measured["longTasks"]),
                "longest_task_ms": round(max(measured["longTasks"], default=0), 1),
                "connection_states": measured["states"],
                "busy_tiles_at_end": page.locator(".tile[data-state=busy]").count(),
            }
            print(json.dumps(figures), flush=True)  # what is measured so far, in case the reload does not finish
            page.reload()
            try:
                complete = page.wait_for_function(PAGE_COMPLETE, arg=args.nodes, timeout=60_000)
                figures["reload_complete_ms"] = round(complete.json_value())
            except PlaywrightTimeout:
                figures["reload_complete_ms"] = "not complete within 60 s"
            figures["requests_at_reload"] = page.evaluate(RESOURCES)
            browser.close()
        mirror.post(f"/v1/swarms/{swarm_id}/terminate", json={}).raise_for_status()
    finally:
        running.stop()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

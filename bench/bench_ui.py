"""The browser UI at 256 nodes, in one headless Chromium tab against `codeswarm up` (embedded mode).

    .venv/bin/python bench/bench_ui.py [--nodes 256] [--deltas-per-s 10] [--seconds 20] [--stack-nice 0]
                                       [--json out.json]

A mock swarm of ``--nodes`` nodes streams answers at ``--deltas-per-s`` deltas per second per node for
about ``--seconds`` (one turn first, for history).  Figures (issue 10's targets in brackets):

- ``matrix_ms``: navigation start → every tile of the swarm in the page [≤ 1000];
- ``frame_p95_ms`` / ``frame_max_ms``: intervals between animation frames while every node streams
  [p95 ≤ 33]; ``long_tasks_over_100ms`` and ``long_task_max_ms`` from the Long Tasks API [0];
- ``cut_offs``: streams the mirror cut off while the page watched, from its metrics, and how often the
  page's connection left "live" [0];
- ``reload_ms``: navigation start of a reload after the turns → every tile idle with its token count
  shown [≤ 1500];
- ``page_busy_share``: the page's main-thread task time (Chromium's ``TaskDuration``) over the wall time
  while every node streams (on a loaded machine a task's time includes waiting for a core);
- ``browser_cores`` / ``stack_cores``: CPU time (user + system) over wall time while every node
  streams, of Chromium's processes and of `codeswarm up` with the node programs.

The nodes share the machine's cores with the services and the browser: on a small machine the frame
figures measure all of that together.  `codeswarm up` runs in a session of its own, as when a user
starts it from a terminal, and each node program leads a session of its own at the lowest priority
(CODESWARM_LOCAL_NODE_NICE, default 19, which the node also gives its session under Linux's autogroup
scheduler), so the renderer and the services get the cores before 256 busy nodes do; run with
CODESWARM_LOCAL_NODE_NICE=0 in the environment to measure without it.  ``--stack-nice N`` lowers the
priority of `codeswarm up`'s own session (and of its threads) to N.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import CDPSession, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e.chromium import ensure_chromium  # noqa: E402
from tests.e2e.embedded_process import EmbeddedProcess, start_embedded  # noqa: E402
from tests.support.provider_files import write_local_providers  # noqa: E402

START_TIMEOUT_MS = 600_000
TURN_TIMEOUT_MS = 600_000

# Installed before the page's own scripts: frame intervals, long tasks and the connection's states.
RECORDER = """
window.__bench = {frames: [], longTasks: [], connection: [], recording: false};
(() => {
  let last = 0;
  const tick = (now) => {
    if (window.__bench.recording && last) window.__bench.frames.push(now - last);
    last = now;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  new PerformanceObserver((list) => {
    if (!window.__bench.recording) return;
    for (const entry of list.getEntries()) window.__bench.longTasks.push(entry.duration);
  }).observe({type: "longtask", buffered: false});
  document.addEventListener("DOMContentLoaded", () => {
    const connection = document.getElementById("connection");
    if (!connection) return;
    new MutationObserver(() => window.__bench.recording && window.__bench.connection.push(connection.dataset.state))
      .observe(connection, {attributes: true, attributeFilter: ["data-state"]});
  });
})();
"""
ALL_TILES = "(n) => document.querySelectorAll('section.swarm .tile').length === n"
ALL_IDLE_WITH_TOKENS = """(n) => {
  const tiles = document.querySelectorAll("section.swarm .tile[data-state='idle']");
  return tiles.length === n && [...tiles].every((tile) => tile.querySelector('.tile-tokens').textContent.trim());
}"""
COUNT_STATE = "(state) => document.querySelectorAll(`section.swarm .tile[data-state='${state}']`).length"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def cut_offs(mirror_url: str) -> float:
    """The mirror's count of streams it cut off (the ``*clients_cut*`` counter of its metrics)."""
    text = httpx.get(f"{mirror_url}/metrics", timeout=30).text
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if not line.startswith("#") and re.match(r"\w*clients_cut\w*(\{|\s)", line)
    )


def launch(mirror_url: str, nodes: int, tokens: int, delay_ms: float) -> str:
    body = {
        "nodes": nodes,
        "runtime": "mock",
        "alias": "bench-ui",
        "runtime_params": {"tokens": tokens, "delay_ms": delay_ms},
    }
    response = httpx.post(f"{mirror_url}/v1/swarms", json=body, timeout=60)
    response.raise_for_status()
    return str(response.json()["swarm_id"])


def inject_all(mirror_url: str, swarm_id: str, content: str) -> None:
    response = httpx.post(f"{mirror_url}/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": content})
    response.raise_for_status()


def renice(pid: int, niceness: int) -> None:
    """Every thread of ``pid`` at ``niceness``, and its autogroup (its session's share of the cores)
    where the kernel has one; the processes it starts later inherit it."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.setpriority(os.PRIO_PROCESS, int(task.name), niceness)
    autogroup = Path(f"/proc/{pid}/autogroup")
    if autogroup.exists():
        autogroup.write_text(str(niceness))


def cpu_seconds_by_tree(stack_pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) so far of this process's descendants: (the browser's, the stack's),
    the stack being ``stack_pid`` and what it started."""
    parents: dict[int, int] = {}
    seconds: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        parents[int(entry.name)] = int(fields[1])
        seconds[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    browser = stack = 0.0
    for pid, spent in seconds.items():
        ancestor, under_stack = pid, False
        while ancestor not in (0, 1, os.getpid()):
            under_stack = under_stack or ancestor == stack_pid
            ancestor = parents.get(ancestor, 0)
        if ancestor == os.getpid():
            if under_stack:
                stack += spent
            else:
                browser += spent
    return browser, stack


def task_seconds(cdp: CDPSession) -> float:
    """The page's main-thread task time so far (Chromium's Performance domain)."""
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return float(next(metric["value"] for metric in metrics if metric["name"] == "TaskDuration"))


def since_navigation(page: Page) -> float:
    return float(page.evaluate("performance.now()"))


def wait_turn(page: Page, nodes: int) -> None:
    """Until every node has started the turn and ended it again."""
    page.wait_for_function(f"() => ({COUNT_STATE})('idle') < {nodes}", timeout=TURN_TIMEOUT_MS)
    page.wait_for_function(ALL_IDLE_WITH_TOKENS, arg=nodes, timeout=TURN_TIMEOUT_MS)


def measure(stack: EmbeddedProcess, page: Page, nodes: int, deltas_per_s: float, seconds: float) -> dict[str, Any]:
    delay_ms = 1000 / deltas_per_s
    tokens = max(1, round(seconds * deltas_per_s))
    swarm_id = launch(stack.mirror_url, nodes, tokens, delay_ms)
    view = f"{stack.web_url}/#/swarm/{swarm_id}"
    page.goto(view)
    page.wait_for_function(f"() => ({COUNT_STATE})('idle') === {nodes}", timeout=START_TIMEOUT_MS)
    inject_all(stack.mirror_url, swarm_id, "history")  # one turn first, so the reload has history
    wait_turn(page, nodes)

    page.goto("about:blank")
    page.goto(view)
    page.wait_for_function(ALL_TILES, arg=nodes, timeout=60_000)
    matrix_ms = since_navigation(page)

    page.wait_for_function(ALL_IDLE_WITH_TOKENS, arg=nodes, timeout=60_000)
    cut_before = cut_offs(stack.mirror_url)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    busy_before = task_seconds(cdp)
    cpu_before = cpu_seconds_by_tree(stack.process.pid)
    page.evaluate("window.__bench.recording = true")
    started = time.monotonic()
    inject_all(stack.mirror_url, swarm_id, "stream")
    wait_turn(page, nodes)
    streamed_s = time.monotonic() - started
    page.evaluate("window.__bench.recording = false")
    busy_share = (task_seconds(cdp) - busy_before) / streamed_s
    browser_after, stack_after = cpu_seconds_by_tree(stack.process.pid)
    browser_cpu, stack_cpu = browser_after - cpu_before[0], stack_after - cpu_before[1]
    recorded = page.evaluate("window.__bench")
    cut_after = cut_offs(stack.mirror_url)

    page.reload()
    page.wait_for_function(ALL_IDLE_WITH_TOKENS, arg=nodes, timeout=60_000)
    reload_ms = since_navigation(page)

    frames: list[float] = recorded["frames"]
    long_tasks: list[float] = recorded["longTasks"]
    return {
        "nodes": nodes,
        "deltas_per_s_per_node": deltas_per_s,
        "turn_s": round(streamed_s, 1),
        "matrix_ms": round(matrix_ms),
        "frames": len(frames),
        "frame_p50_ms": round(statistics.median(frames), 1) if frames else None,
        "frame_p95_ms": round(percentile(frames, 0.95), 1),
        "frame_max_ms": round(max(frames, default=0), 1),
        "long_tasks": len(long_tasks),
        "long_tasks_over_100ms": sum(duration > 100 for duration in long_tasks),
        "long_task_max_ms": round(max(long_tasks, default=0)),
        "cut_offs": cut_after - cut_before,
        "connection_left_live": sum(state != "live" for state in recorded["connection"]),
        "reload_ms": round(reload_ms),
        "page_busy_share": round(busy_share, 3),
        "browser_cores": round(browser_cpu / streamed_s, 3),
        "stack_cores": round(stack_cpu / streamed_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=256)
    parser.add_argument("--deltas-per-s", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--stack-nice", type=int, default=0, help="niceness of the services and the nodes")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        home = Path(tmp)
        providers = write_local_providers(home, max_nodes=max(args.nodes, 1), label="This machine")
        stack = start_embedded(home, {"CODESWARM_PROVIDERS_FILE": str(providers)}, own_session=True)
        try:
            if args.stack_nice:
                renice(stack.process.pid, args.stack_nice)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(ensure_chromium()), args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.add_init_script(RECORDER)
                figures = measure(stack, page, args.nodes, args.deltas_per_s, args.seconds)
                browser.close()
        finally:
            stack.stop()
    figures["stack_nice"] = args.stack_nice
    for name, value in figures.items():
        print(f"{name:>24}  {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

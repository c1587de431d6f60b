"""The client commands: launch (with progress while nodes start), list, inject, terminate, providers."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import quote

from codeswarm.cli.http import ApiClient, CliError

READY_NODE_STATUSES = frozenset({"idle", "busy"})
FAILED_SWARM_STATUSES = frozenset({"terminating", "terminated", "failed", "rejected", "removed"})
POLL_INTERVAL_S = 0.2


# -- argument values ---------------------------------------------------------------------------------


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` → (key, value); the value is JSON when it parses as JSON (``8``, ``true``, ``[1]``),
    otherwise the text as given."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"expected key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def parse_nodes(text: str) -> str | int | list[int]:
    """``all`` | ``N`` | ``N,M,...`` → the inject body's ``nodes`` value."""
    text = text.strip()
    if text.lower() == "all":
        return "all"
    parts = [p.strip() for p in text.split(",")]
    if not parts or any(not p.isdigit() for p in parts):
        raise ValueError(f"expected 'all', a node index or a comma-separated list of indexes, got {text!r}")
    indexes = [int(p) for p in parts]
    return indexes[0] if len(indexes) == 1 else indexes


# -- launch ------------------------------------------------------------------------------------------


@dataclass
class LaunchOptions:
    nodes: int
    provider: str | None = None
    runtime: str | None = None
    alias: str | None = None
    system_prompt: str | None = None
    provider_params: dict[str, Any] = field(default_factory=dict)
    runtime_params: dict[str, Any] = field(default_factory=dict)
    wait: bool = True
    timeout_s: float = 60.0
    quiet: bool = False

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"nodes": self.nodes}
        for key in ("provider", "runtime", "alias", "system_prompt"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        if self.provider_params:
            body["provider_params"] = self.provider_params
        if self.runtime_params:
            body["runtime_params"] = self.runtime_params
        return body


def ready_count(swarm: dict[str, Any]) -> int:
    return sum(1 for node in swarm.get("nodes") or [] if node.get("status") in READY_NODE_STATUSES)


def is_ready(swarm: dict[str, Any]) -> bool:
    return swarm.get("status") == "running" and ready_count(swarm) >= int(swarm.get("node_count") or 0)


class Progress:
    """``2/4 nodes ready…`` on stderr: rewritten in place on a terminal, one line per change otherwise."""

    def __init__(self, err: TextIO, enabled: bool) -> None:
        self.err = err
        self.enabled = enabled
        self.tty = enabled and err.isatty()
        self._last = ""

    def show(self, text: str) -> None:
        if not self.enabled or text == self._last:
            return
        self._last = text
        if self.tty:
            self.err.write(f"\r\033[K{text}")
        else:
            self.err.write(text + "\n")
        self.err.flush()

    def done(self) -> None:
        if self.tty and self._last:
            self.err.write("\n")
            self.err.flush()


def _state_text(swarm: dict[str, Any]) -> str:
    total = int(swarm.get("node_count") or 0)
    text = f"{swarm.get('swarm_id')}: {swarm.get('status')}, {ready_count(swarm)}/{total} nodes ready"
    return text + ("" if is_ready(swarm) else "…")


def wait_until_ready(
    client: ApiClient,
    swarm_id: str,
    timeout_s: float,
    progress: Progress,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll the swarm until it runs with every node ready; CliError when it fails or the deadline passes."""
    deadline = clock() + timeout_s
    while True:
        try:
            swarm = client.get(f"/v1/swarms/{swarm_id}")
        except CliError as exc:
            if exc.status == 404:
                raise CliError(
                    f"launch of {swarm_id} was rejected: the router no longer lists it "
                    f"(`codeswarm watch {swarm_id} --from 0-0` shows the command_rejected reason)"
                ) from None
            raise
        progress.show(_state_text(swarm))
        if is_ready(swarm):
            return dict(swarm)
        status = swarm.get("status")
        reason = swarm.get("reason")
        if status == "rejected":
            raise CliError(f"launch of {swarm_id} was rejected: {reason or 'no reason given'}")
        if status in FAILED_SWARM_STATUSES:
            raise CliError(
                f"swarm {swarm_id} is {status} before all nodes were ready" + (f": {reason}" if reason else "")
            )
        if clock() >= deadline:
            raise CliError(
                f"timed out after {timeout_s:g} s waiting for {_state_text(swarm)} "
                f"(it is still launching: `codeswarm list` to look again, `codeswarm terminate {swarm_id}` to stop it)"
            )
        sleep(POLL_INTERVAL_S)


def launch(client: ApiClient, options: LaunchOptions, out: TextIO, err: TextIO) -> None:
    # The Idempotency-Key makes retrying the POST after a dropped connection safe: one swarm, not two.
    headers = {"Idempotency-Key": f"cli-{uuid.uuid4().hex}"}
    accepted = client.post("/v1/swarms", options.body(), headers=headers, retries=2)
    swarm_id = str(accepted["swarm_id"])
    progress = Progress(err, enabled=not options.quiet)
    progress.show(f"{swarm_id}: launching {options.nodes} node{'s' if options.nodes != 1 else ''}…")
    if not options.wait:
        progress.done()
        out.write(swarm_id + "\n" if options.quiet else f"{swarm_id} launching (request {accepted['request_id']})\n")
        return
    try:
        swarm = wait_until_ready(client, swarm_id, options.timeout_s, progress)
    finally:
        progress.done()
    if options.quiet:
        out.write(swarm_id + "\n")
    else:
        out.write(
            f"{swarm_id} running: {swarm['node_count']} nodes ready "
            f"(job {swarm.get('job_id')}, {swarm.get('provider')}/{swarm.get('runtime')})\n"
        )


# -- tables ------------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells]
    return "\n".join(lines) + "\n"


def list_swarms(client: ApiClient, out: TextIO, as_json: bool) -> None:
    answer = client.get("/v1/swarms")
    swarms = answer.get("swarms") or []
    if as_json:
        out.write(json.dumps(answer, indent=2) + "\n")
        return
    if not swarms:
        out.write("no swarms (launch one: codeswarm launch --nodes 4)\n")
        return
    rows = []
    for s in swarms:
        status = s.get("status")
        if s.get("health") and s.get("health") != "ok":
            status = f"{status} ({s['health']})"
        rows.append(
            [
                s.get("swarm_id"),
                s.get("alias") or "-",
                status,
                f"{ready_count(s)}/{s.get('node_count')}",
                s.get("provider"),
                s.get("runtime"),
                s.get("job_id") or "-",
                s.get("created_at"),
                s.get("reason") or "",
            ]
        )
    out.write(table(["SWARM", "ALIAS", "STATUS", "READY", "PROVIDER", "RUNTIME", "JOB", "CREATED", "REASON"], rows))


def providers(client: ApiClient, out: TextIO, as_json: bool) -> None:
    answer = client.get("/v1/providers")
    if as_json:
        out.write(json.dumps(answer, indent=2) + "\n")
        return
    for index, p in enumerate(answer.get("providers") or []):
        if index:
            out.write("\n")
        runtimes = ", ".join(p.get("runtimes") or [])
        out.write(f"{p.get('id')}  {p.get('label')}  (backend {p.get('backend')}, up to {p.get('max_nodes')} nodes)\n")
        out.write(f"  runtimes: {runtimes or '-'}\n")
        fields = p.get("launch_fields") or []
        if fields:
            out.write("  launch fields (codeswarm launch --param KEY=VALUE):\n")
            out.write(_fields_table(fields))
        else:
            out.write("  launch fields: none\n")
        for runtime, runtime_fields in (p.get("runtime_fields") or {}).items():
            if runtime_fields:
                out.write(f"  {runtime} fields (codeswarm launch --runtime {runtime} --runtime-param KEY=VALUE):\n")
                out.write(_fields_table(runtime_fields))


def _fields_table(fields: Sequence[dict[str, Any]]) -> str:
    rows = []
    for f in fields:
        kind = str(f.get("type"))
        if f.get("options"):
            kind += ": " + "|".join(str(o) for o in f["options"])
        default = f.get("default")
        rows.append(
            [
                f"    {f.get('key')}",
                kind,
                "required"
                if f.get("required")
                else ("no default" if default is None else f"default {json.dumps(default)}"),
                f.get("label") or "",
            ]
        )
    return table(["    KEY", "TYPE", "DEFAULT", "LABEL"], rows)


# -- inject and terminate ------------------------------------------------------------------------------


def inject(
    client: ApiClient, swarm_id: str, nodes: str | int | list[int], content: str, steer: bool, out: TextIO
) -> None:
    if content == "-":
        content = sys.stdin.read()
    body = {"nodes": nodes, "content": content, "mode": "steer" if steer else "queue"}
    answer = client.post(f"/v1/swarms/{swarm_id}/inject", body)
    refs = answer.get("injections") or []
    targets = ", ".join(f"n{r.get('node_id')} {r.get('injection_id')}" for r in refs)
    out.write(f"injected into {swarm_id} ({'steer' if steer else 'queued'}): {targets}\n")


def terminate(client: ApiClient, swarm_id: str, download_workspaces: bool, out: TextIO) -> None:
    answer = client.post(f"/v1/swarms/{swarm_id}/terminate", {"download_workspaces": download_workspaces})
    out.write(f"{swarm_id} {answer.get('status')} (request {answer.get('request_id')})\n")
    if download_workspaces:
        out.write(
            f"the workspace archive will be at {client.base_url}/v1/swarms/{swarm_id}/archive "
            "once workspace_archive_ready is announced (codeswarm watch)\n"
        )


# -- interrupt and approvals ---------------------------------------------------------------------------


def interrupt(client: ApiClient, swarm_id: str, nodes: str | int | list[int], out: TextIO) -> None:
    answer = client.post(f"/v1/swarms/{swarm_id}/interrupt", {"nodes": nodes})
    targets = ", ".join(f"n{n}" for n in answer.get("nodes") or [])
    out.write(f"interrupt sent to {swarm_id}: {targets} (request {answer.get('request_id')})\n")


def approvals(client: ApiClient, swarm_id: str, out: TextIO, as_json: bool) -> None:
    answer = client.get(f"/v1/swarms/{swarm_id}/approvals")
    if as_json:
        out.write(json.dumps(answer, indent=2) + "\n")
        return
    rows = [
        [
            f"n{a.get('node_id')}",
            a.get("call_id"),
            a.get("kind"),
            "/".join(a.get("available_decisions") or []),
            a.get("command") or a.get("reason") or "",
        ]
        for a in answer.get("approvals") or []
    ]
    if not rows:
        out.write(f"no approval is waiting in {swarm_id}\n")
        return
    out.write(table(["NODE", "CALL", "KIND", "DECISIONS", "COMMAND"], rows))


def approve(client: ApiClient, swarm_id: str, node_id: int, call_id: str, decision: str, out: TextIO) -> None:
    path = f"/v1/swarms/{swarm_id}/approvals/{quote(call_id, safe='')}"
    answer = client.post(path, {"node_id": node_id, "decision": decision})
    out.write(f"{decision} sent for {call_id} on n{node_id} of {swarm_id} (request {answer.get('request_id')})\n")

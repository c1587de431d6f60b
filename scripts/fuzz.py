#!/usr/bin/env python3
"""`make fuzz`: a bounded schemathesis pass over the router's and the mirror's OpenAPI descriptions,
against the real services (router on Postgres and Redis, the local provider with mock agents of one
nodes at most, the mirror in front of it), with a token.  Prints, per service, the operations and cases
tested, the failures per check, and how many answers were 5xx; exits 1 when any answer was a 5xx.

The SSE streams are left out (an answer that never ends is no case to check), and so is nothing else.
Bounds: FUZZ_MAX_EXAMPLES cases per operation and phase (default 25), FUZZ_SEED (default 1); the
schemathesis event logs go to FUZZ_REPORT_DIR (default .codeswarm/fuzz/).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.support import servers  # noqa: E402
from tests.support.mirror_process import MirrorProcess  # noqa: E402
from tests.support.provider_files import write_local_providers  # noqa: E402
from tests.support.router_process import RouterProcess  # noqa: E402

STREAMS = r"^/v1/events(/focused)?$"


def schemathesis(base_url: str, token: str, report: Path) -> int:
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--exclude-path-regex",
        STREAMS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        os.environ.get("FUZZ_MAX_EXAMPLES", "25"),
        "--seed",
        os.environ.get("FUZZ_SEED", "1"),
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--continue-on-failure",
        "--report-ndjson-path",
        str(report),
        "--output-truncate",
        "true",
    ]
    return subprocess.run(command, check=False, timeout=3600).returncode


def figures(report: Path) -> dict[str, Any]:
    """Operations, cases, failures by check and 5xx answers, from schemathesis' NDJSON event log."""
    operations: set[str] = set()
    cases = 0
    failed: Counter[str] = Counter()
    server_errors: Counter[str] = Counter()
    for line in report.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished or not finished.get("recorder"):
            continue
        recorder = finished["recorder"]
        label = recorder.get("label", "?")
        operations.add(label)
        cases += len(recorder.get("cases", {}))
        for interaction in (recorder.get("interactions") or {}).values():
            response = interaction.get("response") or {}
            if int(response.get("status_code") or 0) >= 500:
                server_errors[f"{label} {response['status_code']}"] += 1
        for checks in (recorder.get("checks") or {}).values():
            for check in checks:
                if str(check.get("status")).lower() == "failure":
                    failed[check.get("name", "?")] += 1
    return {
        "operations": len(operations),
        "cases": cases,
        "failed_checks": dict(failed),
        "5xx": dict(server_errors),
    }


def main() -> int:
    token = secrets.token_urlsafe(32)
    redis_url, prefix = servers.ensure_redis(), servers.unique_prefix()
    database_url, drop_database = servers.create_database(servers.ensure_postgres())
    reports = Path(os.environ.get("FUZZ_REPORT_DIR", ROOT / ".codeswarm" / "fuzz"))
    reports.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="codeswarm-fuzz-") as scratch:
        home = Path(scratch)
        (home / "router").mkdir()
        providers = write_local_providers(home, max_nodes=2, runtimes=["mock"])
        env = {"CODESWARM_API_TOKEN": token, "CODESWARM_PROVIDERS_FILE": str(providers)}
        router = RouterProcess(home / "router", database_url, redis_url, prefix, extra_env=env)
        mirror = MirrorProcess(home / "mirror", redis_url, prefix, router.url, extra_env={"CODESWARM_API_TOKEN": token})
        results: dict[str, Any] = {}
        try:
            router.start()
            mirror.start()
            for name, url in (("router", router.url), ("mirror", mirror.url)):
                print(f"== schemathesis: {name} ({url})", flush=True)
                schemathesis(url, token, reports / f"{name}.ndjson")
                results[name] = figures(reports / f"{name}.ndjson")
            launched = httpx.get(f"{router.url}/v1/swarms", headers={"Authorization": f"Bearer {token}"}, timeout=10)
            results["swarms_left_by_the_fuzz"] = len(launched.json()["swarms"])
        except Exception:
            print(f"router log:\n{router.log_tail()}\nmirror log:\n{mirror.log_tail()}", file=sys.stderr)
            raise
        finally:
            mirror.stop()
            router.stop()
            router.stop_nodes()
            drop_database()
            servers.delete_prefix(redis_url, prefix)
            for service in ("router", "mirror"):
                log = home / service / f"{service}.log"
                tracebacks = log.read_text(errors="replace").count("Traceback") if log.exists() else 0
                results.setdefault(service, {})["tracebacks_in_log"] = tracebacks
    print(json.dumps(results, indent=2))
    return 1 if any(results[s].get("5xx") for s in ("router", "mirror")) else 0


if __name__ == "__main__":
    sys.exit(main())

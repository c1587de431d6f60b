"""The codex app-server transcripts in tests/fixtures/codex, as outbox records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CODEX_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "codex"


def codex_out_messages(name: str) -> list[dict[str, Any]]:
    """What codex wrote to stdout in one 0.169.0 scenario, in wire order."""
    lines = (CODEX_FIXTURES / name).read_text().splitlines()
    return [entry["msg"] for entry in map(json.loads, lines) if entry["dir"] == "out"]


def as_records(messages: list[dict[str, Any]], injection_id: str = "in-1") -> list[dict[str, Any]]:
    return [
        {
            "seq": i,
            "ts": 1.0 + i,
            "job_id": "j",
            "node_id": 0,
            "injection_id": injection_id,
            "kind": "runtime",
            "payload": m,
        }
        for i, m in enumerate(messages, start=1)
    ]


def scenario_files() -> list[str]:
    return sorted(p.name for p in CODEX_FIXTURES.glob("*.jsonl"))

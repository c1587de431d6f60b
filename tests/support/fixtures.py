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
    """Every transcript: the 0.169.0 ones, then the 0.72.0 ones (as ``legacy-0.72.0/<name>``)."""
    current = sorted(p.name for p in CODEX_FIXTURES.glob("*.jsonl"))
    return current + sorted(f"legacy-0.72.0/{p.name}" for p in (CODEX_FIXTURES / "legacy-0.72.0").glob("*.jsonl"))


def schema_methods(union: str) -> list[str]:
    """The methods of one union (ServerNotification, ServerRequest, ...) of the 0.169.0 protocol schema."""
    schema = json.loads((CODEX_FIXTURES / "schema" / "codex_app_server_protocol.schemas.json").read_text())
    return [variant["properties"]["method"]["enum"][0] for variant in schema["definitions"][union]["oneOf"]]

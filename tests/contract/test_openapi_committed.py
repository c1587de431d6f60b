"""The API descriptions are a contract: the committed copies (docs/openapi/*.json, docs/events.schema.json)
must equal what the code describes, so every change to the API is a visible diff in review."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _export_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("export_openapi", ROOT / "scripts" / "export_openapi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_descriptions_equal_the_live_ones() -> None:
    stale = []
    for path, text in _export_script().documents().items():
        committed = ROOT / path
        if not committed.is_file() or committed.read_text() != text:
            stale.append(str(path))
    assert not stale, f"{', '.join(stale)} differ from what the code describes: run `make openapi` and commit them"


def test_the_committed_descriptions_are_json_that_names_every_route() -> None:
    router = json.loads((ROOT / "docs/openapi/router.json").read_text())
    mirror = json.loads((ROOT / "docs/openapi/mirror.json").read_text())
    assert {"/v1/swarms", "/v1/swarms/{swarm_id}/inject", "/v1/providers"} <= set(router["paths"])
    assert {"/v1/events", "/v1/events/schema", "/v1/state", "/v1/swarms"} <= set(mirror["paths"])

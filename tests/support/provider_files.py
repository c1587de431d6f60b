"""Providers files for the tools and tests that run Codeswarm's services against one local provider."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path


def write_local_providers(home: Path, max_nodes: int, runtimes: Sequence[str] = (), label: str = "") -> Path:
    """A providers file under ``home`` with one local provider (id "local"); its path, for
    CODESWARM_PROVIDERS_FILE.  No runtimes and no label: the provider's defaults."""
    lines = ["[[providers]]", 'id = "local"', 'backend = "local"']
    if label:
        lines.append(f"label = {json.dumps(label)}")
    lines.append(f"max_nodes = {max_nodes}")
    if runtimes:
        lines.append(f"runtimes = {json.dumps(list(runtimes))}")
    path = home / "providers.toml"
    path.write_text("\n".join(lines) + "\n")
    return path

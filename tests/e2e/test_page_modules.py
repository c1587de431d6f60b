"""The page preloads every module it imports (one round of requests instead of one per import depth),
and nothing it does not have."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"


def test_index_preloads_every_module() -> None:
    index = (STATIC / "index.html").read_text()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/static/([^"]+)">', index))
    modules = {str(path.relative_to(STATIC)) for path in [*STATIC.glob("js/*.js"), *STATIC.glob("vendor/*.js")]}
    assert preloaded == modules - {"js/main.js"}

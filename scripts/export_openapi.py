#!/usr/bin/env python3
"""Write the committed API descriptions: docs/openapi/router.json, docs/openapi/mirror.json, the event
catalogue docs/events.schema.json and the same catalogue as OpenAPI components, docs/openapi/events.json
(`make openapi`).

The documents come from the apps themselves (no server is started), built with default settings and
no CODESWARM_* variable read, so the output is the same on every machine.  tests/contract checks that
the committed files equal what this writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mirror.app import create_app as create_mirror  # noqa: E402
from router.app import create_app as create_router  # noqa: E402
from services.protocol.catalogue import catalogue_schema  # noqa: E402
from services.settings import Settings  # noqa: E402

# a prefix no variable has: the defaults, whatever the environment holds
_NO_ENV = "CODESWARM_EXPORT_IGNORES_THE_ENVIRONMENT_"


def _text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def events_as_openapi(catalogue: dict[str, Any]) -> dict[str, Any]:
    """The event catalogue as an OpenAPI document with no paths, for OpenAPI client generators: every
    definition a component schema, and ``Envelope`` the union of all events."""
    text = json.dumps(catalogue["$defs"]).replace('"#/$defs/', '"#/components/schemas/')
    schemas = json.loads(text)
    envelope = {key: catalogue[key] for key in ("oneOf", "discriminator")}
    schemas["Envelope"] = json.loads(json.dumps(envelope).replace('"#/$defs/', '"#/components/schemas/'))
    return {
        "openapi": "3.1.0",
        "info": {"title": catalogue["title"], "version": "1", "description": catalogue["description"]},
        "paths": {},
        "components": {"schemas": schemas},
    }


def documents() -> dict[Path, str]:
    """Each committed file (relative to the repository) and the text it must hold."""
    settings = Settings(_env_prefix=_NO_ENV)
    catalogue = catalogue_schema()
    return {
        Path("docs/openapi/router.json"): _text(create_router(settings).openapi()),
        Path("docs/openapi/mirror.json"): _text(create_mirror(settings).openapi()),
        Path("docs/events.schema.json"): _text(catalogue),
        Path("docs/openapi/events.json"): _text(events_as_openapi(catalogue)),
    }


def main() -> None:
    for path, text in documents().items():
        target = ROOT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()

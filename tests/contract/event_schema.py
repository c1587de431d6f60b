"""Checks an event envelope against the committed event catalogue (docs/events.schema.json)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from services.protocol import EventName
from services.protocol.catalogue import EVENT_DATA

EVENTS_SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "events.schema.json"


@functools.cache
def validator() -> Draft202012Validator:
    schema = json.loads(EVENTS_SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def problems(envelope: dict[str, Any]) -> list[str]:
    """What is wrong with an envelope: schema violations, and data fields the catalogue does not name
    (clients may meet unknown fields, but the catalogue must describe everything Codeswarm sends)."""
    found = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator().iter_errors(envelope)
    ]
    name, data = envelope.get("event"), envelope.get("data")
    if not found and isinstance(name, str) and isinstance(data, dict):
        undeclared = set(data) - set(EVENT_DATA[EventName(name)].model_fields)
        found += [f"data.{field} is not in the catalogue" for field in sorted(undeclared)]
    return found

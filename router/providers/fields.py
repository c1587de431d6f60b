"""Launch-field checking: every value is checked against its field's type and strict pattern."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from services.protocol.views import LaunchField

# What a string launch value may look like when a field sets no pattern of its own: no whitespace,
# quotes, shell metacharacters or newlines can pass.
SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.,:=+/@%-]{1,128}$")


class LaunchParamsError(ValueError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(e["msg"] for e in errors))
        self.errors = errors


def _error(key: str, msg: str) -> dict[str, Any]:
    return {"loc": ["body", "provider_params", key], "msg": msg, "type": "value_error"}


def _check(launch_field: LaunchField, value: Any, pattern: re.Pattern[str]) -> Any:
    key = launch_field.key
    if launch_field.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key} must be an integer, got {value!r}")
        low, high = launch_field.minimum, launch_field.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f"{key} must be between {low} and {high}, got {value}")
        return value
    if launch_field.type == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, got {value!r}")
    if launch_field.type == "choice" and value not in (launch_field.options or []):
        raise ValueError(f"{key} must be one of {', '.join(launch_field.options or [])}; got {value!r}")
    if not pattern.fullmatch(value):
        raise ValueError(f"{key}={value!r} is not allowed: it must match {pattern.pattern}")
    return value


def check_launch_fields(
    fields: Sequence[LaunchField], defaults: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """Known keys only, typed and pattern-checked; defaults filled in.  Raises LaunchParamsError."""
    by_key = {f.key: f for f in fields}
    valid = ", ".join(sorted(by_key)) or "(this provider takes none)"
    errors = [
        _error(key, f"unknown launch field {key!r}; valid fields: {valid}") for key in params if key not in by_key
    ]
    values: dict[str, Any] = {}
    for launch_field in fields:
        value = params.get(launch_field.key, defaults.get(launch_field.key, launch_field.default))
        if value is None or value == "":
            if launch_field.required:
                errors.append(_error(launch_field.key, f"{launch_field.key} is required"))
            continue
        pattern = re.compile(launch_field.pattern or SAFE_VALUE.pattern)
        try:
            values[launch_field.key] = _check(launch_field, value, pattern)
        except ValueError as exc:
            errors.append(_error(launch_field.key, str(exc)))
    if errors:
        raise LaunchParamsError(errors)
    return values

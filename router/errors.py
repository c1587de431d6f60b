"""Errors the router's commands raise; the API turns each into an HTTP status with its message."""

from __future__ import annotations

from typing import Any


class CommandError(Exception):
    status_code = 400

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.detail = detail if detail is not None else message


class NotFound(CommandError):
    status_code = 404


class Conflict(CommandError):
    status_code = 409


class Unavailable(CommandError):
    """The command could not reach the swarm's nodes now; it can be sent again."""

    status_code = 503


class Invalid(CommandError):
    """422 in FastAPI's shape: a list of {loc, msg, type}."""

    status_code = 422

    def __init__(self, loc: list[str | int], message: str) -> None:
        super().__init__(message, [{"loc": loc, "msg": message, "type": "value_error"}])


class InvalidMany(CommandError):
    status_code = 422

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(e["msg"]) for e in errors), errors)

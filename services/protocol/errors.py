"""The one error body every refusal of the router and the mirror has.

``detail`` is a sentence that says what to fix, or — for a 422 — a list of ``{loc, msg, type}``, one
per field that is wrong (FastAPI's shape, also for the checks the router makes itself).
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    loc: list[str | int] = Field(description='Where the problem is, e.g. ["body", "nodes"].')
    msg: str = Field(description="What is wrong and what is valid.")
    type: str = Field(description="A short machine-readable kind, e.g. value_error.")


class ErrorBody(BaseModel):
    detail: str | list[FieldError] = Field(description="What was refused and what to do about it.")

"""The one 422 for a request FastAPI could not validate, shared by the router and the mirror.

FastAPI's own handler echoes each error's `input`: a body holding a lone surrogate then cannot be
encoded and the handler itself fails (a 500), and echoing a whole body back is noise.  This answer keeps
`loc`, `msg` and `type` only, every string made encodable.  A body FastAPI cannot decode at all is a 422
that says to send UTF-8 JSON, not a bare 400.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

# FastAPI's words when a body is not JSON it can decode (in practice: bytes that are not UTF-8)
UNPARSABLE_BODY = "There was an error parsing the body"


def encodable(value: Any) -> Any:
    """value with every string made UTF-8 encodable (a lone surrogate becomes its escape)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list | tuple):
        return [encodable(item) for item in value]
    return value


def _error(error: dict[str, Any]) -> dict[str, Any]:
    return {key: encodable(error[key]) for key in ("loc", "msg", "type") if key in error}


async def request_validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse({"detail": [_error(dict(error)) for error in exc.errors()]}, status_code=422)


async def http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 400 and exc.detail == UNPARSABLE_BODY:
        message = "the body could not be decoded: send a JSON object encoded as UTF-8"
        return JSONResponse({"detail": [{"loc": ["body"], "msg": message, "type": "utf8_invalid"}]}, status_code=422)
    return await http_exception_handler(request, exc)


def install_validation_errors(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, request_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]

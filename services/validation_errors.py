"""The one 422 for a request FastAPI could not validate, and the one 405, shared by the router and the
mirror.

FastAPI's own handler echoes each error's `input`: a body holding a lone surrogate then cannot be
encoded and the handler itself fails (a 500), and echoing a whole body back is noise.  This answer keeps
`loc`, `msg` and `type` only, every string made encodable.  A body FastAPI cannot decode at all is a 422
that says to send UTF-8 JSON, not a bare 400.  A 405's ``Allow`` names every method the path takes
(Starlette's names only those of the first route with that path).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
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


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app takes on the request's path (the routes of included routers
    with their prefixes, as the OpenAPI description sees them)."""
    path = request.url.path
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        pattern = getattr(route, "path_regex", None)
        if pattern is not None and pattern.match(path):
            methods.update(route.methods or ())
    return sorted(methods)


async def http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 405:
        allow = ", ".join(allowed_methods(request))
        message = f"{request.method} is not allowed on {request.url.path}; it takes {allow}"
        return JSONResponse({"detail": message}, status_code=405, headers={"Allow": allow})
    if exc.status_code == 400 and exc.detail == UNPARSABLE_BODY:
        message = "the body could not be decoded: send a JSON object encoded as UTF-8"
        return JSONResponse({"detail": [{"loc": ["body"], "msg": message, "type": "utf8_invalid"}]}, status_code=422)
    return await http_exception_handler(request, exc)


def install_validation_errors(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, request_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]

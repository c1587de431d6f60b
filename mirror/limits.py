"""Request-size limit, first line: a declared ``Content-Length`` above the limit is refused with 413
before anything reads the body.  Bodies without a length (chunked) are counted as they arrive by the
framework's own per-route limit (``include_router(max_body_size=...)``); the app turns that into the
same 413 answer."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


def too_large(limit: int) -> JSONResponse:
    detail = f"request body too large: the limit is {limit} bytes (CODESWARM_MAX_BODY_BYTES)"
    return JSONResponse({"detail": detail}, status_code=413)


class DeclaredSizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                    await too_large(self.max_bytes)(scope, receive, send)
                    return
        await self.app(scope, receive, send)

"""The door check every service (router, mirror, web) puts in front of its routes.

- ``Host`` must be a loopback name or address, or one of ``CODESWARM_ALLOWED_HOSTS``; anything else is
  a 421.  A page on another site that rebinds its DNS name to 127.0.0.1 still sends its own name as
  ``Host``, so it gets nothing (DNS rebinding).
- A state-changing request (any method but GET, HEAD, OPTIONS) that carries an ``Origin`` must come
  from the web origin (``CODESWARM_WEB_ORIGIN``) or from the service's own origin; else 403.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from services.exposure import is_loopback
from services.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def host_name(host_header: str) -> str:
    """The name part of a ``Host`` header value (no port, no IPv6 brackets), lower case."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        return value.partition(":")[0]
    return value


class HostOriginCheck:
    """Pure ASGI middleware: refuses foreign ``Host`` headers (421) and cross-site writes (403)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.allowed_hosts = settings.allowed_host_names
        self.web_origin = settings.effective_web_origin.rstrip("/").lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self.refusal(scope["method"], headers)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, detail = refusal
        await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)

    def refusal(self, method: str, headers: Headers) -> tuple[int, str] | None:
        host = headers.get("host", "")
        name = host_name(host)
        if not (is_loopback(name) or name in self.allowed_hosts):
            return 421, (
                f"this service does not answer for the host {host!r}: only loopback names and the hosts "
                "in CODESWARM_ALLOWED_HOSTS (comma-separated) are served"
            )
        origin = headers.get("origin")
        if method.upper() in SAFE_METHODS or origin is None:
            return None
        origin = origin.strip().rstrip("/").lower()
        same_origin = origin.partition("://")[2] == host.strip().lower()
        if origin == self.web_origin or same_origin:
            return None
        return 403, (
            f"cross-site request refused: the origin {origin!r} is neither this service nor the web "
            f"origin {self.web_origin} (CODESWARM_WEB_ORIGIN)"
        )

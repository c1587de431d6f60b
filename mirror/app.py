"""The mirror's FastAPI application (ARCHITECTURE.md §10, port 8766)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mirror.api import commands, focused_stream, health, live, session, stream
from mirror.core import MirrorCore
from mirror.limits import DeclaredSizeLimit, too_large
from services.api_app import service_app
from services.auth import require_token
from services.bus.base import EventBus
from services.host_check import HostOriginCheck
from services.logs import RequestIdMiddleware
from services.protocol.openapi import error_responses
from services.sessions import SessionStore
from services.settings import Settings
from services.validation_errors import http_error as shared_http_error
from services.validation_errors import install_validation_errors


def create_app(
    settings: Settings | None = None,
    bus: EventBus | None = None,
    *,
    router_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """``bus``: share an event bus (the embedded mode's in-process one; the caller closes it).
    Without one the mirror opens the bus the settings name and closes it on shutdown.
    ``router_transport``: how to reach the router (tests); default plain HTTP to ``router_url``."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        core = MirrorCore.build(settings, bus, router_transport)
        app.state.core = core
        await core.start()
        try:
            yield
        finally:
            await core.stop()

    app = service_app(
        "Codeswarm mirror",
        "A reconciling read model of the router's swarms and a lossless, replayable event stream.",
        lifespan,
    )
    sessions = app.state.sessions = SessionStore.from_settings(settings)  # in memory: see services/sessions.py

    install_validation_errors(app)
    app.add_middleware(RequestIdMiddleware)  # X-Request-ID and the swarm id into the log context

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 413:
            return too_large(settings.max_body_bytes)
        return await shared_http_error(request, exc)

    app.add_middleware(DeclaredSizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[settings.effective_web_origin],
        allow_credentials=True,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "Idempotency-Key"],
        max_age=600,
    )
    app.add_middleware(HostOriginCheck, settings=settings)  # added last: the outermost check
    guarded = [Depends(require_token(settings))]
    app.include_router(health.open_router)
    app.include_router(session.open_router)  # logout needs no token: it ends the cookie's own session
    for streams in (stream.stream_router, focused_stream.router):  # the routes that take the cookie
        app.include_router(streams, dependencies=[Depends(require_token(settings, sessions=sessions))])
    for routes in (health.router, stream.router, live.router, session.router, commands.router):
        # max_body_size: streamed (chunked) bodies are counted as they arrive; 413 through http_error
        app.include_router(
            routes, dependencies=guarded, max_body_size=settings.max_body_bytes, responses=error_responses(401, 421)
        )
    return app

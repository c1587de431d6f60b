"""The router's FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from router.api import health, providers, swarms
from router.core import start_router
from router.errors import CommandError
from services.api_app import service_app
from services.auth import require_token
from services.body_limit import BodyLimitMiddleware
from services.bus.base import EventBus
from services.host_check import HostOriginCheck
from services.logs import RequestIdMiddleware
from services.protocol.openapi import error_responses
from services.settings import Settings
from services.validation_errors import install_validation_errors


def create_app(settings: Settings | None = None, bus: EventBus | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.core = await start_router(settings, bus)
        try:
            yield
        finally:
            await app.state.core.stop()

    app = service_app(
        "Codeswarm router",
        "The lifecycle authority: launch swarms, inject prompts, terminate; events go to the bus.",
        lifespan,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(HostOriginCheck, settings=settings)  # added last: the outermost check
    install_validation_errors(app)
    app.add_middleware(RequestIdMiddleware)  # X-Request-ID and the swarm id into the log context

    @app.exception_handler(CommandError)
    async def command_error(_request: Request, exc: CommandError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    app.include_router(health.open_router)
    guarded = [Depends(require_token(settings))]
    for resource in (health.router, swarms.router, providers.router):
        app.include_router(resource, dependencies=guarded, responses=error_responses(401, 421))
    return app

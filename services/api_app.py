"""The FastAPI application of a Codeswarm service (router, mirror): version 1 of its API, operation ids
from its route names, and /docs served offline (services/api_docs.py) instead of FastAPI's CDN pages;
and the request header both services' launch route takes."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated

from fastapi import FastAPI, Header

from services.api_docs import add_offline_docs
from services.protocol.openapi import operation_id

# A launch sent again with the same key is the same launch (router/authority.py).
IdempotencyKey = Annotated[str | None, Header(max_length=200)]


def service_app(title: str, summary: str, lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]]) -> FastAPI:
    app = FastAPI(
        title=title,
        version="1",
        summary=summary,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,
        redoc_url=None,
    )
    add_offline_docs(app)
    return app

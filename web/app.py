"""The web app (ARCHITECTURE.md §1, port 8000): serves the single-page UI from ``web/static``.

The page is plain HTML, CSS and JavaScript modules (no build step, nothing fetched from the internet).
It talks only to the mirror, whose URL it reads from ``/config.json``; this app holds no state and no
secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from services.host_check import HostOriginCheck
from services.settings import Settings
from web.headers import SecurityHeaders
from web.page_config import page_config

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    config = page_config(settings)
    app = FastAPI(title="Codeswarm web", version="1", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SecurityHeaders, mirror_url=config["mirror_url"])
    app.add_middleware(HostOriginCheck, settings=settings)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/config.json")
    async def config_json() -> dict[str, Any]:
        return config

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)  # no icon; answers so browsers do not log a 404

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app

"""`codeswarm-router`: serve the router on its own (the deployment mode)."""

from __future__ import annotations

import uvicorn

from router.app import create_app
from services.settings import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run(create_app(settings), host=settings.router_host, port=settings.router_port, log_level="info")


if __name__ == "__main__":
    main()

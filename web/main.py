"""`codeswarm-web`: serve the browser UI on its own (the deployment mode).  Settings come from
CODESWARM_* environment variables (services/settings.py); CODESWARM_MIRROR_URL must be the mirror's
address as the *browser* reaches it."""

from __future__ import annotations

import ipaddress
import logging
import sys

import uvicorn

from services.node.private_files import keep_files_private
from services.settings import Settings
from web.app import create_app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main() -> None:
    keep_files_private()
    settings = Settings()
    if not settings.api_token and not is_loopback(settings.web_host):
        sys.exit(
            f"refusing to listen on {settings.web_host} without a token: set CODESWARM_API_TOKEN "
            "or bind to 127.0.0.1 (CODESWARM_WEB_HOST)"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        create_app(settings),
        host=settings.web_host,
        port=settings.web_port,
        log_level="info",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()

"""`codeswarm-mirror`: serve the mirror on its own (the deployment mode).  Settings come from
CODESWARM_* environment variables (services/settings.py)."""

from __future__ import annotations

import ipaddress
import logging
import sys

import uvicorn

from mirror.app import create_app
from services.settings import Settings

LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main() -> None:
    settings = Settings()
    if not settings.api_token and not is_loopback(settings.mirror_host):
        sys.exit(
            f"refusing to listen on {settings.mirror_host} without a token: set CODESWARM_API_TOKEN "
            "or bind to 127.0.0.1 (CODESWARM_MIRROR_HOST)"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        create_app(settings),
        host=settings.mirror_host,
        port=settings.mirror_port,
        log_level="info",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()

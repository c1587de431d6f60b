"""Run one service on its own (the deployment mode): `codeswarm-router`, `-mirror` and `-web`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Literal

import uvicorn

from services.exposure import exposure_error
from services.logs import configure_logging
from services.node.private_files import keep_files_private
from services.settings import Settings
from services.token_file import AuthSetupError, with_token

Service = Literal["router", "mirror", "web"]
GRACEFUL_SHUTDOWN_S = 5
TOKEN_HOLDERS = ("router", "mirror")  # the web app serves files only; it never sees the token


def serve(service: Service, create_app: Callable[[Settings], Any]) -> None:
    """Serve ``service`` on its configured host and port until SIGINT or SIGTERM; refuse (exit 1 with
    the reason) to listen where its settings do not allow, or with auth settings that cannot work."""
    keep_files_private()
    settings = Settings()
    refused = exposure_error(settings, service)
    if refused:
        sys.exit(refused)
    if service in TOKEN_HOLDERS:
        try:
            settings = with_token(settings)
        except AuthSetupError as exc:
            sys.exit(f"codeswarm-{service}: {exc}")
    configure_logging()
    uvicorn.run(
        create_app(settings),
        host=getattr(settings, f"{service}_host"),
        port=getattr(settings, f"{service}_port"),
        log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        proxy_headers=False,  # X-Forwarded-* is believed only from CODESWARM_TRUSTED_PROXIES (services/sessions.py)
    )

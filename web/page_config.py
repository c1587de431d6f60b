"""What the page needs to know about its deployment, served as ``/config.json``."""

from __future__ import annotations

from typing import Any

from services.settings import Settings


def page_config(settings: Settings) -> dict[str, Any]:
    """The mirror's URL as the browser reaches it, and the request size the services accept (the launch
    form checks an agents bundle against it).  Never the token: the page gets it from the login URL's
    fragment (which no server sees) or from the user."""
    return {"mirror_url": settings.effective_mirror_url.rstrip("/"), "max_body_bytes": settings.max_body_bytes}

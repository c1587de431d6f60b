"""Which addresses a service may listen on without auth: the one rule every service applies."""

from __future__ import annotations

import ipaddress

from services.settings import Settings


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a listen address or a name) reaches only this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_error(settings: Settings, service: str) -> str | None:
    """Why ``service`` must not listen where its settings say, or None when it may."""
    host: str = getattr(settings, f"{service}_host")
    if settings.api_token or is_loopback(host):
        return None
    return (
        f"refusing to serve the {service} on {host} without a token: set CODESWARM_API_TOKEN "
        f"or bind to 127.0.0.1 (CODESWARM_{service.upper()}_HOST)"
    )

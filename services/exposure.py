"""Which addresses a service may listen on: the one rule every service applies (router, mirror, web and
`codeswarm up`).  With auth (the default) any address is allowed; without it (CODESWARM_INSECURE_NO_AUTH)
only loopback."""

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
    if not settings.insecure_no_auth or is_loopback(host):
        return None
    return (
        f"refusing to serve the {service} on {host} without a token: CODESWARM_INSECURE_NO_AUTH is set, and "
        f"anyone who can reach {host} could run commands as you; unset it (auth by token is the default) "
        f"or bind to 127.0.0.1 (CODESWARM_{service.upper()}_HOST)"
    )

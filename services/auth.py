"""Bearer-token auth shared by the router and the mirror: one FastAPI dependency factory.

When ``settings.api_token`` is empty the check is a no-op (the services then bind to loopback only).
Otherwise a request must send ``Authorization: Bearer <token>``.  A route may also accept the token from
the HttpOnly cookie ``codeswarm_token`` (``cookie=True``): a browser ``EventSource`` cannot send headers,
and a token in a URL would end up in proxy and access logs.  Only read-only routes should accept the
cookie (a cookie is sent automatically, so a state-changing route that trusted it would invite CSRF).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import HTTPException, Request, status

from services.settings import Settings

TOKEN_COOKIE = "codeswarm_token"

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def token_matches(presented: str, expected: str) -> bool:
    return hmac.compare_digest(presented.encode(), expected.encode())


def require_token(settings: Settings, *, cookie: bool = False) -> Callable[[Request], None]:
    """A dependency that refuses (401) a request without the configured token."""
    expected = settings.api_token
    where = f"'Authorization: Bearer <token>' header{' or the codeswarm_token cookie' if cookie else ''}"

    def check(request: Request) -> None:
        if not expected:
            return
        presented = bearer_token(request.headers.get("authorization"))
        if presented is None and cookie:
            presented = request.cookies.get(TOKEN_COOKIE) or None
        if presented is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                f"authentication required: send the API token (CODESWARM_API_TOKEN) in the {where}",
                headers=_CHALLENGE,
            )
        if not token_matches(presented, expected):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "invalid API token: it does not match CODESWARM_API_TOKEN",
                headers=_CHALLENGE,
            )

    return check

"""Bearer-token auth shared by the router and the mirror: one FastAPI dependency factory.

A request must send ``Authorization: Bearer <token>`` with the token of this start (services/token_file.py;
a service started without one refuses every request).  Only ``CODESWARM_INSECURE_NO_AUTH`` turns the
check off.  A read-only route may also accept a browser session cookie (``sessions=``): a browser
``EventSource`` cannot send headers, and a token in a URL would end up in proxy and access logs.  The
cookie holds a session id (services/sessions.py), never the token.  A state-changing route must not
accept the cookie: a cookie is sent automatically, so trusting it there would invite CSRF.

The checks are FastAPI security classes, so every guarded operation of the OpenAPI description names
its scheme (``bearer``, and ``session_cookie`` where the cookie is accepted).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from services.sessions import SESSION_COOKIE, SessionStore
from services.settings import Settings

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_WHERE_TOKEN = "CODESWARM_API_TOKEN, or the file api-token under CODESWARM_HOME"

bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearer", description=f"The API token ({_WHERE_TOKEN}).")
session_cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session_cookie",
    description="A browser session opened with POST /v1/session (read-only streams only).",
)

Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
SessionCookie = Annotated[str | None, Depends(session_cookie_scheme)]


def auth_is_off(settings: Settings) -> bool:
    """Only the insecure setting without a token (a start with both is refused: token_file.py)."""
    return settings.insecure_no_auth and not settings.api_token


def token_matches(presented: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(presented.encode(), expected.encode())


def _refuse(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers=_CHALLENGE)


def _check_bearer(bearer: HTTPAuthorizationCredentials | None, expected: str, where: str) -> None:
    if bearer is None:
        raise _refuse(f"authentication required: send the API token ({_WHERE_TOKEN}) in the {where}")
    if not token_matches(bearer.credentials, expected):
        raise _refuse("invalid API token: it does not match CODESWARM_API_TOKEN (or the api-token file)")


def require_token(settings: Settings, *, sessions: SessionStore | None = None) -> Callable[..., None]:
    """A dependency that refuses (401) a request without the token of this start, or (``sessions``)
    without the token or a live session cookie."""
    expected = settings.api_token

    if auth_is_off(settings):

        def open_door() -> None:
            return None

        return open_door

    if sessions is None:

        def check_header(bearer: Bearer) -> None:
            _check_bearer(bearer, expected, "'Authorization: Bearer <token>' header")

        return check_header

    store = sessions

    def check_header_or_session(bearer: Bearer, session_id: SessionCookie) -> None:
        if bearer is None and session_id:
            if store.is_valid(session_id):
                return
            raise _refuse("the browser session has expired or was closed: open a new one (POST /v1/session)")
        _check_bearer(bearer, expected, f"'Authorization: Bearer <token>' header or the {SESSION_COOKIE} cookie")

    return check_header_or_session

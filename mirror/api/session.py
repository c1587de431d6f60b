"""Browser sessions for the event streams.

``EventSource`` cannot send an ``Authorization`` header, and a token in the URL would be written to
proxy and access logs.  So a browser app first calls ``POST /v1/session`` with the header (``fetch``
can send it, ``credentials: "include"``); the mirror answers with an HttpOnly, SameSite=Strict cookie
``codeswarm_session`` that holds a random session id (services/sessions.py), never the token, and
``new EventSource(url, {withCredentials: true})`` then authenticates with it.  Only the streams accept
the cookie (they are read-only, so the cookie cannot be abused for CSRF); every other route wants the
header.  ``DELETE /v1/session`` (logout) ends the session the cookie names and clears the cookie.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from mirror.api.deps import Core, Sessions
from services.auth import auth_is_off
from services.sessions import SESSION_COOKIE, is_https

router = APIRouter(tags=["session"])
open_router = APIRouter(tags=["session"])

COOKIE_PATH = "/v1"  # the streams read it, DELETE /v1/session ends it


@router.post("/v1/session", status_code=204)
async def open_session(request: Request, core: Core, sessions: Sessions) -> Response:
    """Open a browser session: set its cookie (needs ``Authorization: Bearer <token>``; a no-op when the
    mirror runs without auth)."""
    response = Response(status_code=204)
    if auth_is_off(core.settings):
        return response
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        sessions.close(previous)
    response.set_cookie(
        SESSION_COOKIE,
        sessions.open(),
        max_age=int(sessions.ttl_s),
        httponly=True,
        samesite="strict",
        secure=is_https(request, core.settings),
        path=COOKIE_PATH,
    )
    return response


@open_router.delete("/v1/session", status_code=204)
async def close_session(request: Request, sessions: Sessions) -> Response:
    """Log out: the session the cookie names ends now, and the cookie is cleared."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        sessions.close(session_id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
    return response

"""The SSE auth cookie for browsers.

``EventSource`` cannot send an ``Authorization`` header, and a token in the URL would be written to
proxy and access logs.  So a browser app first calls ``POST /v1/session`` with the header (``fetch``
can send it, ``credentials: "include"``); the mirror answers with an HttpOnly, SameSite=Strict cookie
``codeswarm_token`` scoped to ``/v1/events``, and ``new EventSource(url, {withCredentials: true})``
then authenticates with it.  Only the stream accepts the cookie (it is read-only, so the cookie cannot
be abused for CSRF); every other route wants the header.  ``DELETE /v1/session`` clears it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from mirror.deps import Core
from services.auth import TOKEN_COOKIE

router = APIRouter(tags=["session"])

COOKIE_PATH = "/v1/events"


@router.post("/v1/session", status_code=204)
async def open_session(request: Request, core: Core) -> Response:
    """Set the stream cookie (needs ``Authorization: Bearer <token>``; a no-op without a token)."""
    response = Response(status_code=204)
    token = core.settings.api_token
    if token:
        response.set_cookie(
            TOKEN_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path=COOKIE_PATH,
        )
    return response


@router.delete("/v1/session", status_code=204)
async def close_session() -> Response:
    response = Response(status_code=204)
    response.delete_cookie(TOKEN_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
    return response

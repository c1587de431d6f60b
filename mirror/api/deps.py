"""Request-scoped access to the mirror's parts."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from mirror.core import MirrorCore
from services.sessions import SessionStore


def get_core(request: Request) -> MirrorCore:
    return cast(MirrorCore, request.app.state.core)


Core = Annotated[MirrorCore, Depends(get_core)]


def get_sessions(request: Request) -> SessionStore:
    return cast(SessionStore, request.app.state.sessions)


Sessions = Annotated[SessionStore, Depends(get_sessions)]

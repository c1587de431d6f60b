"""Request-scoped access to the mirror's parts."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from mirror.core import MirrorCore


def get_core(request: Request) -> MirrorCore:
    return cast(MirrorCore, request.app.state.core)


Core = Annotated[MirrorCore, Depends(get_core)]

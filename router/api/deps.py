"""Dependencies shared by the router's routes."""

from __future__ import annotations

from fastapi import Request

from router.core import RouterCore


def core(request: Request) -> RouterCore:
    router_core: RouterCore = request.app.state.core
    return router_core

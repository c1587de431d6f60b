"""What the router's routes depend on: each route names the parts it uses, never the whole core."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from router.authority import Authority
from router.core import RouterCore
from router.metrics import RouterMetrics
from router.providers.base import Provider
from router.store.database import Database
from services.bus.base import EventBus


def _core(request: Request) -> RouterCore:
    core: RouterCore = request.app.state.core
    return core


def _authority(request: Request) -> Authority:
    return _core(request).authority


def _database(request: Request) -> Database:
    return _core(request).db


def _bus(request: Request) -> EventBus:
    return _core(request).bus


def _metrics(request: Request) -> RouterMetrics:
    return _core(request).metrics


def _providers(request: Request) -> dict[str, Provider]:
    return _core(request).providers


AuthorityDep = Annotated[Authority, Depends(_authority)]
DbDep = Annotated[Database, Depends(_database)]
BusDep = Annotated[EventBus, Depends(_bus)]
MetricsDep = Annotated[RouterMetrics, Depends(_metrics)]
ProvidersDep = Annotated[dict[str, Provider], Depends(_providers)]

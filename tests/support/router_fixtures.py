"""Fixtures for tests that drive a real router process (integration, Slurm and browser tests):
``start_router`` and ``bus``.  Registered suite-wide by tests/conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.support.router_process import BusReader, RouterProcess


@pytest.fixture
def start_router(
    tmp_path: Path, pg_url: str, redis_url: str, redis_prefix: str
) -> Iterator[Callable[..., RouterProcess]]:
    """start_router(**env) → a running router on real Postgres and Redis.  Calling it again (after
    kill() or stop()) restarts the router as an operator would: same database, bus, home and port.
    Every router started here, and every node program it started, is stopped afterwards."""
    started: list[RouterProcess] = []

    def start(**env: str) -> RouterProcess:
        router = RouterProcess(tmp_path / "home", pg_url, redis_url, redis_prefix, extra_env=env)
        if started:
            router.port = started[0].port
        router.home.mkdir(exist_ok=True)
        started.append(router.start())
        return router

    yield start
    for router in started:
        router.stop()
        router.stop_nodes()


@pytest.fixture
async def bus(redis_url: str, redis_prefix: str) -> AsyncIterator[BusReader]:
    """Reads the whole event stream of this test's prefix, as a client would."""
    reader = BusReader(redis_url, redis_prefix)
    yield reader
    await reader.close()

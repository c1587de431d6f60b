"""Fixtures for integration tests of the Redis event bus (real Redis, keys under a per-test prefix)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from services.bus.redis_bus import RedisEventBus


@pytest.fixture
def redis_client_name(redis_prefix: str) -> str:
    """The connection name of this test's buses, so that ``CLIENT LIST`` can tell them apart."""
    return "cstest-" + redis_prefix.replace(":", "-").strip("-")


@pytest.fixture
async def redis_bus_factory(
    redis_url: str, redis_prefix: str, redis_client_name: str
) -> AsyncIterator[Callable[..., RedisEventBus]]:
    """``(maxlen=10_000, max_bytes=1 GiB) -> RedisEventBus`` on this test's prefix; closed afterwards."""
    clients: list[Redis] = []

    def make(maxlen: int = 10_000, max_bytes: int = 1 << 30) -> RedisEventBus:
        clients.append(Redis.from_url(redis_url, decode_responses=False, client_name=redis_client_name))
        return RedisEventBus(redis_url, redis_prefix, maxlen, max_bytes=max_bytes, client=clients[-1])

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def redis_bus(redis_bus_factory: Callable[..., RedisEventBus]) -> RedisEventBus:
    return redis_bus_factory()

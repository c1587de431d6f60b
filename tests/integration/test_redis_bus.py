"""RedisEventBus against a real Redis: the shared bus contract, plus what only Redis shows (one atomic script,
the stored layout) and the suite's own "start a private Redis" path."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from services.bus.base import START_ID, EventBus
from services.bus.redis_bus import RedisEventBus, _stream_entries
from tests.support import servers
from tests.support.bus_contract import DEADLINE, BlockedReaders, BusContract, envelopes, numbers


@pytest.fixture
def new_bus(redis_bus_factory: Callable[..., RedisEventBus]) -> Callable[..., RedisEventBus]:
    return redis_bus_factory


@pytest.fixture
def blocked_readers(bus: EventBus, redis_client_name: str) -> BlockedReaders:
    """How many of this test's connections are blocked in a command (XREAD BLOCK) right now."""
    assert isinstance(bus, RedisEventBus)
    redis = bus.redis

    async def count() -> int:
        clients = await redis.client_list()
        return sum(1 for c in clients if c.get("name") == redis_client_name and "b" in c.get("flags", ""))

    return count


class TestRedisBusContract(BusContract):
    pass


# -- what the server sees ------------------------------------------------------------------------


async def commands_seen(redis_url: str, bus: RedisEventBus, action: Callable[[], Awaitable[None]]) -> list[dict]:
    """Run ``action`` under MONITOR; return every command the server ran until it finished."""
    done_marker = f"{bus.stream_key}:done"
    monitor_client = Redis.from_url(redis_url)
    async with monitor_client.monitor() as monitor:
        await action()
        await bus.redis.echo(done_marker)
        commands = []
        while True:
            command = await asyncio.wait_for(monitor.next_command(), DEADLINE)
            if command["command"] == f"ECHO {done_marker}":
                break
            commands.append(command)
    await monitor_client.aclose()
    return commands


@pytest.mark.parametrize(("entries", "cursors"), [(3, None), (2500, {"c": "2500", "d": "7"}), (0, {"c": "0"})])
async def test_a_publish_is_one_atomic_script_whatever_its_size(
    redis_url: str, redis_bus: RedisEventBus, entries: int, cursors: dict[str, str] | None
) -> None:
    ids: list[str] = []

    async def publish() -> None:
        ids.extend(await redis_bus.publish(envelopes(0, entries), cursors))

    commands = await commands_seen(redis_url, redis_bus, publish)
    ours = [c for c in commands if redis_bus.stream_key in c["command"] or redis_bus.cursors_key in c["command"]]
    from_client = [c["command"].split(" ", 1)[0].upper() for c in ours if c.get("client_type") != "lua"]
    assert from_client in (["EVALSHA"], ["EVAL"], ["EVALSHA", "EVAL"])  # EVAL only when the script was unknown
    in_script = [c["command"].split(" ", 1)[0].upper() for c in ours if c.get("client_type") == "lua"]
    assert in_script == ["XADD"] * entries + ["HSET"] * len(cursors or {})
    assert len(ids) == entries
    assert await redis_bus.cursors() == (cursors or {})


async def test_entries_are_one_field_d_holding_the_json(redis_bus: RedisEventBus) -> None:
    [entry_id] = await redis_bus.publish(envelopes(0, 1))
    stored: list[tuple[bytes, dict[bytes, bytes]]] = await redis_bus.redis.xrange(redis_bus.stream_key)  # type: ignore[assignment]
    [(raw_id, fields)] = stored
    assert raw_id.decode() == entry_id
    assert list(fields) == [b"d"]
    assert orjson.loads(fields[b"d"]) == envelopes(0, 1)[0]


async def test_trimming_is_approximate_maxlen(redis_bus_factory: Callable[..., RedisEventBus]) -> None:
    bus = redis_bus_factory(maxlen=1000)
    for start in range(0, 5000, 500):
        await bus.publish(envelopes(start, 500))
    length = await bus.redis.xlen(bus.stream_key)
    assert 1000 <= length < 5000


async def test_ping_is_false_when_redis_is_unreachable() -> None:
    bus = RedisEventBus(f"redis://127.0.0.1:{servers.free_port()}/0", "cstest:none:")
    assert await bus.ping() is False
    await bus.close()


async def test_bus_with_its_own_connection(redis_url: str, redis_prefix: str) -> None:
    bus = RedisEventBus(redis_url, redis_prefix, 1000)
    ids = await bus.publish(envelopes(0, 2), {"k": "v"})
    assert numbers(await bus.read_after(START_ID)) == [0, 1]
    assert await bus.last_id() == ids[-1]
    await bus.close()


def test_xread_reply_shapes() -> None:
    entry = (b"1-0", {b"d": b"{}"})
    assert _stream_entries(None) == [] and _stream_entries([]) == [] and _stream_entries({}) == []
    assert _stream_entries([[b"k", [entry, entry]]]) == [entry, entry]  # RESP2, legacy RESP3
    assert _stream_entries({b"k": [entry]}) == [entry]  # unified responses
    assert _stream_entries({b"k": [[entry, entry]]}) == [entry, entry]  # older RESP3 parsers


# -- the suite's own servers ---------------------------------------------------------------------


async def test_ensure_redis_starts_a_private_server_when_none_answers(
    monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    monkeypatch.delenv(servers.REDIS_URL_ENV, raising=False)
    unused = servers.free_port()
    monkeypatch.setenv(servers.REDIS_PORT_ENV, str(unused))
    url = await asyncio.to_thread(servers.ensure_redis)
    assert url != redis_url and f":{unused}/" not in url
    assert await asyncio.to_thread(servers.ensure_redis) == url  # one server per process, reused
    server = servers.managed(url)
    assert server is not None
    try:
        bus = RedisEventBus(url, "cstest:private:")
        ids = await bus.publish(envelopes(0, 3), {"c": "3"})
        assert [e.id for e in await bus.read_after(START_ID)] == ids
        await bus.close()
    finally:
        servers.stop_server(url)
    assert not Path(f"/proc/{server.pid}").exists()  # stopped by pid (and reaped)
    assert not server.workdir.exists()

"""An idle local outbox follower polls seldom, yet a write to a followed outbox is read at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from router.providers.base import OutboxLines
from router.providers.local.outbox_poller import LocalOutboxFollower
from services.node.records import outbox_path
from tests.support.servers import wait_until_async


def follower_noting_arrival(tmp_path: Path, poll_s: float) -> tuple[LocalOutboxFollower, asyncio.Event]:
    """A follower of job 7's node 0 and the event its sink sets when lines arrive."""
    arrived = asyncio.Event()

    async def sink(_chunks: Sequence[OutboxLines]) -> None:
        arrived.set()

    follower = LocalOutboxFollower(str(tmp_path), sink, poll_s=poll_s)
    follower.follow("7", {0: 0})
    return follower, arrived


async def read_soon_after_writing(path: Path, arrived: asyncio.Event) -> None:
    written = time.monotonic()
    path.write_bytes(b'{"seq":1}\n')
    async with asyncio.timeout(5):
        await arrived.wait()
    assert time.monotonic() - written < 5


async def test_a_write_wakes_an_idle_follower_long_before_its_next_poll(tmp_path: Path) -> None:
    path = Path(outbox_path(str(tmp_path), "7", 0))
    path.parent.mkdir(parents=True)
    path.touch()
    follower, arrived = follower_noting_arrival(tmp_path, poll_s=10.0)  # idle polls 10 s apart and more
    follower.start()
    try:
        await asyncio.sleep(0.05)  # the first poll found nothing: it waits
        await read_soon_after_writing(path, arrived)
    finally:
        await follower.stop()


async def test_an_outbox_created_after_it_is_followed_is_watched_from_the_poll_that_finds_it(
    tmp_path: Path,
) -> None:
    path = Path(outbox_path(str(tmp_path), "7", 0))
    path.parent.mkdir(parents=True)
    follower, arrived = follower_noting_arrival(tmp_path, poll_s=0.5)  # the node has not created its outbox yet
    assert not follower.all_watched
    follower.start()
    try:
        path.touch()
        async with asyncio.timeout(10):
            while not follower.all_watched:
                await asyncio.sleep(0.01)
        await read_soon_after_writing(path, arrived)  # once watched, idle polls are 10 s apart
    finally:
        await follower.stop()


async def test_held_heartbeats_are_handed_over_when_due_without_another_write(tmp_path: Path) -> None:
    path = Path(outbox_path(str(tmp_path), "7", 0))
    path.parent.mkdir(parents=True)
    path.touch()
    follower, arrived = follower_noting_arrival(tmp_path, poll_s=0.5)  # watched: idle polls 10 s apart
    follower.start()
    try:
        for seq, ts in ((1, 100.0), (2, 100.4)):  # the second is held (0.2 s: half the period it teaches)
            arrived.clear()
            with path.open("ab") as outbox:
                outbox.write(b'{"seq":%d,"ts":%.1f,"kind":"heartbeat","payload":{}}\n' % (seq, ts))
            async with asyncio.timeout(5):
                await arrived.wait()
    finally:
        await follower.stop()


async def test_a_stream_of_writes_is_read_by_the_polls_without_a_wake_up_per_write(tmp_path: Path) -> None:
    path = Path(outbox_path(str(tmp_path), "7", 0))
    path.parent.mkdir(parents=True)
    path.touch()
    lines: list[bytes] = []

    async def sink(chunks: Sequence[OutboxLines]) -> None:
        lines.extend(line for chunk in chunks for line in chunk.lines)

    follower = LocalOutboxFollower(str(tmp_path), sink, poll_s=0.005)
    follower.follow("7", {0: 0})
    wake_ups = 0
    on_write = follower._on_write

    def counted() -> None:
        nonlocal wake_ups
        wake_ups += 1
        on_write()

    follower._on_write = counted  # type: ignore[method-assign]
    follower.start()
    try:
        with path.open("ab", buffering=0) as outbox:
            for seq in range(1, 301):  # a node writing a record a millisecond, as a busy agent does
                outbox.write(b'{"seq":%d}\n' % seq)
                await asyncio.sleep(0.001)
        await wait_until_async(lambda: len(lines) == 300, 5, "every line read")
    finally:
        await follower.stop()
    assert lines == [b'{"seq":%d}' % seq for seq in range(1, 301)]
    assert wake_ups < 30, f"{wake_ups} wake-ups for 300 writes read by polls 5 ms apart"

"""An idle local outbox follower polls seldom, yet a write to a followed outbox is read at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from router.providers.base import OutboxLines
from router.providers.local.outbox_poller import LocalOutboxFollower
from services.node.records import outbox_path


async def test_a_write_wakes_an_idle_follower_long_before_its_next_poll(tmp_path: Path) -> None:
    path = Path(outbox_path(str(tmp_path), "7", 0))
    path.parent.mkdir(parents=True)
    path.touch()
    arrived = asyncio.Event()

    async def sink(_chunks: Sequence[OutboxLines]) -> None:
        arrived.set()

    follower = LocalOutboxFollower(str(tmp_path), sink, poll_s=10.0)  # idle polls 10 s apart and more
    follower.follow("7", {0: 0})
    follower.start()
    try:
        await asyncio.sleep(0.05)  # the first poll found nothing: it waits
        written = time.monotonic()
        path.write_bytes(b'{"seq":1}\n')
        async with asyncio.timeout(5):
            await arrived.wait()
        assert time.monotonic() - written < 5
    finally:
        await follower.stop()

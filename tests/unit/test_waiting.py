"""A loop that waits on an event with a time limit stops when cancelled, even when the event is set in
the same loop iteration as the cancel (``asyncio.wait_for`` on Python 3.11 swallowed that cancel, and a
router's stop waited forever for its outbox relay)."""

from __future__ import annotations

import asyncio

import pytest

from services.waiting import wait_event


async def waiting_loop(event: asyncio.Event) -> None:
    while True:
        await wait_event(event, 10)
        event.clear()
        await asyncio.sleep(0)


@pytest.mark.parametrize("steps", [0, 1, 2, 3])
async def test_a_cancel_arrives_even_as_the_event_is_set(steps: int) -> None:
    event = asyncio.Event()
    task = asyncio.create_task(waiting_loop(event))
    await asyncio.sleep(0.01)  # the loop is waiting
    event.set()
    for _ in range(steps):  # the cancel lands at each point of the wake-up
        await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done and task.cancelled()


async def test_it_says_whether_the_event_came() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 5) is True

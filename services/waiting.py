"""Waiting for an asyncio event with a time limit, without ever swallowing a cancellation.

On Python 3.11, ``asyncio.wait_for(event.wait(), t)`` returns normally when the task is cancelled in
the same loop iteration as the event is set (python/cpython#86296, fixed in 3.12): a loop built on it
then runs on after ``task.cancel()``, and whatever awaits that task waits forever (a router's stop hung
on its outbox relay, whose wake event is set on every commit).  ``asyncio.timeout`` counts its own
cancellations apart from everyone else's, so a cancel always arrives.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, seconds: float | None) -> bool:
    """Until ``event`` is set (True) or ``seconds`` have passed (False; None = no limit)."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True

"""An idle node's inbox polls space out, and a local write to the inbox ends the wait at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from services.node.inbox_wait import InboxWait


def test_idle_waits_double_up_to_the_idle_interval_and_busy_ones_stay_fast(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    path.touch()
    waiting = InboxWait(str(path), 0.001, 0.004)
    for _ in range(4):
        waiting.wait(busy=False)
    assert waiting.interval_s == 0.004
    waiting.wait(busy=True)
    assert waiting.interval_s == 0.002
    waiting.reset()
    assert waiting.interval_s == 0.001
    waiting.close()


def test_a_write_to_the_inbox_ends_a_long_idle_wait(tmp_path: Path) -> None:
    path = tmp_path / "inbox.jsonl"
    path.touch()
    waiting = InboxWait(str(path), 0.001, 30.0)
    assert waiting.watching  # Linux: inotify
    waiting.interval_s = 30.0  # as after a long idle spell
    writer = threading.Timer(0.05, lambda: path.write_bytes(b'{"type": "inject"}\n'))
    started = time.monotonic()
    writer.start()
    waiting.wait(busy=False)
    assert time.monotonic() - started < 5.0
    assert waiting.interval_s == 0.001  # woken: the next wait is the fast one again
    writer.join()
    waiting.close()

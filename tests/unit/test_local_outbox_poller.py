"""The local outbox follower reads each file in bounded polls and never splits or drops a line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from router.providers.base import OutboxLines
from router.providers.local import outbox_poller as module
from router.providers.local.outbox_poller import LocalOutboxFollower
from services.node.records import outbox_path


async def _ignore(_chunks: Sequence[OutboxLines]) -> None:
    return None


def _follower(base: Path, lines: list[bytes]) -> LocalOutboxFollower:
    path = Path(outbox_path(str(base), "7", 0))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    follower = LocalOutboxFollower(str(base), _ignore, poll_s=0.005)
    follower.follow("7", {0: 0})
    return follower


def test_a_poll_reads_a_bounded_part_and_the_rest_follows_whole(tmp_path: Path) -> None:
    lines = [b'{"seq":%d,"pad":"%s"}' % (n, b"x" * 100) for n in range(1, 50_001)]  # about 6 MB
    follower = _follower(tmp_path, lines)
    polls: list[list[bytes]] = []
    while chunks := follower.read_new_lines():
        (chunk,) = chunks
        assert sum(len(line) + 1 for line in chunk.lines) <= module.POLL_BYTES
        polls.append(chunk.lines)
    assert len(polls) > 1 and [line for poll in polls for line in poll] == lines


def test_a_line_longer_than_a_poll_is_read_whole(tmp_path: Path) -> None:
    long = b'{"seq":2,"pad":"%s"}' % (b"y" * (module.POLL_BYTES + 1000))  # within RECORD_LIMIT
    follower = _follower(tmp_path, [b'{"seq":1}', long, b'{"seq":3}'])
    read = [line for chunks in iter(follower.read_new_lines, []) for chunk in chunks for line in chunk.lines]
    assert read == [b'{"seq":1}', long, b'{"seq":3}']

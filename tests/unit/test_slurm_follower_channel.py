"""The login-node follower (services/node/login_follower.py) as a real process, and the router end's rules for
the chunks it sends (overlaps are passed on, gaps are refused and rewound)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import pytest

from router.providers.base import OutboxLines
from router.providers.slurm.follower_channel import RemoteFollower, _Chunk
from services.node.records import outbox_path

ROOT = Path(__file__).resolve().parents[2]


class FollowerProcess:
    def __init__(self, base: Path) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-c",
                "import sys; sys.path.insert(0, sys.argv[1]); "
                "from services.node.login_follower import main; sys.exit(main(sys.argv[2:]))",
                str(ROOT),
                "--base",
                str(base),
                "--poll-s",
                "0.01",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.process.stdin and self.process.stdout
        self.stdin: IO[bytes] = self.process.stdin
        self.stdout: IO[bytes] = self.process.stdout
        assert self.header() == {"ready": True}

    def send(self, **command: Any) -> None:
        self.stdin.write(json.dumps(command).encode() + b"\n")
        self.stdin.flush()

    def header(self) -> dict[str, Any]:
        line = self.stdout.readline()  # blocks until the follower writes (it ends the test on EOF)
        assert line, "the follower ended"
        return dict(json.loads(line))

    def chunk(self) -> tuple[dict[str, Any], bytes]:
        header = self.header()
        return header, self.stdout.read(header["end"] - header["start"])


@pytest.fixture
def follower(tmp_path: Path) -> Iterator[FollowerProcess]:
    (tmp_path / "mailbox" / "outbox").mkdir(parents=True)
    running = FollowerProcess(tmp_path)
    yield running
    running.process.kill()
    running.process.wait()


def write(base: Path, job: str, node: int, data: bytes) -> None:
    with open(outbox_path(str(base), job, node), "ab") as handle:
        handle.write(data)


def test_follow_streams_complete_lines_from_the_offset(tmp_path: Path, follower: FollowerProcess) -> None:
    write(tmp_path, "7", 0, b'{"seq":1}\n{"seq":2}\n{"seq":3')
    follower.send(op="follow", job="7", offsets={"0": 10, "1": 0})
    assert follower.chunk() == ({"job": "7", "node": 0, "start": 10, "end": 20}, b'{"seq":2}\n')
    write(tmp_path, "7", 0, b"}\n")
    assert follower.chunk() == ({"job": "7", "node": 0, "start": 20, "end": 30}, b'{"seq":3}\n')
    write(tmp_path, "7", 1, b'{"seq":1}\n')
    assert follower.chunk() == ({"job": "7", "node": 1, "start": 0, "end": 10}, b'{"seq":1}\n')


def test_rewind_drain_and_unfollow(tmp_path: Path, follower: FollowerProcess) -> None:
    write(tmp_path, "8", 0, b'{"seq":1}\n')
    follower.send(op="follow", job="8", offsets={"0": 0})
    assert follower.chunk()[0]["end"] == 10
    follower.send(op="rewind", job="8", node=0, offset=0)
    assert follower.chunk() == ({"job": "8", "node": 0, "start": 0, "end": 10}, b'{"seq":1}\n')
    follower.send(op="drain", job="8", token=5)
    assert follower.header() == {"drained": 5}
    follower.send(op="unfollow", job="8")
    write(tmp_path, "8", 0, b'{"seq":2}\n')
    follower.send(op="drain", job="8", token=6)
    assert follower.header() == {"drained": 6}  # nothing of the unfollowed job came first


def test_end_of_input_ends_the_follower(follower: FollowerProcess) -> None:
    follower.stdin.close()
    assert follower.process.wait(10) == 0


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list[OutboxLines]] = []

    async def __call__(self, chunks: Sequence[OutboxLines]) -> None:
        self.calls.append(list(chunks))


async def test_the_router_end_passes_overlaps_and_rewinds_gaps() -> None:
    sink = Recorder()
    remote = RemoteFollower(ssh=None, command=None, sink=sink)  # type: ignore[arg-type]
    remote._writes = asyncio.Queue()  # as while a follower channel is up: commands queue for it
    remote.follow("9", {0: 100})
    pending: list[OutboxLines] = []
    assert remote._accept(_Chunk("9", 0, 0, 100, b"x\n" * 50), pending) is None  # all of it already taken
    overlap = remote._accept(_Chunk("9", 0, 50, 120, b"a\n" * 35), pending)
    assert overlap is not None and (overlap.start_offset, overlap.end_offset) == (50, 120)
    assert remote._accept(_Chunk("9", 0, 200, 210, b"b\n" * 5), [overlap]) is None  # a gap after 120
    sent = [json.loads(remote._writes.get_nowait()) for _ in range(remote._writes.qsize())]
    assert sent == [
        {"op": "follow", "job": "9", "offsets": {"0": 100}},
        {"op": "rewind", "job": "9", "node": 0, "offset": 120},
    ]
    await remote._deliver([overlap])
    assert remote.expected[("9", 0)] == 120 and len(sink.calls) == 1
    assert remote._accept(_Chunk("1", 0, 0, 2, b"c\n"), []) is None  # not followed

"""No record is too big for the followers: a line of any length is read to its newline, and one over
RECORD_LIMIT is skipped, in bounded memory, and reported in its place (never silently, never stalling).

Both followers run on real files: the router's local follower in this process, the login node's as
the real program it is (services/node/login_follower.py over pipes)."""

from __future__ import annotations

import concurrent.futures
import functools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from router.providers.base import OutboxLines
from router.providers.local.outbox_poller import POLL_BYTES, LocalOutboxFollower
from router.translate import translate_record
from services.node.outbox import encode_record
from services.node.records import NODE_RECORD_TOO_BIG, RECORD_LIMIT, outbox_path
from services.protocol import EventName
from tests.unit.test_slurm_follower_channel import FollowerProcess

BIG = 6 << 20  # over the 4 MiB that used to stall a node's ingestion
HUGE = RECORD_LIMIT + (1 << 20)


@functools.cache
def record(seq: int, pad: int = 0) -> bytes:
    """An outbox line as a node writes it: a runtime record with `pad` characters of output (the same
    bytes every time it is asked for)."""
    payload = {"method": "item/commandExecution/outputDelta", "params": {"delta": "y" * pad}}
    return encode_record(seq, "7", 0, "inj-1", "runtime", payload)


async def _ignore(_chunks: Sequence[OutboxLines]) -> None:
    return None


def append(base: Path, data: bytes) -> None:
    path = Path(outbox_path(str(base), "7", 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as handle:
        handle.write(data)


def local_lines(follower: LocalOutboxFollower) -> list[bytes]:
    return [line for chunks in iter(follower.read_new_lines, []) for chunk in chunks for line in chunk.lines]


@pytest.fixture
def local(tmp_path: Path) -> LocalOutboxFollower:
    follower = LocalOutboxFollower(str(tmp_path), _ignore, poll_s=0.005)
    follower.follow("7", {0: 0})
    return follower


def assert_reports_skipped(line: bytes, seq: int, size: int) -> None:
    """`line` stands for the skipped record: same seq and injection, and it becomes a warning event."""
    stand_in = json.loads(line)
    assert stand_in["seq"] == seq and stand_in["injection_id"] == "inj-1"
    assert stand_in["payload"]["method"] == NODE_RECORD_TOO_BIG
    assert stand_in["payload"]["params"] == {"bytes": size, "limit": RECORD_LIMIT, "kind": "runtime"}
    ((event, fields),) = translate_record(stand_in)
    assert event is EventName.AGENT_WARNING and fields["code"] == "recordTooBig"
    assert str(size) in fields["message"] and str(RECORD_LIMIT) in fields["message"]


def test_the_local_follower_reads_a_line_over_4_mib_whole_and_goes_on(
    tmp_path: Path, local: LocalOutboxFollower
) -> None:
    big = record(2, BIG)
    append(tmp_path, record(1) + big + record(3))
    assert BIG > 4 << 20 and len(big) > POLL_BYTES
    assert local_lines(local) == [record(1).rstrip(b"\n"), big.rstrip(b"\n"), record(3).rstrip(b"\n")]


def test_the_local_follower_skips_a_line_over_the_limit_and_reports_it(
    tmp_path: Path, local: LocalOutboxFollower
) -> None:
    huge = record(2, HUGE)
    append(tmp_path, record(1) + huge[: RECORD_LIMIT + 10])  # still being written: nothing to take yet
    assert local_lines(local) == [record(1).rstrip(b"\n")]
    assert local_lines(local) == []
    append(tmp_path, huge[RECORD_LIMIT + 10 :] + record(3))
    first, after = local_lines(local)
    assert_reports_skipped(first, 2, len(huge) - 1)
    assert after == record(3).rstrip(b"\n")
    append(tmp_path, record(4))
    assert local_lines(local) == [record(4).rstrip(b"\n")]


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[FollowerProcess]:
    (tmp_path / "mailbox" / "outbox").mkdir(parents=True)
    running = FollowerProcess(tmp_path)
    yield running
    running.process.kill()
    running.process.wait()


def _read_until(follower: FollowerProcess, until_seq: int) -> list[bytes]:
    lines: list[bytes] = []
    while not lines or json.loads(lines[-1])["seq"] != until_seq:
        header = follower.header()
        data = follower.stdout.read(header.get("size", header["end"] - header["start"]))
        assert data.endswith(b"\n")
        lines += data[:-1].split(b"\n")
    return lines


def remote_lines(follower: FollowerProcess, until_seq: int, within_s: float = 30.0) -> list[bytes]:
    """Lines the login-node follower streams, by its headers, up to the record with seq `until_seq`;
    a follower that stalls fails the test after `within_s`."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        reading = pool.submit(_read_until, follower, until_seq)
        try:
            return reading.result(timeout=within_s)
        except TimeoutError:
            follower.process.kill()  # ends the blocked read
            raise AssertionError(f"the follower sent no record {until_seq} within {within_s} s") from None


def test_the_cluster_follower_streams_a_line_over_4_mib_and_skips_one_over_the_limit(
    tmp_path: Path, remote: FollowerProcess
) -> None:
    big, huge = record(2, BIG), record(3, HUGE)
    append(tmp_path, record(1) + big + huge + record(4))
    remote.send(op="follow", job="7", offsets={"0": 0})
    one, two, three, four = remote_lines(remote, until_seq=4)
    assert (one, two, four) == (record(1)[:-1], big[:-1], record(4)[:-1])
    assert_reports_skipped(three, 3, len(huge) - 1)
    append(tmp_path, record(5))
    assert remote_lines(remote, until_seq=5) == [record(5)[:-1]]

"""Heartbeats alone are held, up to half their node's period, and handed over together; any other
record hands over everything at once."""

from __future__ import annotations

import orjson

from router.heartbeat_hold import HeartbeatHold, heartbeat_ts
from router.providers.base import OutboxLines


def beat(seq: int, ts: float) -> bytes:
    record = {"seq": seq, "ts": ts, "job_id": "7", "node_id": 0, "injection_id": None, "kind": "heartbeat"}
    return orjson.dumps(record | {"payload": {}})


def chunk(lines: list[bytes], start: int, node_id: int = 0) -> OutboxLines:
    return OutboxLines("7", node_id, lines, start + sum(len(line) + 1 for line in lines), start)


def learnt(hold: HeartbeatHold) -> int:
    """Two heartbeats 2 s apart: the first is handed over at once (no period known), the second, which
    teaches the period, is held half of it; the offset after them."""
    first = chunk([beat(1, 100.0)], 0)
    second = chunk([beat(2, 102.0)], first.end_offset)
    assert hold.take([first], 0.0) == [first]
    assert hold.take([second], 2.0) == []
    assert hold.take([], 3.0) == [second]
    return second.end_offset


def test_a_heartbeat_is_held_half_its_period_and_handed_over_with_the_next() -> None:
    hold = HeartbeatHold()
    offset = learnt(hold)
    third = chunk([beat(3, 104.0)], offset)
    fourth = chunk([beat(4, 104.5)], third.end_offset)
    assert hold.take([third], 4.0) == []
    assert hold.due == 5.0  # half of the 2 s period
    assert hold.take([fourth], 4.5) == []  # 0.5 s later: a shorter period, due sooner
    assert hold.due == 4.75
    assert hold.take([], 4.7) == []
    (released,) = hold.take([], 4.75)
    assert released.lines == [*third.lines, *fourth.lines]
    assert (released.start_offset, released.end_offset) == (third.start_offset, fourth.end_offset)
    assert hold.due is None


def test_any_other_record_hands_over_what_is_held_at_once() -> None:
    hold = HeartbeatHold()
    offset = learnt(hold)
    held = chunk([beat(3, 104.0)], offset)
    delivered = b'{"seq":4,"ts":104.1,"kind":"runtime","payload":{"method":"codeswarm/injectionDelivered"}}'
    other = chunk([delivered], 0, node_id=1)
    assert hold.take([held], 4.0) == []
    assert hold.take([other], 4.1) == [held, other]
    assert hold.due is None


def test_a_node_not_followed_any_more_leaves_nothing_held() -> None:
    hold = HeartbeatHold()
    offset = learnt(hold)
    assert hold.take([chunk([beat(3, 104.0)], offset)], 4.0) == []
    hold.forget("7")
    assert hold.due is None and hold.take([], 10.0) == []
    first_again = chunk([beat(5, 108.0)], 0)
    assert hold.take([first_again], 10.0) == [first_again]  # its period is forgotten too


def test_only_heartbeat_records_are_told_apart() -> None:
    assert heartbeat_ts(beat(1, 100.5)) == 100.5
    assert heartbeat_ts(b'{"seq":1,"ts":1.0,"kind":"runtime","payload":{"text":"heartbeat"}}') is None
    assert heartbeat_ts(b'{"kind":"heartbeat", not json') is None
    assert heartbeat_ts(b'["heartbeat"]') is None
    assert heartbeat_ts(b'{"seq":1,"kind":"heartbeat","ts":true}') is None
    assert heartbeat_ts(beat(1, 1.0)[:-1] + b',"pad":"' + b"x" * 600 + b'"}') is None  # too long to be one

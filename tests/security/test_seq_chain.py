"""The chain of seqs: a node numbers its records 1, 2, 3, ...; a line whose seq skips ahead is not believed,
neither by the router's ingest (router/ingest_records.py) nor by a restarted node learning its last seq
(services/node/recovery.py), so a forged seq of 10**18 cannot blind either."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from router.ingest_nodes import SEQ_GAP_WARN_S, TrackedNode, seq_gaps_to_report
from router.ingest_records import SeqGaps, new_records
from services.node.outbox import Outbox, encode_record
from services.node.records import RECORD_LIMIT
from services.node.recovery import read_outbox_state
from services.protocol import NodeStatus

FORGED = 10**12


def line(seq: object, **extra: object) -> bytes:
    return orjson.dumps({"seq": seq, "ts": 1.0, "kind": "heartbeat", "payload": {}, **extra})


def read(lines: list[bytes], after: int) -> tuple[list[int], SeqGaps]:
    gaps = SeqGaps()
    return [record.seq for record in new_records(lines, after, "job/0", gaps)], gaps


def test_only_the_next_seq_continues_the_chain() -> None:
    seqs, gaps = read([line(3), line(4), line(FORGED), line(5), line(7), line(6)], after=2)
    assert seqs == [3, 4, 5, 6]
    assert (gaps.count, gaps.highest) == (2, FORGED)


def test_lines_already_read_are_skipped_without_a_gap() -> None:
    seqs, gaps = read([line(1), line(2), line(3), line(4)], after=2)
    assert seqs == [3, 4] and gaps.count == 0


def test_a_seq_that_is_not_an_integer_is_no_record() -> None:
    seqs, gaps = read([line("3"), line(3.0), line(True), line(3)], after=2)
    assert seqs == [3] and gaps.count == 0


def test_seq_gap_warnings_are_rate_limited_per_node() -> None:
    node = TrackedNode("sw", "local", "job", 0, 0, 0, 0, NodeStatus.IDLE)
    assert seq_gaps_to_report(node, 3, now=100.0) == 3
    assert seq_gaps_to_report(node, 1000, now=101.0) is None
    assert seq_gaps_to_report(node, 2, now=100.0 + SEQ_GAP_WARN_S) == 1002


def write(path: Path, lines: list[bytes]) -> str:
    path.write_bytes(b"".join(item + b"\n" for item in lines))
    return str(path)


def test_a_restarted_node_does_not_jump_to_a_forged_seq_at_the_end(tmp_path: Path) -> None:
    lines = [encode_record(seq, "job", 0, None, "heartbeat", {}).rstrip(b"\n") for seq in range(1, 6)]
    state = read_outbox_state(write(tmp_path / "out.jsonl", [*lines, line(FORGED)]))
    assert state.last_seq == 5


def test_a_restarted_node_follows_the_chain_past_forged_lines_in_the_middle(tmp_path: Path) -> None:
    lines = [line(1), line(FORGED), line(2), line("3"), line(3), b"{not json", line(4), line(2)] + [line(9)] * 20
    assert read_outbox_state(write(tmp_path / "out.jsonl", lines)).last_seq == 4


def test_a_restarted_node_refuses_what_the_router_cannot_read(tmp_path: Path) -> None:
    """orjson (the router) refuses NaN, infinities and lone surrogates: such a line does not continue the
    chain for the node either, or its next records would all look like a gap to the router."""
    lines = [line(1), b'{"seq": 2, "x": NaN}', b'{"seq": 2, "x": 1e400}', b'{"seq": 2, "x": "\\ud800"}', line(2)]
    lines.append(b'{"seq": 3, "x": "\\ud83d\\ude00"}')  # a surrogate pair is fine
    assert read_outbox_state(write(tmp_path / "out.jsonl", lines)).last_seq == 3


def test_an_over_long_line_counts_by_the_seq_at_its_head(tmp_path: Path) -> None:
    """As the followers read it: they replace it by a recordTooBig record with that seq."""
    huge = b'{"seq": 2, "payload": "' + b"x" * (RECORD_LIMIT + 10) + b'"}'
    path = write(tmp_path / "out.jsonl", [line(1), huge, line(3)])
    state = read_outbox_state(path)
    assert state.last_seq == 3 and state.ends_with_newline


def test_a_torn_last_line_does_not_count(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(line(1) + b"\n" + line(2)[:-3])
    state = read_outbox_state(str(path))
    assert state.last_seq == 1 and not state.ends_with_newline


def test_the_node_writes_only_lines_the_router_reads(tmp_path: Path) -> None:
    """A runtime message holding NaN or a lone surrogate still makes a readable line (null, "?"):
    a line the router cannot read would end the chain."""
    outbox = Outbox(str(tmp_path / "out.jsonl"), "job", 0)
    outbox.write("runtime", {"method": "x", "params": {"value": float("nan"), "text": "bad \udcff byte"}})
    outbox.write("runtime", {"method": "y", "params": {"text": "é 😀"}})
    outbox.close()
    written = (tmp_path / "out.jsonl").read_bytes().splitlines()
    seqs, gaps = read(written, after=0)
    assert seqs == [1, 2] and gaps.count == 0
    assert orjson.loads(written[0])["payload"]["params"] == {"value": None, "text": "bad ? byte"}
    assert json.loads(written[1])["payload"]["params"]["text"] == "é 😀"

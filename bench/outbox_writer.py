"""Appends agentMessage delta records straight to running nodes' outbox files, in the node's own format.

Run as its own process by bench/bench_throughput.py, so that writing competes with the router and the
mirror the way a node program does, not with the benchmark's clients inside one interpreter.  Every
record is made by the node program's own ``encode_record``; its ``ts`` and the payload's ``sentNs`` are
stamped at the moment of the append (a placeholder is filled in per write), so latency is measured from
the append.  ``--rate 0`` appends as fast as possible, in writes of ``--chunk`` records per file;
a rate appends one record at a time on a fixed schedule spread over the files.

Usage (internal): ``python -m bench.outbox_writer SPEC_JSON`` with
``{"outboxes": [{"path", "job_id", "node_id", "first_seq"}], "records": N, "rate": R, "chunk": C,
"text_bytes": B}``; prints ``{"records", "seconds"}`` as JSON when done.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from typing import Any

import orjson

from services.node.outbox import encode_record
from services.node.records import KIND_RUNTIME

TS = b"@TS@"  # placeholders, filled in at the moment of the write
NS = b"@NS@"
_TS_FIELD = re.compile(rb'"ts": [0-9.e+-]+')
WORD = "lorem "


def delta_text(node_id: int, seq: int, text_bytes: int) -> str:
    """The text of one delta: unique per (node, seq), so a client can check the concatenation exactly."""
    head = f"[{node_id}:{seq}]"
    return head + (WORD * (1 + text_bytes // len(WORD)))[: max(0, text_bytes - len(head))]


def record_line(job_id: str, node_id: int, seq: int, text: str) -> bytes:
    """One outbox line of an ``item/agentMessage/delta`` with placeholders for its times."""
    payload: dict[str, Any] = {
        "method": "item/agentMessage/delta",
        "params": {
            "threadId": f"thread-{node_id}",
            "turnId": "turn-bench",
            "itemId": f"msg-bench-{node_id}",
            "delta": text,
            "sentNs": 0,
        },
    }
    line = encode_record(seq, job_id, node_id, "in-bench", KIND_RUNTIME, payload)
    return _TS_FIELD.sub(b'"ts": ' + TS, line, count=1).replace(b'"sentNs": 0', b'"sentNs": ' + NS)


def stamped(lines: bytes) -> bytes:
    now = time.time_ns()
    return lines.replace(TS, b"%.6f" % (now / 1e9)).replace(NS, b"%d" % now)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@dataclass
class Outbox:
    fd: int
    lines: list[bytes]


def open_outboxes(spec: dict[str, Any]) -> list[Outbox]:
    per_node = spec["records"] // len(spec["outboxes"])
    opened = []
    for box in spec["outboxes"]:
        first = box["first_seq"]
        lines = [
            record_line(box["job_id"], box["node_id"], seq, delta_text(box["node_id"], seq, spec["text_bytes"]))
            for seq in range(first, first + per_node)
        ]
        opened.append(Outbox(os.open(box["path"], os.O_WRONLY | os.O_APPEND), lines))
    return opened


def flat_out(outboxes: list[Outbox], chunk: int) -> None:
    for start in range(0, max(len(box.lines) for box in outboxes), chunk):
        for box in outboxes:
            if start < len(box.lines):
                write_all(box.fd, stamped(b"".join(box.lines[start : start + chunk])))


def paced(outboxes: list[Outbox], rate: float) -> None:
    schedule = [(box, box.lines[index]) for index in range(len(outboxes[0].lines)) for box in outboxes]
    began = time.monotonic()
    for n, (box, line) in enumerate(schedule):
        due = began + n / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        write_all(box.fd, stamped(line))


def main(spec: dict[str, Any]) -> dict[str, Any]:
    outboxes = open_outboxes(spec)
    began = time.monotonic()
    if spec["rate"] > 0:
        paced(outboxes, spec["rate"])
    else:
        flat_out(outboxes, spec["chunk"])
    seconds = time.monotonic() - began
    for box in outboxes:
        os.close(box.fd)
    return {"records": sum(len(box.lines) for box in outboxes), "seconds": round(seconds, 3)}


if __name__ == "__main__":
    print(orjson.dumps(main(orjson.loads(sys.argv[1]))).decode(), flush=True)

"""The outbox follower: runs on a cluster's login node and streams the outboxes of followed jobs.

One follower per cluster serves every job of that cluster over one SSH channel.  Run as
``PYTHONPATH=<node.pyz> python3 -m services.node.login_follower --base <base>``.  Standard library only.

Commands arrive on stdin, one JSON object per line::

    {"op": "follow", "job": "123", "offsets": {"0": 0, "1": 4096}}   start (or move) at these byte offsets
    {"op": "unfollow", "job": "123"}
    {"op": "rewind", "job": "123", "node": 0, "offset": 0}          read again from offset
    {"op": "drain", "job": "123", "token": 7}                       read now, then say {"drained": 7}

Output on stdout: a JSON header line, and for a chunk of outbox lines the raw bytes right after it::

    {"ready": true}
    {"job": "123", "node": 0, "start": 0, "end": 512}   followed by exactly end - start bytes
    {"drained": 7}

A chunk holds complete lines only: the file's bytes [start, end), except that a record longer than
RECORD_LIMIT is replaced by a shorter line reporting it (services/node/outbox_lines.py): the header then says how
many bytes follow (`"size": n`).  End of stdin (the router went away) ends the follower.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import queue
import sys
import threading
from collections.abc import Sequence
from typing import Any, BinaryIO

from services.node.outbox_lines import OutboxFile
from services.node.private_files import keep_files_private
from services.node.records import outbox_path

READ_BYTES = 4 << 20  # bytes per file per pass (more only to complete one longer line)


class Follower:
    def __init__(self, base: str, out: BinaryIO) -> None:
        self.base = base
        self.out = out
        self.files: dict[tuple[str, int], OutboxFile] = {}

    def apply(self, command: dict[str, Any]) -> None:
        op, job = command.get("op"), str(command.get("job"))
        if op == "follow":
            for node, offset in command["offsets"].items():
                self._forget(job, int(node))
                self.files[(job, int(node))] = OutboxFile(outbox_path(self.base, job, int(node)), int(offset))
        elif op == "unfollow":
            for key in [key for key in self.files if key[0] == job]:
                self._forget(*key)
        elif op == "rewind":
            followed = self.files.get((job, int(command["node"])))
            if followed is not None:
                followed.offset = int(command["offset"])
        elif op == "drain":
            self.scan(job)
            self.emit({"drained": command["token"]})
        else:
            raise ValueError(f"unknown op {op!r}")

    def _forget(self, job: str, node: int) -> None:
        followed = self.files.pop((job, node), None)
        if followed is not None:
            followed.close()

    def scan(self, only_job: str | None = None) -> int:
        """Send every complete new line of the followed files; the number of bytes sent."""
        sent = 0
        for (job, node), followed in self.files.items():
            if only_job is None or job == only_job:
                sent += self._send_new(job, node, followed)
        if sent:
            self.out.flush()
        return sent

    def _send_new(self, job: str, node: int, followed: OutboxFile) -> int:
        read = followed.read(READ_BYTES)
        if read is None:
            return 0  # nothing, or only a partial line so far
        data = b"".join(line + b"\n" for line in read.lines)
        header = {"job": job, "node": node, "start": read.start, "end": read.end}
        if len(data) != read.end - read.start:
            header["size"] = len(data)  # a record was skipped
        self.emit(header)
        self.out.write(data)
        return len(data)

    def emit(self, header: dict[str, Any]) -> None:
        self.out.write(json.dumps(header, separators=(",", ":")).encode() + b"\n")
        self.out.flush()


def _read_commands(source: BinaryIO, commands: queue.Queue[dict[str, Any] | None]) -> None:
    for line in source:
        if line.strip():
            try:
                commands.put(json.loads(line))
            except ValueError as exc:
                print(f"codeswarm-follower: bad command {line[:200]!r}: {exc}", file=sys.stderr, flush=True)
    commands.put(None)


def serve(base: str, source: BinaryIO, out: BinaryIO, poll_s: float) -> None:
    """Follow until `source` ends: apply commands as they come, scan the files every poll_s."""
    follower = Follower(base, out)
    commands: queue.Queue[dict[str, Any] | None] = queue.Queue()
    threading.Thread(target=_read_commands, args=(source, commands), daemon=True).start()
    follower.emit({"ready": True})
    while True:
        try:
            command = commands.get(timeout=poll_s)
        except queue.Empty:
            follower.scan()
            continue
        if command is None:
            return
        try:
            follower.apply(command)
        except (KeyError, TypeError, ValueError) as exc:
            print(f"codeswarm-follower: cannot apply {command!r}: {exc}", file=sys.stderr, flush=True)
        if commands.empty():
            follower.scan()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="codeswarm-follower", description="Stream the outboxes of followed jobs.")
    parser.add_argument("--base", required=True, help="the directory holding mailbox/")
    parser.add_argument("--poll-s", type=float, default=0.05, help="how often the files are checked")
    args = parser.parse_args(argv)
    keep_files_private()
    with contextlib.suppress(BrokenPipeError):  # the router went away
        serve(args.base, sys.stdin.buffer, sys.stdout.buffer, args.poll_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())

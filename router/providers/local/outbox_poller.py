"""Follows outbox files on a local (or locally mounted) filesystem by polling byte offsets.

A poll reads at most ``POLL_BYTES`` in all, shared by the files (at least ``FILE_BYTES`` each; more
only to complete one longer line, up to ``RECORD_LIMIT``: a longer one is skipped and reported, see
services/node/outbox_lines.py), so one ingest batch stays bounded and the event loop is never held by
one huge read; when a file had more, the next poll comes at once.
Polls that find nothing space out, up to ``IDLE_POLLS`` times the poll interval, and the first new
line brings them back.
"""

from __future__ import annotations

import asyncio
import logging

from router.providers.base import LinesSink, OutboxLines
from services.node.outbox_lines import OutboxFile
from services.node.records import outbox_path

log = logging.getLogger(__name__)

POLL_BYTES = 2 << 20  # all files together, per poll
FILE_BYTES = 64 << 10  # the least read of a file per poll
IDLE_POLLS = 5  # an idle follower polls at most this many poll intervals apart


class LocalOutboxFollower:
    def __init__(self, base: str, sink: LinesSink, poll_s: float) -> None:
        self.base = base
        self.sink = sink
        self.poll_s = poll_s
        self.files: dict[tuple[str, int], OutboxFile] = {}
        self._task: asyncio.Task[None] | None = None
        self._reading = asyncio.Lock()
        self._more = False  # the last read left complete lines behind
        self._found = False  # the last read found lines

    def follow(self, job_id: str, offsets: dict[int, int]) -> None:
        for node_id, offset in offsets.items():
            self.files[(job_id, node_id)] = OutboxFile(outbox_path(self.base, job_id, node_id), offset)

    def unfollow(self, job_id: str) -> None:
        for key in [key for key in self.files if key[0] == job_id]:
            self.files.pop(key).close()

    def rewind(self, job_id: str, node_id: int, offset: int) -> None:
        followed = self.files.get((job_id, node_id))
        if followed is not None:
            followed.offset = offset

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="local-outbox-follower")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for job_id in {key[0] for key in self.files}:
            self.unfollow(job_id)

    def read_new_lines(self) -> list[OutboxLines]:
        chunks = []
        self._more = False
        budget = max(FILE_BYTES, POLL_BYTES // max(1, len(self.files)))
        for (job_id, node_id), followed in self.files.items():
            read = followed.read(budget)
            if read is None:
                continue  # nothing, or only a partial line so far
            self._more = self._more or read.more
            chunks.append(OutboxLines(job_id, node_id, read.lines, read.end, read.start))
        self._found = bool(chunks)
        return chunks

    async def drain(self) -> bool:
        """Read and ingest what is there now; False when ingesting failed (the lines are re-read later)."""
        async with self._reading:
            chunks = self.read_new_lines()
            if not chunks:
                return True
            try:
                await self.sink(chunks)
            except Exception:
                log.exception("ingest failed; these lines will be read again")
                for chunk in chunks:
                    self.rewind(chunk.job_id, chunk.node_id, chunk.start_offset)
                return False
            return True

    async def _run(self) -> None:
        idle_polls = 0  # polls in a row that found nothing
        while True:
            if not await self.drain():
                await asyncio.sleep(self.poll_s * 20)
            elif self._more:
                await asyncio.sleep(0)  # read on at once, after the rest of the loop had its turn
            else:
                idle_polls = 0 if self._found else idle_polls + 1
                await asyncio.sleep(self.poll_s * min(1 + idle_polls, IDLE_POLLS))

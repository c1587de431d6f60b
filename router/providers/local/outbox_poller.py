"""Follows outbox files on a local (or locally mounted) filesystem by polling byte offsets.

A poll reads at most ``POLL_BYTES`` in all, shared by the files (at least ``FILE_BYTES`` each; more
only to complete one longer line, up to ``RECORD_LIMIT``: a longer one is skipped and reported, see
services/node/outbox_lines.py), so one ingest batch stays bounded and the event loop is never held by
one huge read; when a file had more, the next poll comes at once.
Polls that find nothing space out, each twice the last, up to ``IDLE_POLLS`` times the poll interval,
and the first new line brings them back.  Where the kernel reports writes (inotify on Linux,
services/node/file_watch.py) a write to a followed file ends an idle wait at once, so a spaced-out
poll costs no latency; a write from another host to a mounted filesystem is found by the polls.  The
reports are listened to only during an idle wait: while lines flow, the polls find every write, and a
node writing a thousand records a second would otherwise wake the router a thousand times a second
(most of its CPU at that rate, measured).  Each poll first consumes the reports so far, so a write
after its read still ends the next wait.
Once every followed file is watched (a file that does not exist yet is watched from the poll that
finds it), an idle follower needs no ramp of polls to see a write soon: it waits for the next write,
polling at most every ``WATCHED_POLL_S`` (an idle swarm's heartbeats then cost one read each, not the
ramp of empty polls that followed every one of them).  Reads of heartbeats alone are held a while and
handed over together (router/heartbeat_hold.py): one ingest for many heartbeats.
"""

from __future__ import annotations

import asyncio
import logging
import time

from router.heartbeat_hold import HeartbeatHold
from router.providers.base import LinesSink, OutboxLines
from services.node.file_watch import FileWatch
from services.node.outbox_lines import OutboxFile
from services.node.records import outbox_path
from services.waiting import wait_event

log = logging.getLogger(__name__)

POLL_BYTES = 2 << 20  # all files together, per poll
FILE_BYTES = 64 << 10  # the least read of a file per poll
IDLE_POLLS = 20  # an idle follower polls at most this many poll intervals apart
WATCHED_POLL_S = 1.0  # an idle follower whose files are all watched polls at least this far apart


class LocalOutboxFollower:
    def __init__(self, base: str, sink: LinesSink, poll_s: float) -> None:
        self.base = base
        self.sink = sink
        self.poll_s = poll_s
        self.files: dict[tuple[str, int], OutboxFile] = {}
        self._task: asyncio.Task[None] | None = None
        self._reading = asyncio.Lock()
        self._more = False  # the last read left complete lines behind
        self._found = False  # the last drain handed lines over (held heartbeats are not worth a pause)
        self._watch = FileWatch()
        self._watched: dict[tuple[str, int], int] = {}  # followed file → its inotify watch
        self._written = asyncio.Event()  # a followed file was written since the last wait
        self._hold = HeartbeatHold()

    def follow(self, job_id: str, offsets: dict[int, int]) -> None:
        for node_id, offset in offsets.items():
            self.files[(job_id, node_id)] = OutboxFile(outbox_path(self.base, job_id, node_id), offset)
            self._try_watch((job_id, node_id))

    def _try_watch(self, key: tuple[str, int]) -> None:
        wd = self._watch.add(self.files[key].path)
        if wd is not None:
            self._watched[key] = wd

    @property
    def all_watched(self) -> bool:
        """Every followed file reports its writes (not before the first is followed)."""
        return self._watch.fd is not None and bool(self.files) and len(self._watched) == len(self.files)

    def unfollow(self, job_id: str) -> None:
        for key in [key for key in self.files if key[0] == job_id]:
            self.files.pop(key).close()
            wd = self._watched.pop(key, None)
            if wd is not None:
                self._watch.remove(wd)
        self._hold.forget(job_id)

    def rewind(self, job_id: str, node_id: int, offset: int) -> None:
        followed = self.files.get((job_id, node_id))
        if followed is not None:
            followed.offset = offset
        self._hold.drop(job_id, node_id)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="local-outbox-follower")

    def _on_write(self) -> None:
        self._watch.drain()
        self._written.set()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for job_id in {key[0] for key in self.files}:
            self.unfollow(job_id)
        self._watch.close()

    def read_new_lines(self) -> list[OutboxLines]:
        chunks = []
        self._more = False
        budget = max(FILE_BYTES, POLL_BYTES // max(1, len(self.files)))
        for (job_id, node_id), followed in self.files.items():
            if self._watch.fd is not None and (job_id, node_id) not in self._watched:
                self._try_watch((job_id, node_id))  # before the read: a write after it raises an event
            read = followed.read(budget)
            if read is None:
                continue  # nothing, or only a partial line so far
            self._more = self._more or read.more
            chunks.append(OutboxLines(job_id, node_id, read.lines, read.end, read.start))
        return chunks

    async def drain(self) -> bool:
        """Read and ingest what is there now; False when ingesting failed (the lines are re-read later)."""
        async with self._reading:
            self._watch.drain()  # writes up to here are read now; a later one ends the next wait
            chunks = self._hold.take(self.read_new_lines(), time.monotonic())
            self._found = bool(chunks)
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
        idle_wait_s = self.poll_s  # how long the next poll that finds nothing waits for a write
        while True:
            if not await self.drain():
                await asyncio.sleep(self.poll_s * 20)
            elif self._more:
                await asyncio.sleep(0)  # read on at once, after the rest of the loop had its turn
            elif self._found:
                idle_wait_s = self.poll_s
                await asyncio.sleep(self.poll_s)  # lines come in batches of one poll interval at most
            elif self.all_watched:
                await self._wait_for_write(self._until_held_due(max(WATCHED_POLL_S, self.poll_s * IDLE_POLLS)))
            else:
                await self._wait_for_write(self._until_held_due(idle_wait_s))
                idle_wait_s = min(2 * idle_wait_s, self.poll_s * IDLE_POLLS)

    async def _wait_for_write(self, wait_s: float) -> None:
        """Until a followed file is written (where the kernel reports it), or ``wait_s``."""
        self._written.clear()
        fd = self._watch.fd
        if fd is None:
            await asyncio.sleep(wait_s)
            return
        loop = asyncio.get_running_loop()
        loop.add_reader(fd, self._on_write)
        try:
            await wait_event(self._written, wait_s)
        finally:
            loop.remove_reader(fd)

    def _until_held_due(self, wait_s: float) -> float:
        """An idle wait of wait_s, ending when held heartbeats are due."""
        due = self._hold.due
        return wait_s if due is None else max(0.0, min(wait_s, due - time.monotonic()))

"""The router's end of a cluster's outbox follower (services/node/login_follower.py runs on the login node).

One channel carries every followed outbox of the cluster.  The router keeps, per node, the offset up
to which the sink has taken the lines (`expected`); every (re)started follower is told to follow from
there, so nothing is lost across a reconnect, and what comes twice is dropped by seq in the ingest.
A chunk that starts beyond `expected` (left over from before a rewind) is dropped and the node rewound.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import paramiko

from router.providers.base import LinesSink, OutboxLines
from router.ssh.connection import SshConnection

log = logging.getLogger(__name__)

FRAME_QUEUE = 256  # chunks read ahead of the sink; beyond this the channel (and the follower) waits
BATCH = 128  # chunks per sink call at most
DRAIN_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class _Chunk:
    job: str
    node: int
    start: int
    end: int
    data: bytes


@dataclass(frozen=True)
class _Drained:
    token: int


_Frame = _Chunk | _Drained


class RemoteFollower:
    def __init__(
        self,
        ssh: SshConnection,
        command: Callable[[], Awaitable[str]],
        sink: LinesSink,
        retry_min_s: float = 0.25,
        retry_max_s: float = 10.0,
    ) -> None:
        self.ssh = ssh
        self.command = command  # the remote command line (after making sure the program is there)
        self.sink = sink
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.expected: dict[tuple[str, int], int] = {}
        self._rewound: set[tuple[str, int]] = set()
        self._writes: asyncio.Queue[bytes] | None = None  # commands for the current channel
        self._frames: asyncio.Queue[_Frame] = asyncio.Queue(FRAME_QUEUE)
        self._drains: dict[int, asyncio.Future[None]] = {}
        self._tokens = 0
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    # ---- what the provider asks for ------------------------------------------------------------

    def follow(self, job_id: str, offsets: dict[int, int]) -> None:
        for node_id, offset in offsets.items():
            self.expected[(job_id, node_id)] = offset
        self._send({"op": "follow", "job": job_id, "offsets": {str(n): o for n, o in offsets.items()}})

    def unfollow(self, job_id: str) -> None:
        for key in [key for key in self.expected if key[0] == job_id]:
            del self.expected[key]
            self._rewound.discard(key)
        self._send({"op": "unfollow", "job": job_id})

    def rewind(self, job_id: str, node_id: int, offset: int) -> None:
        if (job_id, node_id) in self.expected:
            self.expected[(job_id, node_id)] = offset
            self._rewound.add((job_id, node_id))
            self._send({"op": "rewind", "job": job_id, "node": node_id, "offset": offset})

    async def drain(self, job_id: str) -> None:
        """Everything the job's nodes wrote so far reaches the sink before this returns (or times out)."""
        if self._writes is None:
            return  # no follower now: the lines come after the reconnect
        self._tokens += 1
        token = self._tokens
        done = self._drains[token] = asyncio.get_running_loop().create_future()
        self._send({"op": "drain", "job": job_id, "token": token})
        try:
            await asyncio.wait_for(done, DRAIN_TIMEOUT_S)
        except TimeoutError:
            log.warning("draining the outboxes of job %s took over %ss", job_id, DRAIN_TIMEOUT_S)
        finally:
            self._drains.pop(token, None)

    def _send(self, command: dict[str, Any]) -> None:
        if self._writes is not None:
            self._writes.put_nowait(json.dumps(command).encode() + b"\n")

    # ---- running -------------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._connect_loop(), name="slurm-follower"),
            asyncio.create_task(self._consume(), name="slurm-follower-ingest"),
        ]

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _connect_loop(self) -> None:
        delay = self.retry_min_s
        while True:
            try:
                channel = await self.ssh.open_process(await self.command(), timeout_s=30)
            except Exception as exc:
                log.warning("cannot start the outbox follower on %s: %s", self.ssh.target.label, exc)
                await asyncio.sleep(delay)  # back-off before the next attempt
                delay = min(self.retry_max_s, delay * 2)
                continue
            loop = asyncio.get_running_loop()
            started = loop.time()
            writes: asyncio.Queue[bytes] = asyncio.Queue()
            self._writes = writes
            for job_id in {job for job, _ in self.expected}:
                offsets = {str(n): o for (j, n), o in self.expected.items() if j == job_id}
                writes.put_nowait(json.dumps({"op": "follow", "job": job_id, "offsets": offsets}).encode() + b"\n")
            writer = asyncio.create_task(self._write(channel, writes), name="slurm-follower-commands")
            try:
                await self.ssh.call(functools.partial(self._read, channel, loop))
            except Exception as exc:
                log.warning("the outbox follower on %s stopped: %s", self.ssh.target.label, exc)
            finally:
                self._writes = None
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)
                await self.ssh.call(channel.close)
                for waiting in self._drains.values():
                    if not waiting.done():
                        waiting.set_result(None)
            log.info("the outbox follower on %s ended; starting it again", self.ssh.target.label)
            delay = self.retry_min_s if loop.time() - started > self.retry_max_s else min(self.retry_max_s, delay * 2)
            await asyncio.sleep(delay)

    async def _write(self, channel: paramiko.Channel, writes: asyncio.Queue[bytes]) -> None:
        while True:
            line = await writes.get()
            await self.ssh.call(functools.partial(channel.sendall, line))

    def _read(self, channel: paramiko.Channel, loop: asyncio.AbstractEventLoop) -> None:
        """On a connection thread until the channel ends: frames → the ingest queue (with back-pressure)."""
        stream = channel.makefile("rb")
        while not self._stopping:
            header_line = stream.readline()
            if not header_line:
                if channel.recv_stderr_ready():
                    log.warning("outbox follower said: %s", channel.recv_stderr(4096).decode(errors="replace"))
                return
            header = json.loads(header_line)
            frame: _Frame
            if "job" in header:
                size = int(header.get("size", header["end"] - header["start"]))  # less: a record was skipped
                data = stream.read(size)
                if len(data) < size:
                    return
                frame = _Chunk(header["job"], int(header["node"]), header["start"], header["end"], data)
            elif "drained" in header:
                frame = _Drained(int(header["drained"]))
            else:
                continue  # {"ready": true}
            queued = asyncio.run_coroutine_threadsafe(self._frames.put(frame), loop)
            while True:
                try:
                    queued.result(timeout=1.0)
                    break
                except concurrent.futures.TimeoutError:
                    if self._stopping:
                        queued.cancel()
                        return

    # ---- into the sink -------------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            frames = [await self._frames.get()]
            while len(frames) < BATCH and not self._frames.empty():
                frames.append(self._frames.get_nowait())
            chunks: list[OutboxLines] = []
            for frame in frames:
                if isinstance(frame, _Drained):
                    await self._deliver(chunks)  # what came before the marker is in the sink first
                    chunks = []
                    with contextlib.suppress(KeyError, asyncio.InvalidStateError):
                        self._drains[frame.token].set_result(None)
                elif (chunk := self._accept(frame, chunks)) is not None:
                    chunks.append(chunk)
            await self._deliver(chunks)

    def _accept(self, frame: _Chunk, pending: list[OutboxLines]) -> OutboxLines | None:
        key = (frame.job, frame.node)
        if key not in self.expected:
            return None  # unfollowed meanwhile
        expected = next((c.end_offset for c in reversed(pending) if (c.job_id, c.node_id) == key), self.expected[key])
        if frame.end <= expected:
            return None  # the sink already has all of it
        if frame.start > expected:  # a gap: lines between were lost in a failed ingest; read them again
            if key not in self._rewound:
                self.rewind(frame.job, frame.node, expected)
            return None
        self._rewound.discard(key)
        return OutboxLines(frame.job, frame.node, frame.data[:-1].split(b"\n"), frame.end, frame.start)

    async def _deliver(self, chunks: list[OutboxLines]) -> None:
        if not chunks:
            return
        try:
            await self.sink(chunks)
        except Exception:
            log.exception("ingest failed; these lines will be read again")
            for key in {(c.job_id, c.node_id) for c in chunks}:
                self.rewind(*key, self.expected.get(key, 0))
            await asyncio.sleep(self.retry_min_s)  # back-off before the next ingest
            return
        for chunk in chunks:
            key = (chunk.job_id, chunk.node_id)
            if key in self.expected:
                self.expected[key] = max(self.expected[key], chunk.end_offset)

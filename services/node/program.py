"""The node program's main loop: hello, heartbeats, inbox → queue → runtime turns → outbox, exit.

Threads: the main thread tails the inbox and handles signals; a worker thread runs turns one at a
time; a heartbeat thread writes heartbeats.  Every outbox write goes through the `Outbox` lock.
Signal handlers only set a flag (they run between bytecodes of the main thread, so they must not take
locks); the main loop notices it within one poll interval (IDLE_POLL_S at most).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import traceback
from types import FrameType
from typing import Any

from services.node.cli import NodeOptions
from services.node.errors import ConfigError
from services.node.inbox import InboxReader, parse_inbox_line, quote_line
from services.node.inbox_wait import InboxWait
from services.node.injections import InjectionQueue
from services.node.messages import Approval, BadLine, Interrupt
from services.node.outbox import Outbox
from services.node.records import (
    EXIT_CONFIG,
    EXIT_ERROR,
    EXIT_OK,
    KIND_EXIT,
    KIND_HEARTBEAT,
    KIND_HELLO,
    KIND_INBOX_ERROR,
    KIND_RUNTIME,
    NODE_INJECTION_QUEUED,
    inbox_path,
    outbox_path,
)
from services.node.runtimes import Runtime
from services.node.startup import make_directories, prepare_runtime

POLL_S = 0.005  # inbox poll interval of a busy node (and of an idle one that a local write wakes)
IDLE_POLL_S = 0.1  # an idle node's polls space out to this (services/node/inbox_wait.py)
SHUTDOWN_GRACE_S = 5.0  # how long a stopping turn may take to write its last messages
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def log(message: str) -> None:
    print(f"codeswarm-node: {message}", file=sys.stderr, flush=True)


class NodeProgram:
    def __init__(self, options: NodeOptions, poll_s: float = POLL_S) -> None:
        self.options = options
        self.poll_s = poll_s
        self.queue = InjectionQueue()
        self.runtime: Runtime | None = None
        self._stopping = threading.Event()
        self._stop_reason: str | None = None  # set by the signal handler or `request_stop`
        self._failure: str | None = None  # set by a failing worker or heartbeat thread
        self._threads: list[threading.Thread] = []
        self._seen: set[str] = set()

    # -- entry ----------------------------------------------------------------------------------------

    def run(self) -> int:
        """Run until a signal or an error; the exit code (also written in the `exit` record)."""
        options = self.options
        workspace = make_directories(options)
        path = outbox_path(options.base, options.job_id, options.node_id)
        self.outbox = Outbox(path, options.job_id, options.node_id)
        self._install_signal_handlers()
        try:
            code, reason = self._serve(workspace)
        except Exception as exc:
            traceback.print_exc()
            code, reason = EXIT_ERROR, f"unexpected error: {type(exc).__name__}: {exc}"
        self._shut_down()
        if self._failure is not None and code == EXIT_OK:
            code, reason = EXIT_ERROR, self._failure
        self.outbox.close(KIND_EXIT, {"code": code, "reason": reason})
        log(f"exit {code}: {reason}")
        return code

    def _serve(self, workspace: str) -> tuple[int, str]:
        options = self.options
        try:
            runtime = self.runtime = prepare_runtime(options, workspace, self._emit)
            thread_id = runtime.start()  # an agent that cannot start is a configuration error too
        except ConfigError as exc:
            return EXIT_CONFIG, str(exc)
        hello = {"pid": os.getpid(), "host": socket.gethostname(), "runtime": runtime.name, "thread_id": thread_id}
        self.outbox.write(KIND_HELLO, hello)
        # A restarted node re-reads its inbox: injections it already took (their id is in the outbox) are
        # skipped, queued ones it never started run now; approvals and bad lines from before are stale.
        self._seen = set(self.outbox.previous.injection_ids)
        path = inbox_path(options.base, options.job_id, options.node_id)
        inbox = InboxReader(path)
        waiting = InboxWait(path, self.poll_s, IDLE_POLL_S)
        replay_end = inbox.size() if self.outbox.resumed else 0
        self._start_thread("heartbeat", self._beat)
        self._start_thread("turns", self._work)
        try:
            while True:
                if self._stop_reason is not None:
                    return EXIT_OK, self._stop_reason
                if self._failure is not None:
                    return EXIT_ERROR, self._failure
                lines = inbox.read_lines()
                for raw, end in lines:
                    self._handle(raw, replaying=end <= replay_end)
                if lines:
                    waiting.reset()
                else:
                    waiting.wait(busy=runtime.running.is_set() or len(self.queue) > 0)
        finally:
            waiting.close()
            inbox.close()

    # -- inbox ----------------------------------------------------------------------------------------

    def _handle(self, raw: bytes, replaying: bool) -> None:
        item = parse_inbox_line(raw)
        runtime = self.runtime
        assert runtime is not None
        if item is None:
            return
        if isinstance(item, BadLine):
            if not replaying:
                self.outbox.write(KIND_INBOX_ERROR, {"line": item.line, "error": item.error}, item.injection_id)
        elif isinstance(item, Approval):
            problem = None if replaying else runtime.resolve_approval(item.call_id, item.decision)
            if problem is not None:
                self._refuse(raw, problem)
        elif isinstance(item, Interrupt):
            if not replaying and not runtime.interrupt():
                self._refuse(raw, "no turn is running, so there is nothing to interrupt")
        elif item.injection_id in self._seen:
            log(f"injection {item.injection_id!r} seen before; ignored")
        else:
            self._seen.add(item.injection_id)
            if item.steer and runtime.steer(item):
                return
            waiting = len(self.queue)
            if runtime.running.is_set() or waiting:
                self._emit(item.injection_id, {"method": NODE_INJECTION_QUEUED, "params": {"position": waiting + 1}})
            self.queue.put(item)

    def _refuse(self, raw: bytes, problem: str) -> None:
        line = quote_line(raw.decode("utf-8", errors="replace"))
        self.outbox.write(KIND_INBOX_ERROR, {"line": line, "error": problem})

    # -- threads --------------------------------------------------------------------------------------

    def _emit(self, injection_id: str | None, message: dict[str, Any]) -> None:
        self.outbox.write(KIND_RUNTIME, message, injection_id)

    def _start_thread(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=self._guarded, args=(name, target), name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _guarded(self, name: str, target: Any) -> None:
        try:
            target()
        except Exception as exc:
            traceback.print_exc()
            self._failure = f"unexpected error in the {name} thread: {type(exc).__name__}: {exc}"

    def _beat(self) -> None:
        """Heartbeats; a node nobody can reach any more (its outbox deleted, or no heartbeat written) for
        orphan_after_s exits on its own rather than run idle forever."""
        reachable_at = time.monotonic()
        while not self._stopping.wait(self.options.heartbeat_s):
            problem = self._orphaned()
            if problem is None:
                reachable_at = time.monotonic()
            elif time.monotonic() - reachable_at >= self.options.orphan_after_s:
                self.request_stop(f"orphaned: {problem} for {self.options.orphan_after_s:g} s")
                return

    def _orphaned(self) -> str | None:
        if self.outbox.gone():
            return f"the outbox {self.outbox.path} was deleted"
        try:
            self.outbox.write(KIND_HEARTBEAT, {})
        except OSError as exc:
            return f"cannot write a heartbeat ({exc})"
        return None

    def _work(self) -> None:
        runtime = self.runtime
        assert runtime is not None
        while (injection := self.queue.get()) is not None:
            runtime.run_turn(injection)

    # -- stopping -------------------------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may set handlers; an embedding caller stops us otherwise

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            self._stop_reason = f"terminated by signal {signal.Signals(signum).name}"

        for signum in STOP_SIGNALS:
            signal.signal(signum, on_signal)

    def request_stop(self, reason: str) -> None:
        """Stop from another thread, as a signal would; `reason` goes into the exit record."""
        self._stop_reason = reason

    def _shut_down(self) -> None:
        self._stopping.set()
        self.queue.close()
        if self.runtime is not None:
            self.runtime.stop()
        deadline = time.monotonic() + SHUTDOWN_GRACE_S
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log(f"the {thread.name} thread did not stop within {SHUTDOWN_GRACE_S:g} s")

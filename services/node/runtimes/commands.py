"""Running one shell command in the workspace and streaming its output (shared by every runtime).

The command runs as `/bin/bash -lc <command>` in its own process group (so it can be killed with all its
children) in the node program's session (so the node's CPU priority covers it, services/node/priority.py),
stdout and stderr merged, with the node program's environment.  Its output is read to the end whatever its
size, but only the first records.OUTPUT_CAP characters are streamed and kept; then one last delta carries
records.TRUNCATION_NOTE, so the deltas always add up to the kept output.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from services.node.records import OUTPUT_CAP, truncation_note

SHELL = "/bin/bash"
READ_SIZE = 65536
POLL_S = 0.05  # how long to wait for output before checking whether the command has exited


def shell_argv(command: str) -> list[str]:
    return [SHELL, "-lc", command]


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    output: str  # at most OUTPUT_CAP characters of the command's, then the truncation note
    duration_ms: int
    killed: bool
    output_chars: int  # how many characters the command wrote in all

    @property
    def truncated(self) -> bool:
        return self.output_chars > OUTPUT_CAP


class CommandProcess:
    """One started command.  `collect` streams its output until it exits; `kill` may come from any thread."""

    def __init__(self, command: str, cwd: str) -> None:
        self.command = command
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._killed = False
        self._finished = False
        self._spawn_error: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        try:
            self._process = subprocess.Popen(
                shell_argv(command),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                process_group=0,  # killed as a group; in the node's session, under its priority
            )
        except OSError as exc:
            self._spawn_error = f"cannot start {SHELL}: {exc}\n"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def collect(self, on_output: Callable[[str], None]) -> CommandResult:
        """Stream the merged output (as decoded text chunks) until the command exits."""
        if self._process is None:
            message = self._spawn_error or "command did not start\n"
            on_output(message)
            return CommandResult(127, message, self._elapsed_ms(), killed=False, output_chars=len(message))
        process = self._process
        assert process.stdout is not None
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        parts: list[str] = []
        kept = written = 0  # characters streamed and kept / written by the command

        def deliver(text: str) -> None:
            nonlocal kept, written
            written += len(text)
            if kept < OUTPUT_CAP and text:
                text = text[: OUTPUT_CAP - kept]
                kept += len(text)
                parts.append(text)
                on_output(text)

        fd = process.stdout.fileno()
        while True:
            ready, _, _ = select.select([fd], [], [], POLL_S)
            if ready:
                data = os.read(fd, READ_SIZE)
                if not data:
                    break
                deliver(decoder.decode(data))
            elif process.poll() is not None:
                break  # exited; a background child may still hold the pipe open, do not wait for it
        deliver(decoder.decode(b"", final=True))
        process.stdout.close()
        if written > kept:
            note = truncation_note(written - kept)
            parts.append(note)
            on_output(note)
        returncode, killed = self._reap(process)
        exit_code = 128 - returncode if returncode < 0 else returncode  # killed by signal N → 128 + N
        return CommandResult(exit_code, "".join(parts), self._elapsed_ms(), killed, written)

    def _reap(self, process: subprocess.Popen[bytes]) -> tuple[int, bool]:
        """Wait for the exit; reaping and marking finished happen under the lock `kill` takes, so a
        kill never signals a process group whose leader was already reaped (its id could be reused)."""
        while True:
            with self._lock:
                returncode = process.poll()
                if returncode is not None:
                    self._finished = True
                    return returncode, self._killed
            try:  # block until it has exited, without reaping it
                os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
            except ChildProcessError:
                continue  # already reaped; poll() above returns its code

    def kill(self) -> None:
        """Kill the command and everything it started (its whole session)."""
        with self._lock:
            if self._process is None or self._finished:
                return
            self._killed = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)

    def _elapsed_ms(self) -> int:
        return int((time.monotonic() - self._started) * 1000)


class CommandRunner:
    """Starts commands for a runtime and kills the running one when the runtime stops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: CommandProcess | None = None
        self._stopped = False

    def start(self, command: str, cwd: str) -> CommandProcess | None:
        """A started command, or None once the runner is stopped."""
        with self._lock:
            if self._stopped:
                return None
            process = CommandProcess(command, cwd)
            self._running = process
            return process

    def done(self, process: CommandProcess) -> None:
        with self._lock:
            if self._running is process:
                self._running = None

    def kill_running(self) -> None:
        """Kill the command running now (an interrupted turn); later commands still start."""
        with self._lock:
            running = self._running
        if running is not None:
            running.kill()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        self.kill_running()

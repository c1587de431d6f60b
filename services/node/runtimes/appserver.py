"""A JSON-RPC 2.0 peer over a child process's stdio, one JSON object a line (`codex app-server`).

The reader thread sorts what the child writes: a line with `id` and no `method` answers one of our
requests; anything else (a notification, or a request to us: `id` and `method`) goes to `on_message`.
A line that is not a JSON object goes to `on_bad_line`.  When the child's stdout ends, every request
still waiting fails with `AgentExited` and `on_exit(reason)` is called once.  stderr is kept, bounded,
to say why a child exited.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

MAX_LINE_BYTES = 16 << 20  # a longer line is cut and reported, never kept whole
STDERR_KEPT_BYTES = 8192  # the end of stderr kept to explain an exit
CLOSE_GRACE_S = 3.0

Message = dict[str, Any]


class AgentError(Exception):
    """A request failed: the agent's JSON-RPC error, a timeout, or the agent is gone."""


class AgentExited(AgentError):
    pass


class AppServer:
    def __init__(
        self,
        argv: Sequence[str],
        cwd: str,
        env: Mapping[str, str],
        on_message: Callable[[Message], None],
        on_bad_line: Callable[[str, str], None],
        on_exit: Callable[[str], None],
    ) -> None:
        self._on_message = on_message
        self._on_bad_line = on_bad_line
        self._on_exit = on_exit
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._waiting: dict[int, tuple[threading.Event, list[Message]]] = {}
        self._stderr: deque[bytes] = deque()
        self._stderr_bytes = 0
        self.exit_reason: str | None = None
        try:
            self.process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                process_group=0,  # killed as a group; in the node's session, under its priority
            )
        except OSError as exc:
            raise AgentExited(f"cannot start {argv[0]}: {exc}") from exc
        self._reader = threading.Thread(target=self._read, name="agent-stdout", daemon=True)
        self._stderr_reader = threading.Thread(target=self._read_stderr, name="agent-stderr", daemon=True)
        self._stderr_reader.start()
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.exit_reason is None

    # -- writing --------------------------------------------------------------------------------------

    def _write(self, message: Message) -> None:
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        stdin = self.process.stdin
        assert stdin is not None
        with self._write_lock:
            try:
                stdin.write(data)
                stdin.flush()
            except (BrokenPipeError, ValueError, OSError) as exc:
                raise AgentExited(f"the agent's stdin is closed: {exc}") from exc

    def request(self, method: str, params: Message, timeout_s: float) -> Message:
        """Send a request and wait for its result; AgentError with the agent's own message on failure."""
        request_id = next(self._ids)
        done, answer = threading.Event(), list[Message]()
        with self._lock:
            if self.exit_reason is not None:
                raise AgentExited(self.exit_reason)
            self._waiting[request_id] = (done, answer)
        try:
            self._write({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
            if not done.wait(timeout_s):
                raise AgentError(f"{method}: no answer within {timeout_s:g} s")
        finally:
            with self._lock:
                self._waiting.pop(request_id, None)
        if not answer:
            raise AgentExited(self.exit_reason or "the agent exited")
        reply = answer[0]
        if "error" in reply:
            error = reply.get("error") or {}
            raise AgentError(str(error.get("message") or error))
        result = reply.get("result")
        return result if isinstance(result, dict) else {}

    def notify(self, method: str, params: Message | None = None) -> None:
        message: Message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._write(message)

    def respond(self, request_id: int | str, result: Message) -> None:
        self._write({"jsonrpc": "2.0", "id": request_id, "result": result})

    def respond_error(self, request_id: int | str, code: int, message: str) -> None:
        self._write({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}})

    # -- reading --------------------------------------------------------------------------------------

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while True:
            line = stdout.readline(MAX_LINE_BYTES + 1)
            if not line:
                break
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                while (rest := stdout.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass
                self._on_bad_line(line[:200].decode("utf-8", "replace"), f"line longer than {MAX_LINE_BYTES} bytes")
                continue
            self._dispatch(line)
        self._finish()

    def _dispatch(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            message = json.loads(line)
        except ValueError as exc:
            self._on_bad_line(line[:4096].decode("utf-8", "replace"), f"not JSON: {exc}")
            return
        if not isinstance(message, dict):
            self._on_bad_line(line[:4096].decode("utf-8", "replace"), "not a JSON object")
            return
        if "id" in message and "method" not in message:
            with self._lock:
                waiting = self._waiting.get(message["id"]) if isinstance(message["id"], int) else None
            if waiting is not None:
                waiting[1].append(message)
                waiting[0].set()
            return
        self._on_message(message)

    def _read_stderr(self) -> None:
        stderr = self.process.stderr
        assert stderr is not None
        for chunk in iter(lambda: os.read(stderr.fileno(), 4096), b""):
            self._stderr.append(chunk)
            self._stderr_bytes += len(chunk)
            while self._stderr_bytes > STDERR_KEPT_BYTES and len(self._stderr) > 1:
                self._stderr_bytes -= len(self._stderr.popleft())

    def stderr_tail(self, limit: int = 1000) -> str:
        text = b"".join(self._stderr).decode("utf-8", "replace").strip()
        return text[-limit:]

    def _finish(self) -> None:
        code = self.process.wait()
        self._stderr_reader.join(1.0)
        tail = self.stderr_tail()
        reason = f"the agent exited with code {code}" if code >= 0 else f"the agent was killed by signal {-code}"
        if tail:
            reason += f"; its last words: {tail}"
        with self._lock:
            self.exit_reason = reason
            waiting = list(self._waiting.values())
        for done, _ in waiting:
            done.set()
        self._on_exit(reason)

    # -- stopping -------------------------------------------------------------------------------------

    def close(self) -> None:
        """End of input (the agent exits on its own), then a kill if it does not within the grace."""
        with contextlib.suppress(OSError, ValueError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(CLOSE_GRACE_S)
        except subprocess.TimeoutExpired:
            self.kill()
        self._reader.join(CLOSE_GRACE_S)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

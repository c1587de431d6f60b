"""Readable, line-oriented rendering of `codeswarm.router.v1` event envelopes for a terminal.

Every line is tagged ``[<swarm> n<node>]``.  Streamed text (reasoning, the answer, command output) is
cut into lines as it arrives, so lines of different nodes never mix, and each finished line is printed
once, for good.  On a terminal (``live=True``) the unfinished line of every active stream is shown
below the finished output and updated in place as deltas arrive: one growing line per node.  Piped to
a file, a stream's line is printed when it ends.

When the completed item arrives and its text was streamed in full, nothing is repeated; otherwise (the
watch began mid-stream) the complete text is printed.  Unknown events and fields are ignored, and so is
``thread_status`` on purpose (``node_status`` says the same, more usefully).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from services.protocol.events import EventName

Data = dict[str, Any]
StreamKey = tuple[str, str, int | None, str]  # (channel, swarm_id, node_id, item_id)

LABELS = {"reasoning": "reasoning: ", "assistant": "assistant: ", "output": "  "}
CONTINUATION = "  "


def tag(data: Data) -> str:
    swarm = str(data.get("swarm_id") or "?")
    node = data.get("node_id")
    return f"[{swarm} n{node}]" if isinstance(node, int) else f"[{swarm}]"


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def _same_text(streamed: str, final: str) -> bool:
    """Deltas and the completed item carry the same text up to whitespace (summary parts are joined)."""
    return "".join(streamed.split()) == "".join(final.split())


def usage_text(data: Data) -> str:
    total = data.get("total")
    total = total if isinstance(total, dict) else {}
    parts = [f"input {_count(total.get('inputTokens'))}"]
    if total.get("cachedInputTokens"):
        parts.append(f"cached {_count(total['cachedInputTokens'])}")
    parts.append(f"output {_count(total.get('outputTokens'))}")
    if total.get("reasoningOutputTokens"):
        parts.append(f"reasoning {_count(total['reasoningOutputTokens'])}")
    text = f"usage: {_count(total.get('totalTokens'))} tokens ({', '.join(parts)})"
    window = data.get("context_window")
    if isinstance(window, int):
        text += f", context window {window:,}"
    return text


@dataclass
class _Stream:
    tag: str
    channel: str
    received: str = ""  # everything streamed so far
    partial: str = ""  # the unfinished last line
    lines: int = 0  # finished lines printed

    def prefix(self) -> str:
        return f"{self.tag} {LABELS[self.channel] if self.lines == 0 else CONTINUATION}"


class Renderer:
    def __init__(self, out: TextIO, *, live: bool | None = None, width: Callable[[], int] | None = None) -> None:
        self.out = out
        self.live = out.isatty() if live is None else live
        self._width = width or (lambda: shutil.get_terminal_size().columns)
        self._streams: dict[StreamKey, _Stream] = {}
        self._live_lines = 0  # lines of the live area on screen, just above the cursor
        self._handlers: dict[str, Callable[[Data], None]] = {
            EventName.TURN_STARTED: self._turn_started,
            EventName.REASONING_DELTA: lambda d: self._delta("reasoning", d),
            EventName.REASONING: lambda d: self._completed("reasoning", d, d.get("text")),
            EventName.ASSISTANT_DELTA: lambda d: self._delta("assistant", d),
            EventName.ASSISTANT: lambda d: self._completed("assistant", d, d.get("text")),
            EventName.COMMAND_STARTED: lambda d: self._lines(d, [f"$ {d.get('command')}"]),
            EventName.COMMAND_OUTPUT_DELTA: lambda d: self._delta("output", d),
            EventName.COMMAND_COMPLETED: self._command_completed,
            EventName.FILECHANGE_STARTED: lambda d: self._file_change("editing", d),
            EventName.FILECHANGE_COMPLETED: lambda d: self._file_change("edited", d),
            EventName.EXEC_APPROVAL_REQUIRED: self._approval_required,
            EventName.EXEC_APPROVAL_RESOLVED: lambda d: self._lines(
                d, [f"approval {d.get('call_id')}: {d.get('decision')}"]
            ),
            EventName.USAGE: lambda d: self._lines(d, [usage_text(d)]),
            EventName.TURN_COMPLETE: self._turn_complete,
            EventName.AGENT_ERROR: self._agent_error,
            EventName.AGENT_WARNING: lambda d: self._lines(d, [f"agent warning: {d.get('message')}"]),
            EventName.SWARM_LAUNCH_PROGRESS: self._launch_progress,
            EventName.SWARM_LAUNCHED: self._launched,
            EventName.SWARM_STATUS: self._swarm_status,
            EventName.SWARM_TERMINATED: lambda d: self._print(
                [
                    *self._end_streams(d, whole_swarm=True),
                    f"{tag(d)} ended ({d.get('status') or 'terminated'})" + self._reason(d),
                ]
            ),
            EventName.SWARM_REMOVED: lambda d: self._lines(d, ["removed" + self._reason(d)]),
            EventName.NODE_STATUS: lambda d: self._lines(d, [f"node {d.get('status')}"]),
            EventName.COMMAND_REJECTED: lambda d: self._lines(
                d, [f"{d.get('command') or 'command'} rejected" + self._reason(d)]
            ),
            EventName.INJECT_ACK: lambda d: self._lines(d, [f"prompt accepted ({d.get('injection_id')})"]),
            EventName.INJECT_DELIVERED: lambda d: self._lines(d, [f"prompt delivered ({d.get('injection_id')})"]),
            EventName.INJECT_QUEUED: lambda d: self._lines(
                d, [f"prompt queued behind the running turn ({d.get('injection_id')}, #{d.get('position')})"]
            ),
            EventName.INJECT_STEERED: lambda d: self._lines(
                d, [f"prompt steered into the running turn ({d.get('injection_id')})"]
            ),
            EventName.INJECT_FAILED: lambda d: self._lines(
                d, [f"prompt not delivered ({d.get('injection_id')})" + self._reason(d)]
            ),
            EventName.WORKSPACE_ARCHIVE_READY: lambda d: self._lines(
                d, [f"workspace archive ready: {d.get('url')} ({_count(d.get('bytes'))} bytes)"]
            ),
            EventName.WORKSPACE_ARCHIVE_FAILED: lambda d: self._lines(
                d, ["workspace archive failed" + self._reason(d)]
            ),
            EventName.SWARM_FILES_DELETED: lambda d: self._lines(
                d, [f"files deleted on {d.get('host')}: {_count(d.get('bytes'))} bytes" + self._reason(d)]
            ),
        }

    # -- entry points ------------------------------------------------------------------------------

    def handle(self, envelope: Any) -> None:
        """Render one envelope; anything that is not a known event with a data object is ignored."""
        if not isinstance(envelope, dict):
            return
        name, data = envelope.get("event"), envelope.get("data")
        if not isinstance(name, str) or not isinstance(data, dict):
            return
        handler = self._handlers.get(name)
        if handler is not None:
            handler(data)
            self.out.flush()

    def write_raw(self, line: str) -> None:
        """A line that is not an event rendering (``--raw``), kept above the live area."""
        self._print([line])
        self.out.flush()

    def finish(self) -> None:
        """Print every unfinished stream line for good (before exiting or reconnecting)."""
        lines: list[str] = []
        for stream in self._streams.values():
            if stream.partial:
                lines += self._commit(stream, [stream.partial])
                stream.partial = ""
        self._print(lines)
        self.out.flush()

    # -- output --------------------------------------------------------------------------------------

    def _print(self, lines: list[str]) -> None:
        """Finished lines go above the live area, which is then drawn again."""
        if self.live and self._live_lines:
            # back to the first line of the live area, then clear to the end of the screen
            self.out.write(f"\r\033[{self._live_lines}A\033[J")
            self._live_lines = 0
        for line in lines:
            self.out.write(line + "\n")
        if self.live:
            self._draw_live()

    def _draw_live(self) -> None:
        width = max(self._width() - 1, 20)
        for stream in self._streams.values():
            if not stream.partial:
                continue
            head = stream.prefix()
            text = stream.partial
            room = max(width - len(head), 1)
            if len(text) > room:
                text = "…" + text[-(room - 1) :] if room > 1 else "…"
            self.out.write(f"{head}{text}\n")
            self._live_lines += 1

    def _lines(self, data: Data, texts: list[str]) -> None:
        self._print([f"{tag(data)} {text}" for text in texts])

    def _commit(self, stream: _Stream, lines: list[str]) -> list[str]:
        rendered = []
        for line in lines:
            if not line.strip() and stream.channel != "output":
                continue  # blank lines of prose add nothing in an interleaved log
            rendered.append(stream.prefix() + line.rstrip())
            stream.lines += 1
        return rendered

    # -- streamed items ------------------------------------------------------------------------------

    @staticmethod
    def _key(channel: str, data: Data) -> StreamKey:
        node = data.get("node_id")
        return (channel, str(data.get("swarm_id")), node if isinstance(node, int) else None, str(data.get("item_id")))

    def _delta(self, channel: str, data: Data) -> None:
        text = data.get("delta")
        if not isinstance(text, str) or not text:
            return
        key = self._key(channel, data)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(tag(data), channel)
        stream.received += text
        *finished, stream.partial = (stream.partial + text).split("\n")
        self._print(self._commit(stream, finished))

    def _completed(self, channel: str, data: Data, text: Any) -> None:
        """The completed item: finish its streamed line, or print it whole if it was not streamed in full."""
        final = text if isinstance(text, str) else ""
        stream = self._streams.pop(self._key(channel, data), None)
        lines: list[str] = []
        if stream is not None:
            lines = self._commit(stream, [stream.partial] if stream.partial else [])
            if _same_text(stream.received, final):
                self._print(lines)
                return
        whole = _Stream(tag(data), channel)
        lines += self._commit(whole, final.rstrip("\n").split("\n")) if final.strip() else []
        self._print(lines)

    # -- one-line events -----------------------------------------------------------------------------

    @staticmethod
    def _reason(data: Data) -> str:
        reason = data.get("reason")
        return f": {reason}" if reason else ""

    def _turn_started(self, data: Data) -> None:
        injection = data.get("injection_id")
        self._lines(data, ["── turn started" + (f" ({injection})" if injection else "")])

    def _end_streams(self, data: Data, whole_swarm: bool = False) -> list[str]:
        """Finish the streams of a node (or swarm) whose completed item will not come any more."""
        swarm, node = str(data.get("swarm_id")), data.get("node_id")
        lines: list[str] = []
        for key in [k for k in self._streams if k[1] == swarm and (whole_swarm or k[2] == node)]:
            stream = self._streams.pop(key)
            lines += self._commit(stream, [stream.partial] if stream.partial else [])
        return lines

    def _turn_complete(self, data: Data) -> None:
        status = data.get("status")
        text = "── turn complete"
        if status and status != "completed":
            text += f" ({status})"
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            text += f": {error['message']}"
        elif isinstance(error, str) and error:
            text += f": {error}"
        self._print([*self._end_streams(data), f"{tag(data)} {text}"])

    def _command_completed(self, data: Data) -> None:
        self._completed("output", data, data.get("output"))
        exit_code = data.get("exit_code")
        text = f"exit {exit_code}" if isinstance(exit_code, int) else f"command {data.get('status') or 'ended'}"
        duration = data.get("duration_ms")
        if isinstance(duration, int | float):
            text += f" ({duration:g} ms)"
        self._lines(data, [text])

    def _file_change(self, verb: str, data: Data) -> None:
        changes = data.get("changes")
        changes = changes if isinstance(changes, list) else []
        paths = [str(c["path"]) for c in changes if isinstance(c, dict) and c.get("path")]
        status = data.get("status")
        text = f"{verb}: {', '.join(paths) or 'files'}"
        if status and verb == "edited" and status != "completed":
            text += f" ({status})"
        self._lines(data, [text])

    def _approval_required(self, data: Data) -> None:
        text = f"approval needed for $ {data.get('command')} (call {data.get('call_id')})"
        reason = data.get("reason")
        decisions = "/".join(data.get("available_decisions") or [])
        answer = f"codeswarm approve {data.get('swarm_id')} {data.get('node_id')} {data.get('call_id')} accept"
        lines = [text + (f": {reason}" if reason else ""), f"  answer with: {answer}  ({decisions})"]
        self._lines(data, lines)

    def _agent_error(self, data: Data) -> None:
        text = f"agent error: {data.get('message')}"
        if data.get("will_retry"):
            text += " (will retry)"
        self._lines(data, [text])

    def _launch_progress(self, data: Data) -> None:
        phase, message = data.get("phase"), data.get("message")
        self._lines(data, [f"launch {phase}: {message}" if phase else f"launch: {message}"])

    def _launched(self, data: Data) -> None:
        swarm = data.get("swarm")
        swarm = swarm if isinstance(swarm, dict) else {}
        text = f"launched: job {data.get('job_id') or swarm.get('job_id')}"
        if swarm:
            text += f", {swarm.get('node_count')} nodes ({swarm.get('provider')}/{swarm.get('runtime')})"
        self._lines(data, [text])

    def _swarm_status(self, data: Data) -> None:
        text = f"status {data.get('status')}"
        health = data.get("health")
        if health and health != "ok":
            text += f", health {health}"
        self._lines(data, [text + self._reason(data)])

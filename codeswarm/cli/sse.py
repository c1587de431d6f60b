"""Server-sent events, parsed line by line (the WHATWG event-stream rules, as a client needs them).

Lines are ``field: value`` (one optional space after the colon is dropped); ``:`` starts a comment; a
blank line ends an event.  ``data`` lines are joined with ``\\n``; ``event`` names the event (default
``message``); ``id`` sets the resume point; ``retry`` sets the reconnection delay in milliseconds.

One deliberate difference from a browser: the resume point (``last_event_id``) moves only when an event
is dispatched, so a connection cut between an event's ``id:`` line and its blank line resumes *before*
that event and it is received again in full, instead of being skipped.

Like a browser, a block without ``data`` dispatches nothing, unless the parser is made with
``keep_comments``: then a block of comments only (a keep-alive) is returned too, with empty data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class SseEvent:
    event: str
    data: str
    id: str | None  # the id this event carried itself; None when it had no ``id:`` line
    comments: tuple[str, ...] = ()  # its ``:`` lines, without the colon

    def json(self) -> Any:
        return orjson.loads(self.data)


class SseParser:
    def __init__(self, last_event_id: str | None = None, *, keep_comments: bool = False) -> None:
        self.last_event_id = last_event_id
        self.retry_ms: int | None = None
        self.keep_comments = keep_comments
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._comments: list[str] = []
        self._partial = ""  # feed_text: the start of a line whose end has not come yet
        self._after_cr = False  # feed_text: the last chunk ended with \r

    def reset(self) -> None:
        """Drop a half-received event (after a disconnect); the resume point stays."""
        self._event = ""
        self._data = []
        self._id = None
        self._comments = []
        self._partial = ""
        self._after_cr = False

    def feed(self, line: str) -> SseEvent | None:
        """Take one line (without its line ending); return the event it completes, if any."""
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            if self.keep_comments:
                self._comments.append(line[2:] if line.startswith(": ") else line[1:])
            return None  # a comment: keep-alive
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\0" not in value:
                self._id = value
        elif field == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def feed_text(self, text: str) -> list[SseEvent]:
        """Take a chunk of a stream, cut anywhere (any line endings); return the events it completes.
        A line is held until its end arrives, so the work is linear in the text."""
        if self._after_cr and text.startswith("\n"):
            text = text[1:]  # the second half of a \r\n cut between two chunks
        self._after_cr = text.endswith("\r")
        *lines, self._partial = (self._partial + text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return self.feed_lines(lines)

    def feed_lines(self, lines: Iterable[str]) -> list[SseEvent]:
        """Take whole lines (without their line endings), in order; return the events they complete."""
        events = []
        for line in lines:
            event = self.feed(line)
            if event is not None:
                events.append(event)
        return events

    def _dispatch(self) -> SseEvent | None:
        if self._id is not None:
            self.last_event_id = self._id or None  # an empty id: line clears the resume point
        event_id, name, data, comments = self._id, self._event, self._data, self._comments
        self._event, self._data, self._id, self._comments = "", [], None, []
        if not data and not comments:
            return None
        return SseEvent(event=name or "message", data="\n".join(data), id=event_id or None, comments=tuple(comments))

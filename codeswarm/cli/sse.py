"""Server-sent events, parsed line by line (the WHATWG event-stream rules, as a client needs them).

Lines are ``field: value`` (one optional space after the colon is dropped); ``:`` starts a comment; a
blank line ends an event.  ``data`` lines are joined with ``\\n``; ``event`` names the event (default
``message``); ``id`` sets the resume point; ``retry`` sets the reconnection delay in milliseconds.

One deliberate difference from a browser: the resume point (``last_event_id``) moves only when an event
is dispatched, so a connection cut between an event's ``id:`` line and its blank line resumes *before*
that event and it is received again in full, instead of being skipped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SseEvent:
    event: str
    data: str
    id: str | None  # the id this event carried itself; None when it had no ``id:`` line


class SseParser:
    def __init__(self, last_event_id: str | None = None) -> None:
        self.last_event_id = last_event_id
        self.retry_ms: int | None = None
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def reset(self) -> None:
        """Drop a half-received event (after a disconnect); the resume point stays."""
        self._event = ""
        self._data = []
        self._id = None

    def feed(self, line: str) -> SseEvent | None:
        """Take one line (without its line ending); return the event it completes, if any."""
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
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
        """Parse a whole chunk of text (any line endings); for tests and small payloads."""
        events = []
        for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            event = self.feed(line)
            if event is not None:
                events.append(event)
        return events

    def _dispatch(self) -> SseEvent | None:
        if self._id is not None:
            self.last_event_id = self._id or None  # an empty id: line clears the resume point
        event_id, name, data = self._id, self._event, self._data
        self.reset()
        if not data:
            return None
        return SseEvent(event=name or "message", data="\n".join(data), id=event_id or None)

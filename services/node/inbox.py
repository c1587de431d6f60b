"""Tailing the inbox file: complete lines only, parsed into `messages` values."""

from __future__ import annotations

import json
import os
from typing import Any

from services.node.messages import Approval, BadLine, InboxItem, Injection, Interrupt
from services.node.records import INBOX_APPROVAL, INBOX_INJECT, INBOX_INTERRUPT, INJECT_MODES, MODE_QUEUE

READ_SIZE = 1 << 20
MAX_REPORTED_LINE = 4096  # an `inbox_error` quotes at most this many characters of the bad line


def quote_line(text: str) -> str:
    """The line as an `inbox_error` quotes it: at most MAX_REPORTED_LINE characters."""
    if len(text) <= MAX_REPORTED_LINE:
        return text
    return text[:MAX_REPORTED_LINE] + f"... ({len(text)} characters)"


def _text_field(message: dict[str, Any], key: str) -> str:
    value = message.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key!r} must be a non-empty string")
    return value


def _parse_inject(message: dict[str, Any]) -> Injection:
    injection_id = _text_field(message, "injection_id")
    content = message.get("content")
    if not isinstance(content, str):
        raise ValueError("'content' must be a string")
    mode = message.get("mode", MODE_QUEUE)
    if mode is None:
        mode = MODE_QUEUE
    if mode not in INJECT_MODES:
        raise ValueError(f"'mode' must be one of {', '.join(INJECT_MODES)}, not {mode!r}")
    return Injection(injection_id, content, mode)


def _parse_approval(message: dict[str, Any]) -> Approval:
    call_id = _text_field(message, "call_id")
    decision = _text_field(message, "decision")  # checked by the runtime against the request's own choices
    return Approval(call_id, decision)


def parse_inbox_line(raw: bytes) -> InboxItem | None:
    """One inbox line (without its newline) → a value; None for a blank line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadLine(quote_line(raw.decode("utf-8", errors="replace")), f"not UTF-8: {exc}")
    if not text.strip():
        return None
    try:
        message = json.loads(text)
    except ValueError as exc:
        return BadLine(quote_line(text), f"not JSON: {exc}")
    if not isinstance(message, dict):
        return BadLine(quote_line(text), "not a JSON object")
    kind = message.get("type")
    injection_id = message.get("injection_id")
    try:
        if kind == INBOX_INJECT:
            return _parse_inject(message)
        if kind == INBOX_APPROVAL:
            return _parse_approval(message)
        if kind == INBOX_INTERRUPT:
            return Interrupt()
        expected = ", ".join(map(repr, (INBOX_INJECT, INBOX_APPROVAL, INBOX_INTERRUPT)))
        raise ValueError(f"unknown 'type' {kind!r} (expected one of {expected})")
    except ValueError as exc:
        return BadLine(quote_line(text), str(exc), injection_id if isinstance(injection_id, str) else None)


class InboxReader:
    """Reads the lines appended to the inbox since the last call; a partial last line waits for its end."""

    def __init__(self, path: str) -> None:
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
        self._fd = os.open(path, os.O_RDONLY)
        self._pending = b""
        self.offset = 0  # bytes consumed: the end of the last complete line returned

    def read_lines(self) -> list[tuple[bytes, int]]:
        """New complete lines, each with the inbox offset just past it."""
        lines: list[tuple[bytes, int]] = []
        while True:
            data = os.read(self._fd, READ_SIZE)
            if not data:
                return lines
            self._pending += data
            *complete, self._pending = self._pending.split(b"\n")
            for line in complete:
                self.offset += len(line) + 1
                lines.append((line, self.offset))

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def close(self) -> None:
        os.close(self._fd)

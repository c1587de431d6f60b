"""`codeswarm watch`: follow the mirror's SSE stream, render it, and resume after every disconnect.

The mirror's SSE ids are the bus entry ids (``<ms>-<seq>``, increasing).  After a disconnect the watcher
reconnects with ``Last-Event-ID`` set to the last event it rendered, so the mirror replays exactly what
was missed; as a second guard, an event whose id is not after the last one rendered is dropped, so
nothing is shown twice even if a server replays too much.  Reconnection never gives up (back-off up to
``max_backoff_s``); only an answer that retrying cannot fix (401, 404, 422...) ends the watch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

import httpx

from codeswarm.cli.http import CliError, auth_headers, http_error_message, one_line
from codeswarm.cli.render import Renderer
from codeswarm.cli.sse import SseEvent, SseParser

READ_TIMEOUT_S = 60.0  # the mirror sends a keep-alive comment every 15 s by default
FIRST_BACKOFF_S = 0.5
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def entry_key(entry_id: str | None) -> tuple[int, int] | None:
    """``"<ms>-<seq>"`` → a comparable key; None for anything else (such ids are never deduplicated)."""
    if not entry_id:
        return None
    ms, sep, seq = entry_id.partition("-")
    if not sep or not ms.isdigit() or not seq.isdigit():
        return None
    return int(ms), int(seq)


@dataclass(frozen=True)
class WatchOptions:
    mirror_url: str
    token: str | None = None
    swarm_id: str | None = None
    node_id: int | None = None
    from_id: str | None = None
    raw: bool = False
    max_backoff_s: float = 10.0


class _Retry(Exception):
    """The connection ended or failed in a way that reconnecting fixes."""


class Watcher:
    def __init__(
        self,
        options: WatchOptions,
        out: TextIO,
        err: TextIO,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options
        self.out = out
        self.err = err
        self.renderer = Renderer(out)
        self.parser = SseParser(options.from_id)
        self.connections = 0
        self._streamed = False  # whether the latest connection got as far as streaming
        self._sleep = sleep
        self._last_key = entry_key(options.from_id)
        self._client = httpx.Client(
            base_url=options.mirror_url.rstrip("/"),
            timeout=httpx.Timeout(10.0, read=READ_TIMEOUT_S),
            transport=transport,
        )

    def close(self) -> None:
        self.renderer.finish()
        self._client.close()

    def run(self, max_connections: int | None = None) -> None:
        """Follow the stream until interrupted (or until ``max_connections`` connections have ended)."""
        backoff = FIRST_BACKOFF_S
        while max_connections is None or self.connections < max_connections:
            try:
                self._follow_once()
                reason = "the mirror closed the stream"
            except _Retry as exc:
                reason = str(exc)
            if self._streamed:  # the connection worked: start backing off afresh
                backoff = self._base_backoff()
            if max_connections is not None and self.connections >= max_connections:
                return
            self.renderer.finish()
            resume = f" from {self.parser.last_event_id}" if self.parser.last_event_id else ""
            self.err.write(f"watch: {reason}; reconnecting{resume} in {backoff:g} s\n")
            self.err.flush()
            self._sleep(backoff)
            backoff = min(backoff * 2, self.options.max_backoff_s)

    def _base_backoff(self) -> float:
        if self.parser.retry_ms is not None:
            return min(max(self.parser.retry_ms / 1000, 0.1), self.options.max_backoff_s)
        return FIRST_BACKOFF_S

    def _params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        if self.options.swarm_id:
            params["swarm_id"] = self.options.swarm_id
        if self.options.node_id is not None:
            params["node_id"] = str(self.options.node_id)
        return params

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache", **auth_headers(self.options.token)}
        if self.parser.last_event_id:
            headers["Last-Event-ID"] = self.parser.last_event_id
        return headers

    def _follow_once(self) -> None:
        first = self.connections == 0
        self.connections += 1
        self._streamed = False
        self.parser.reset()
        try:
            with self._client.stream("GET", "/v1/events", params=self._params(), headers=self._headers()) as response:
                if response.status_code != 200:
                    response.read()
                    message = http_error_message(response)
                    if response.status_code in RETRYABLE_STATUS:
                        raise _Retry(message)
                    raise CliError(message, response.status_code)
                self._streamed = True
                for line in response.iter_lines():
                    event = self.parser.feed(line)
                    if event is not None:
                        self._show(event)
        except httpx.TransportError as exc:
            reason = one_line(str(exc)) or type(exc).__name__
            if first and isinstance(exc, httpx.ConnectError):
                raise CliError(
                    f"cannot reach the mirror at {self.options.mirror_url}: {reason} (is `codeswarm up` running?)"
                ) from None
            raise _Retry(f"connection lost ({reason})") from None

    def _show(self, event: SseEvent) -> None:
        key = entry_key(event.id)
        if key is not None:
            if self._last_key is not None and key <= self._last_key:
                return  # already shown before a reconnect
            self._last_key = key
        if self.options.raw:
            self.renderer.write_raw(event.data)
            return
        try:
            envelope = json.loads(event.data)
        except ValueError:
            return
        self.renderer.handle(envelope)

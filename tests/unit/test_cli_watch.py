"""`codeswarm watch` against a scripted mirror: resume with Last-Event-ID, no duplicates, back-off, errors."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from codeswarm.cli.http import CliError
from codeswarm.cli.watch import Watcher, WatchOptions
from services.protocol import EventName, make_envelope

SW = "sw-00000000abcd"
MIRROR = "http://mirror.test:8766"


def frame(entry_id: str | None, name: str, node: int = 0, **fields: Any) -> str:
    envelope = make_envelope(name, {"swarm_id": SW, "node_id": node, **fields})
    head = f"id: {entry_id}\n" if entry_id else ""
    return f"{head}event: {name}\ndata: {json.dumps(envelope)}\n\n"


def node_status(entry_id: str, node: int) -> str:
    return frame(entry_id, EventName.NODE_STATUS, node, status="idle")


class Dropping(httpx.SyncByteStream):
    """A response body that is cut off (the connection drops) after its chunks."""

    def __init__(self, chunks: list[str]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            yield chunk.encode()
        raise httpx.ReadError("connection reset by peer")


def sse(body: str | httpx.SyncByteStream, status: int = 200) -> httpx.Response:
    headers = {"content-type": "text/event-stream"}
    if isinstance(body, str):
        return httpx.Response(status, headers=headers, content=body.encode())
    return httpx.Response(status, headers=headers, stream=body)


class Mirror:
    """Answers each connection with the next scripted response and records the requests."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer


def watch(mirror: Mirror, connections: int, **options: Any) -> tuple[Watcher, str, str, list[float]]:
    out, err = io.StringIO(), io.StringIO()
    sleeps: list[float] = []
    watcher = Watcher(
        WatchOptions(mirror_url=MIRROR, **options),
        out,
        err,
        transport=httpx.MockTransport(mirror),
        sleep=sleeps.append,
    )
    try:
        watcher.run(max_connections=connections)
    finally:
        watcher.close()
    return watcher, out.getvalue(), err.getvalue(), sleeps


def test_a_dropped_connection_resumes_after_the_last_complete_event_without_duplicates() -> None:
    first = Dropping([node_status("1-0", 0), node_status("2-0", 1), "id: 3-0\nevent: node_status\n"])

    def second(request: httpx.Request) -> httpx.Response:
        assert request.headers["last-event-id"] == "2-0"
        # a mirror that replays one event too many: the watcher must not show it twice
        return sse(node_status("2-0", 1) + node_status("3-0", 2) + node_status("4-0", 3))

    mirror = Mirror(sse(first), second)
    watcher, out, err, sleeps = watch(mirror, connections=2)
    assert out.splitlines() == [f"[{SW} n{n}] node idle" for n in range(4)]
    assert "connection lost" in err and "reconnecting from 2-0" in err
    assert sleeps == [0.5]
    assert watcher.parser.last_event_id == "4-0"
    assert "last-event-id" not in mirror.requests[0].headers


def test_filters_token_and_starting_point_are_sent() -> None:
    mirror = Mirror(sse(": keep-alive\n\n"))
    watch(mirror, connections=1, swarm_id=SW, node_id=3, token="s3cret", from_id="1732464000000-7")
    request = mirror.requests[0]
    assert request.url.path == "/v1/events"
    assert dict(request.url.params) == {"swarm_id": SW, "node_id": "3"}
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.headers["last-event-id"] == "1732464000000-7"
    assert request.headers["accept"] == "text/event-stream"


def test_events_at_or_before_the_starting_point_are_not_shown() -> None:
    mirror = Mirror(sse(node_status("5-0", 0) + node_status("5-1", 1)))
    _, out, _, _ = watch(mirror, connections=1, from_id="5-0")
    assert out.splitlines() == [f"[{SW} n1] node idle"]


def test_events_without_an_id_are_shown_and_do_not_move_the_resume_point() -> None:
    body = node_status("9-0", 0) + frame(None, EventName.SWARM_STATUS, status="running", health="ok")
    watcher, out, _, _ = watch(Mirror(sse(body)), connections=1)
    assert out.splitlines() == [f"[{SW} n0] node idle", f"[{SW} n0] status running"]
    assert watcher.parser.last_event_id == "9-0"


def test_back_off_doubles_while_the_mirror_is_down_and_resets_once_it_answers() -> None:
    down = httpx.ConnectError("connection refused")
    mirror = Mirror(
        sse(node_status("1-0", 0)),  # then the mirror restarts
        down,
        down,
        sse(node_status("2-0", 1), 503),
        sse(node_status("2-0", 1)),
        sse(node_status("3-0", 2)),
    )
    _, out, err, sleeps = watch(mirror, connections=6, max_backoff_s=3.0)
    assert sleeps == [0.5, 1.0, 2.0, 3.0, 0.5]
    assert out.splitlines() == [f"[{SW} n{n}] node idle" for n in range(3)]
    assert err.count("reconnecting from 1-0") == 4


def test_the_servers_retry_field_sets_the_reconnection_delay() -> None:
    mirror = Mirror(sse("retry: 2000\n\n" + node_status("1-0", 0)), sse(""))
    _, _, _, sleeps = watch(mirror, connections=2)
    assert sleeps == [2.0]


def test_an_unreachable_mirror_at_the_start_is_an_error() -> None:
    with pytest.raises(CliError, match=r"cannot reach the mirror at http://mirror\.test:8766"):
        watch(Mirror(httpx.ConnectError("connection refused")), connections=3)


def test_a_refused_token_ends_the_watch_with_the_servers_detail() -> None:
    refused = httpx.Response(401, json={"detail": "invalid API token: it does not match CODESWARM_API_TOKEN"})
    with pytest.raises(CliError, match=r"invalid API token.*HTTP 401") as caught:
        watch(Mirror(refused), connections=3, token="wrong")
    assert caught.value.status == 401


def test_raw_prints_the_envelopes_as_received() -> None:
    body = node_status("1-0", 0) + frame("1-1", "some_future_event", 0, x=1)
    _, out, _, _ = watch(Mirror(sse(body)), connections=1, raw=True)
    lines = out.splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["node_status", "some_future_event"]
    assert all(json.loads(line)["protocol"] == "codeswarm.router.v1" for line in lines)

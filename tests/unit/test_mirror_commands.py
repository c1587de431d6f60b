"""Command forwarding to the router: same paths and bodies, answers passed through, requests remembered,
clear errors when the router is down — and request_id on what the mirror relays."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from mirror.app import create_app
from services.bus import MemoryEventBus
from services.protocol import make_envelope
from services.settings import Settings
from tests.support.mirror_process import free_port, serve, sse_events


class FakeRouter:
    """Records what reaches it and answers like the router would."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any, dict[str, str]]] = []
        self.app = FastAPI()
        self.app.add_api_route("/{path:path}", self.handle, methods=["GET", "POST"])

    async def handle(self, request: Request, path: str) -> Response:
        body = await request.body()
        payload = await request.json() if body else None
        self.calls.append((request.method, "/" + path, payload, dict(request.headers)))
        if path == "v1/swarms" and request.method == "POST":
            return JSONResponse({"request_id": "rq-launch", "swarm_id": "sw-new", "status": "launching"}, 202)
        if path.endswith("/inject"):
            injections = [{"node_id": 0, "injection_id": "in-1"}, {"node_id": 1, "injection_id": "in-2"}]
            return JSONResponse({"request_id": "rq-inject", "injections": injections}, 202)
        if path.endswith("/terminate"):
            return JSONResponse({"request_id": "rq-term", "status": "terminating"}, 202)
        if "/approvals/" in path:
            return JSONResponse({"request_id": "rq-approve"}, 202)
        if path == "v1/swarms/sw-missing":
            return JSONResponse({"detail": "swarm sw-missing not found"}, 404)
        if path == "v1/swarms":
            return JSONResponse({"swarms": []})
        if path.endswith("/archive"):
            return Response(b"\x1f\x8b" + b"A" * 100_000, media_type="application/gzip")
        return JSONResponse({"echo": path})


@pytest.fixture
async def bus() -> AsyncIterator[MemoryEventBus]:
    the_bus = MemoryEventBus(10_000)
    yield the_bus
    await the_bus.close()


@pytest.fixture
async def setup(tmp_path: Path, bus: MemoryEventBus) -> AsyncIterator[tuple[str, FakeRouter]]:
    fake = FakeRouter()
    async with contextlib.AsyncExitStack() as stack:
        router_url = await stack.enter_async_context(serve(fake.app))
        settings = Settings(
            home=tmp_path, router_url=router_url, api_token="tok", delta_coalesce_ms=0, reconcile_interval_s=3600
        )
        mirror_url = await stack.enter_async_context(serve(create_app(settings, bus)))
        fake.calls.clear()  # the start-up reconcile
        yield mirror_url, fake


def client(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer tok"})


async def test_commands_are_forwarded_as_sent(setup: tuple[str, FakeRouter]) -> None:
    url, fake = setup
    async with client(url) as http:
        launch = await http.post(
            "/v1/swarms",
            json={"nodes": 2, "runtime": "mock", "runtime_params": {"delay_ms": 1}},
            headers={"Idempotency-Key": "key-1"},
        )
        assert launch.status_code == 202 and launch.json()["swarm_id"] == "sw-new"
        inject = await http.post("/v1/swarms/sw-new/inject", json={"nodes": [0, 1], "content": "hi", "mode": "steer"})
        assert inject.status_code == 202 and inject.json()["request_id"] == "rq-inject"
        terminate = await http.post("/v1/swarms/sw-new/terminate")
        approve = await http.post("/v1/swarms/sw-new/approvals/call%201", json={"node_id": 1, "decision": "accept"})
        assert terminate.status_code == approve.status_code == 202
        listing = await http.get("/v1/swarms")
        assert listing.json() == {"swarms": []}
        turns = await http.get("/v1/swarms/sw-new/nodes/1/turns")
        providers = await http.get("/v1/providers")
        assert turns.status_code == providers.status_code == 200

    launched = fake.calls[0]
    assert launched[:3] == ("POST", "/v1/swarms", {"nodes": 2, "runtime": "mock", "runtime_params": {"delay_ms": 1}})
    assert launched[3]["idempotency-key"] == "key-1" and launched[3]["authorization"] == "Bearer tok"
    assert fake.calls[1][:3] == (
        "POST",
        "/v1/swarms/sw-new/inject",
        {"nodes": [0, 1], "content": "hi", "mode": "steer"},
    )
    assert fake.calls[2][:3] == ("POST", "/v1/swarms/sw-new/terminate", None)
    assert fake.calls[3][:3] == ("POST", "/v1/swarms/sw-new/approvals/call 1", {"node_id": 1, "decision": "accept"})
    assert [c[1] for c in fake.calls[4:]] == ["/v1/swarms", "/v1/swarms/sw-new/nodes/1/turns", "/v1/providers"]


async def test_the_mirror_remembers_requests(setup: tuple[str, FakeRouter]) -> None:
    url, _ = setup
    async with client(url) as http:
        await http.post("/v1/swarms", json={"nodes": 1})
        await http.post("/v1/swarms/sw-new/inject", json={"nodes": "all", "content": "hi"})
        launch = (await http.get("/v1/requests/rq-launch")).json()
        inject = (await http.get("/v1/requests/rq-inject")).json()
        unknown = await http.get("/v1/requests/rq-nope")
    assert launch == {"request_id": "rq-launch", "swarm_id": "sw-new", "command": "launch", "injections": []}
    assert inject["swarm_id"] == "sw-new" and [r["injection_id"] for r in inject["injections"]] == ["in-1", "in-2"]
    assert unknown.status_code == 404


async def test_relayed_events_get_the_request_id(setup: tuple[str, FakeRouter], bus: MemoryEventBus) -> None:
    url, _ = setup
    async with client(url) as http:
        await http.post("/v1/swarms", json={"nodes": 1})
        await http.post("/v1/swarms/sw-new/inject", json={"nodes": "all", "content": "hi"})
        await bus.publish(
            [
                make_envelope(
                    "swarm_status", {"swarm_id": "sw-new", "status": "running", "health": "ok", "reason": None}
                ),
                make_envelope("turn_started", {"swarm_id": "sw-new", "node_id": 1, "injection_id": "in-2"}),
                make_envelope("swarm_status", {"swarm_id": "sw-other", "status": "running"}),
            ]
        )
        got = []
        async with http.stream("GET", "/v1/events", params={"last_event_id": "0-0"}) as response:
            async for event in sse_events(response):
                got.append(event.json()["data"])
                if len(got) == 3:
                    break
    assert [d.get("request_id") for d in got] == ["rq-launch", "rq-inject", None]


async def test_router_errors_pass_through_and_bad_bodies_stop_here(setup: tuple[str, FakeRouter]) -> None:
    url, fake = setup
    async with client(url) as http:
        missing = await http.get("/v1/swarms/sw-missing")
        assert missing.status_code == 404 and missing.json() == {"detail": "swarm sw-missing not found"}
        before = len(fake.calls)
        bad = await http.post("/v1/swarms/sw-a/inject", json={"nodes": "some", "content": "x"})
        blank = await http.post("/v1/swarms/sw-a/inject", json={"nodes": "all", "content": "  "})
        dots = await http.post("/v1/swarms/sw-a/approvals/%2E%2E", json={"node_id": 0, "decision": "accept"})
        assert bad.status_code == blank.status_code == dots.status_code == 422
        assert len(fake.calls) == before


async def test_the_archive_streams_through(setup: tuple[str, FakeRouter]) -> None:
    url, _ = setup
    async with client(url) as http:
        archive = await http.get("/v1/swarms/sw-a/archive")
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/gzip"
    assert archive.content == b"\x1f\x8b" + b"A" * 100_000


@pytest.mark.parametrize(
    ("failure", "status", "words"),
    [
        (httpx.ConnectError("connection refused"), 503, "unreachable"),
        (httpx.ReadTimeout("slow"), 504, "may or may not have been applied"),
        (httpx.RemoteProtocolError("peer closed"), 502, "broke off"),
    ],
)
async def test_router_failures_become_clear_errors(
    tmp_path: Path, bus: MemoryEventBus, failure: Exception, status: int, words: str
) -> None:
    def fail(_request: httpx.Request) -> httpx.Response:
        raise failure

    settings = Settings(home=tmp_path, router_url="http://router.invalid", reconcile_interval_s=3600)
    app = create_app(settings, bus, router_transport=httpx.MockTransport(fail))
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        launch = await http.post("/v1/swarms", json={"nodes": 1})
        assert launch.status_code == status and words in launch.json()["detail"]
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and words in " ".join(ready.json()["reasons"])


async def test_a_real_router_down_gives_503(tmp_path: Path, bus: MemoryEventBus) -> None:
    settings = Settings(home=tmp_path, router_url=f"http://127.0.0.1:{free_port()}")
    async with serve(create_app(settings, bus)) as url, httpx.AsyncClient(base_url=url) as http:
        answers = await asyncio.gather(
            http.post("/v1/swarms", json={"nodes": 1}),
            http.post("/v1/swarms/sw-a/terminate", json={}),
            http.get("/v1/swarms"),
        )
    for answer in answers:
        assert answer.status_code == 503
        assert "the router is unreachable" in answer.json()["detail"]
        assert "nothing was sent" in answer.json()["detail"]


async def test_the_mirror_refuses_at_its_door_what_the_router_would(setup: tuple[str, FakeRouter]) -> None:
    """Strict types, NUL bytes, lone surrogates and non-UTF-8 bodies are 422s at the mirror: nothing of
    them is forwarded, and the answer never fails on echoing them."""
    url, fake = setup
    json_type = {"content-type": "application/json"}
    async with client(url) as http:
        for nodes in ("1", True, 1.0, [False]):
            refused = await http.post("/v1/swarms", json={"nodes": nodes})
            assert refused.status_code == 422 and "nodes" in refused.text, (nodes, refused.text)
        for body in (b'{"nodes": 1, "alias": "a\\u0000b"}', b'{"nodes": 1, "alias": "a\\ud800b"}'):
            refused = await http.post("/v1/swarms", content=body, headers=json_type)
            assert refused.status_code == 422 and "alias" in refused.text, (body, refused.text)
        inject = await http.post(
            "/v1/swarms/sw-1/inject", content=b'{"nodes": "all", "content": "\xff"}', headers=json_type
        )
        assert inject.status_code == 422 and "UTF-8" in inject.text, inject.text
    assert fake.calls == []


async def test_a_chunked_body_over_the_limit_is_a_413_like_a_sized_one(setup: tuple[str, FakeRouter]) -> None:
    url, fake = setup

    async def chunks() -> AsyncIterator[bytes]:  # 5 MB with no Content-Length: chunked transfer encoding
        yield b'{"nodes": "all", "content": "'
        for _ in range(80):
            yield b"x" * (64 << 10)
        yield b'"}'

    async with client(url) as http:
        chunked = await http.post(
            "/v1/swarms/sw-1/inject", content=chunks(), headers={"content-type": "application/json"}
        )
        sized = await http.post("/v1/swarms/sw-1/inject", json={"nodes": "all", "content": "x" * (5 << 20)})
    assert chunked.request.headers["transfer-encoding"] == "chunked" and "content-length" not in chunked.request.headers
    assert chunked.status_code == sized.status_code == 413, chunked.text
    assert chunked.json() == sized.json() and "the limit is" in chunked.json()["detail"]
    assert fake.calls == []

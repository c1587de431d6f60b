"""Token auth (header everywhere, cookie on the stream only), CORS for the web origin, body limit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException
from fastapi.testclient import TestClient

from mirror.app import create_app
from services.auth import TOKEN_COOKIE, bearer_token, require_token
from services.bus import MemoryEventBus
from services.settings import Settings
from tests.support.mirror_process import free_port, serve, sse_events

TOKEN = "s3cret-token"
WEB = "http://127.0.0.1:8000"


@pytest.fixture
async def mirror_url(tmp_path: object) -> AsyncIterator[str]:
    bus = MemoryEventBus(1000)
    settings = Settings(
        home=tmp_path,
        router_url=f"http://127.0.0.1:{free_port()}",
        api_token=TOKEN,
        web_origin=WEB,
        max_body_bytes=2048,
    )
    async with serve(create_app(settings, bus)) as url:
        yield url
    await bus.close()


def test_bearer_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None


def test_no_token_configured_means_no_check() -> None:
    app = FastAPI()

    @app.get("/x", dependencies=[Depends(require_token(Settings(api_token="")))])
    def x() -> dict[str, bool]:
        return {"ok": True}

    assert TestClient(app).get("/x").status_code == 200


def test_the_dependency_refuses_with_a_clear_message() -> None:
    check = require_token(Settings(api_token=TOKEN))

    class FakeRequest:
        headers = {"authorization": "Bearer wrong"}
        cookies: dict[str, str] = {}

    with pytest.raises(HTTPException) as refused:
        check(FakeRequest())  # type: ignore[arg-type]
    assert refused.value.status_code == 401 and "does not match" in refused.value.detail


async def test_every_route_but_healthz_needs_the_token(mirror_url: str) -> None:
    async with httpx.AsyncClient(base_url=mirror_url) as client:
        assert (await client.get("/healthz")).status_code == 200
        for path in ("/readyz", "/v1/state", "/v1/events", "/metrics", "/v1/swarms", "/v1/requests/rq-1"):
            response = await client.get(path)
            assert response.status_code == 401, path
            assert "Authorization: Bearer" in response.json()["detail"]
            assert response.headers["www-authenticate"] == "Bearer"
        wrong = await client.get("/v1/state", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "does not match" in wrong.json()["detail"]
        right = await client.get("/v1/state", headers={"Authorization": f"Bearer {TOKEN}"})
        assert right.status_code == 200


async def test_the_stream_accepts_the_session_cookie_and_commands_do_not(mirror_url: str) -> None:
    async with httpx.AsyncClient(base_url=mirror_url) as client:
        assert (await client.post("/v1/session")).status_code == 401
        opened = await client.post("/v1/session", headers={"Authorization": f"Bearer {TOKEN}"})
        assert opened.status_code == 204
        cookie = opened.headers["set-cookie"]
        assert cookie.startswith(f"{TOKEN_COOKIE}={TOKEN};")
        for attribute in ("HttpOnly", "Path=/v1/events", "SameSite=strict"):
            assert attribute.lower() in cookie.lower()

    cookies = {TOKEN_COOKIE: TOKEN}
    async with httpx.AsyncClient(base_url=mirror_url, cookies=cookies) as client:
        async with client.stream("GET", "/v1/events") as response:
            assert response.status_code == 200
        # a cookie is sent by the browser on its own: it never authorizes a command
        launch = await client.post("/v1/swarms", json={"nodes": 1})
        assert launch.status_code == 401
        assert (await client.get("/v1/state")).status_code == 401
        closed = await client.delete("/v1/session", headers={"Authorization": f"Bearer {TOKEN}"})
        assert closed.status_code == 204 and 'codeswarm_token=""' in closed.headers["set-cookie"]


async def test_the_stream_with_a_bearer_header(mirror_url: str) -> None:
    async with (
        httpx.AsyncClient(base_url=mirror_url, headers={"Authorization": f"Bearer {TOKEN}"}) as client,
        client.stream("GET", "/v1/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(anext(aiter(sse_events(response))), 0.2)


async def test_cors_only_for_the_web_origin(mirror_url: str) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    async with httpx.AsyncClient(base_url=mirror_url) as client:
        allowed = await client.options("/v1/swarms", headers={"Origin": WEB, **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == WEB
        assert allowed.headers["access-control-allow-credentials"] == "true"
        other = await client.options("/v1/swarms", headers={"Origin": "http://evil.example", **preflight})
        assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
        plain = await client.get("/healthz", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in plain.headers


async def test_large_bodies_are_refused(mirror_url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=mirror_url, headers=headers) as client:
        big = await client.post("/v1/swarms/sw-a/inject", json={"nodes": "all", "content": "x" * 5000})
        assert big.status_code == 413 and "too large" in big.json()["detail"]

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(10):
                yield b'{"content": "' + b"y" * 500 + b'"}'

        streamed = await client.post("/v1/swarms/sw-a/inject", content=chunks())
        assert streamed.status_code == 413

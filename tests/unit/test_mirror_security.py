"""Token auth (header everywhere, a session cookie on the streams only), CORS for the web origin, body limit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request

from mirror.app import create_app
from services.auth import require_token
from services.bus import MemoryEventBus
from services.sessions import SESSION_COOKIE, SessionStore, is_https
from services.settings import Settings
from tests.support.mirror_process import free_port, serve, sse_events

TOKEN = "s3cret-token-of-the-mirror-security-tests"
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


def guarded_app(settings: Settings) -> TestClient:
    app = FastAPI()

    @app.get("/x", dependencies=[Depends(require_token(settings))])
    def x() -> dict[str, bool]:
        return {"ok": True}

    return TestClient(app)


def test_only_the_insecure_setting_turns_the_check_off() -> None:
    assert guarded_app(Settings(api_token="", insecure_no_auth=True)).get("/x").status_code == 200
    # no token and auth on (an app nobody gave its token): every request is refused, none let through
    closed = guarded_app(Settings(api_token="", insecure_no_auth=False))
    assert closed.get("/x").status_code == 401
    assert closed.get("/x", headers={"Authorization": "Bearer "}).status_code == 401
    # a configured token is checked even when the insecure setting is also in the environment
    checked = guarded_app(Settings(api_token=TOKEN, insecure_no_auth=True))
    assert checked.get("/x").status_code == 401
    assert checked.get("/x", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert checked.get("/x", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401


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


async def test_the_stream_accepts_a_session_cookie_that_is_not_the_token(mirror_url: str) -> None:
    async with httpx.AsyncClient(base_url=mirror_url) as client:
        assert (await client.post("/v1/session")).status_code == 401
        opened = await client.post("/v1/session", headers={"Authorization": f"Bearer {TOKEN}"})
        assert opened.status_code == 204
        cookie = opened.headers["set-cookie"]
        session_id = opened.cookies[SESSION_COOKIE]
        assert len(session_id) >= 40 and TOKEN not in cookie
        for attribute in ("HttpOnly", "Path=/v1;", "SameSite=strict", "Max-Age=43200"):
            assert attribute.lower() in cookie.lower()
        assert "secure" not in cookie.lower().split("; ")  # plain http: a Secure cookie would never come back

    async with httpx.AsyncClient(base_url=mirror_url, cookies={SESSION_COOKIE: session_id}) as client:
        async with client.stream("GET", "/v1/events") as response:
            assert response.status_code == 200
        # a cookie is sent by the browser on its own: it never authorizes a command or a snapshot
        launch = await client.post("/v1/swarms", json={"nodes": 1})
        assert launch.status_code == 401
        assert (await client.get("/v1/state")).status_code == 401
        # logout needs no token: it ends the cookie's own session, on the server
        closed = await client.delete("/v1/session")
        assert closed.status_code == 204 and f'{SESSION_COOKIE}=""' in closed.headers["set-cookie"]

    async with httpx.AsyncClient(base_url=mirror_url, cookies={SESSION_COOKIE: session_id}) as client:
        revoked = await client.get("/v1/events")
        assert revoked.status_code == 401 and "expired or was closed" in revoked.json()["detail"]
    async with httpx.AsyncClient(base_url=mirror_url, cookies={SESSION_COOKIE: TOKEN}) as client:
        assert (await client.get("/v1/events")).status_code == 401  # the token itself is no session id


def test_sessions_expire_and_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("services.sessions.time.monotonic", lambda: now[0])
    store = SessionStore(ttl_s=60, max_sessions=3)
    first = store.open()
    assert store.is_valid(first) and not store.is_valid("guess")
    now[0] += 61
    assert not store.is_valid(first) and len(store) == 0
    opened = [store.open() for _ in range(5)]
    assert len(store) == 3
    assert not store.is_valid(opened[0]) and not store.is_valid(opened[1]) and store.is_valid(opened[4])


def request_from(peer: str, scheme: str = "http", forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-proto", forwarded.encode())] if forwarded else []
    scope = {"type": "http", "scheme": scheme, "client": (peer, 5000), "server": ("127.0.0.1", 8766)}
    return Request({**scope, "method": "GET", "path": "/", "headers": headers, "query_string": b""})


def test_secure_cookies_believe_x_forwarded_proto_only_from_a_trusted_proxy() -> None:
    trusting = Settings(trusted_proxies="10.0.0.7, 10.0.0.8")
    assert is_https(request_from("10.0.0.7", forwarded="https"), trusting)
    assert not is_https(request_from("10.0.0.9", forwarded="https"), trusting)  # not a configured proxy
    assert not is_https(request_from("127.0.0.1", forwarded="https"), Settings())  # any local user can send it
    assert not is_https(request_from("10.0.0.8", forwarded="http"), trusting)
    assert is_https(request_from("127.0.0.1", scheme="https"), Settings())


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

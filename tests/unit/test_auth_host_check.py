"""The door check: foreign Host headers get 421 (DNS rebinding), cross-site writes 403."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.host_check import HostOriginCheck, host_name
from services.settings import Settings

WEB = "http://127.0.0.1:8000"


def app(**values: object) -> httpx.AsyncClient:
    api = FastAPI()

    @api.get("/thing")
    @api.post("/thing")
    async def thing() -> dict[str, bool]:
        return {"ok": True}

    api.add_middleware(HostOriginCheck, settings=Settings(web_origin=WEB, **values))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://127.0.0.1:8765")


def test_host_names() -> None:
    assert host_name("127.0.0.1:8765") == "127.0.0.1"
    assert host_name("[::1]:8765") == "::1"
    assert host_name("LocalHost") == "localhost"
    assert host_name("::1") == "::1"
    assert host_name("evil.example:80") == "evil.example"


async def test_only_loopback_and_allowed_hosts_are_answered() -> None:
    async with app(allowed_hosts="login1.hpc.example, Router") as client:
        answered = ("127.0.0.1:8765", "localhost:8765", "[::1]:8765", "127.0.0.2", "login1.hpc.example:8765", "router")
        for host in answered:
            assert (await client.get("/thing", headers={"Host": host})).status_code == 200, host
        for host in ("evil.example", "evil.example:8765", "login1.hpc.example.evil.example", "10.0.0.5:8765", ""):
            refused = await client.get("/thing", headers={"Host": host})
            assert refused.status_code == 421, host
            assert "CODESWARM_ALLOWED_HOSTS" in refused.json()["detail"]


async def test_cross_site_writes_are_refused_same_site_ones_pass() -> None:
    async with app() as client:
        assert (await client.post("/thing")).status_code == 200  # no Origin: not a browser's cross-site request
        assert (await client.post("/thing", headers={"Origin": WEB})).status_code == 200
        assert (await client.post("/thing", headers={"Origin": "http://127.0.0.1:8765"})).status_code == 200
        for origin in ("http://evil.example", "null", "http://127.0.0.1:9999", "http://localhost:8000"):
            refused = await client.post("/thing", headers={"Origin": origin})
            assert refused.status_code == 403, origin
            assert "CODESWARM_WEB_ORIGIN" in refused.json()["detail"]
        # reads are left to CORS: the browser does not let the foreign page see the answer
        assert (await client.get("/thing", headers={"Origin": "http://evil.example"})).status_code == 200

"""A 405 from router or mirror names every method the path takes, in ``Allow`` and in its message
(Starlette's named only the first route's: ``OPTIONS /v1/swarms`` said ``Allow: POST``)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from mirror.app import create_app as create_mirror
from router.app import create_app as create_router
from services.settings import Settings


@pytest.mark.parametrize("create_app", [create_router, create_mirror], ids=["router", "mirror"])
async def test_a_405_names_every_method_of_the_path(create_app: object, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, insecure_no_auth=True)
    app: FastAPI = create_app(settings)  # type: ignore[operator]
    transport = httpx.ASGITransport(app=app)  # no lifespan: routing answers a 405 before any route runs
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        refused = await http.request("PATCH", "/v1/swarms")
        assert refused.status_code == 405
        assert refused.headers["allow"] == "GET, POST"
        assert refused.json() == {"detail": "PATCH is not allowed on /v1/swarms; it takes GET, POST"}
        one = await http.delete("/v1/swarms/sw-x/inject")
        assert one.status_code == 405 and one.headers["allow"] == "POST"

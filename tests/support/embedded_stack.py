"""The embedded services (router on SQLite and the in-process bus, mirror) on free ports in a background
thread of the test process, as `codeswarm up` runs them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from codeswarm.embedded import Started, serve
from services.settings import Settings
from tests.support.servers import wait_until

START_TIMEOUT_S = 30.0


@dataclass
class Stack:
    router: str
    mirror: str | None
    token: str

    def cli(self, *argv: str) -> list[str]:
        return ["--router", self.router, "--mirror", self.mirror or "http://127.0.0.1:9", "--token", self.token, *argv]

    def get(self, path: str) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = httpx.get(self.router + path, headers=headers, timeout=10)
        response.raise_for_status()
        return response.json()


def stack_settings(home: Path, token: str = "", **overrides: Any) -> Settings:
    fields: dict[str, Any] = dict(
        home=home,
        database_url="",
        api_token=token,
        insecure_no_auth=not token,  # the suite's default; the token tests give one
        providers_file=None,
        router_host="127.0.0.1",
        mirror_host="127.0.0.1",
        web_host="127.0.0.1",
        router_port=0,
        mirror_port=0,
        web_port=0,
        router_url="",
        mirror_url="",
    )
    return Settings(**{**fields, **overrides})


@contextmanager
def embedded_stack(home: Path, token: str = "", **overrides: Any) -> Iterator[Stack]:
    """The embedded services on free ports in a background thread; every swarm is terminated afterwards."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()
    box: dict[str, Any] = {}

    def on_started(started: Started) -> None:
        box["started"] = started
        ready.set()

    def run() -> None:
        try:
            loop.run_until_complete(
                serve(stack_settings(home, token, **overrides), web=False, stop=stop, on_started=on_started)
            )
        except BaseException as exc:
            box["error"] = exc
        finally:
            ready.set()
            loop.close()

    thread = threading.Thread(target=run, name="embedded-stack", daemon=True)
    thread.start()
    assert ready.wait(START_TIMEOUT_S), "the embedded services did not start"
    if "error" in box:
        raise box["error"]
    urls = box["started"].urls
    stack = Stack(urls["router"], urls.get("mirror"), token)
    try:
        yield stack
    finally:
        try:
            terminate_everything(stack)
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join(START_TIMEOUT_S)
            assert not thread.is_alive(), "the embedded services did not stop"
            assert "error" not in box, box.get("error")


def terminate_everything(stack: Stack) -> None:
    """Node programs outlive a router that stops (it finds them again on restart): end them here."""
    headers = {"Authorization": f"Bearer {stack.token}"} if stack.token else {}
    for swarm in stack.get("/v1/swarms")["swarms"]:
        if swarm["status"] not in ("terminated", "failed"):
            httpx.post(f"{stack.router}/v1/swarms/{swarm['swarm_id']}/terminate", json={}, headers=headers, timeout=10)

    def all_ended() -> bool:
        return all(s["status"] in ("terminated", "failed") for s in stack.get("/v1/swarms")["swarms"])

    wait_until(all_ended, 30, "every swarm terminated", interval=0.1)

"""services/logs.py: the one set-up, its ids, its two formats, the request-id middleware, no secrets."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from services.logs import MAX_MESSAGE_CHARS, RequestIdMiddleware, configure_logging, log_context, name_in_logs
from services.settings import Settings

TOKEN = "unit-test-api-token-" + "t" * 20
log = logging.getLogger("codeswarm.test_logs")


@pytest.fixture
def stderr_lines(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """configure_logging on the captured stderr; the lines written, read after the test's logging."""
    monkeypatch.setenv("SOME_SERVICE_PASSWORD", "hunter2-but-longer")
    lines: list[str] = []
    yield lines
    root = logging.getLogger()
    for handler in [h for h in root.handlers if type(h).__name__ == "_OurHandler"]:
        root.removeHandler(handler)


def written(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.splitlines()


def test_text_lines_carry_time_level_logger_and_the_ids_in_context(
    stderr_lines: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info", Settings(api_token=TOKEN))
    log.info("outside")
    with log_context(swarm="sw-1", job="4242"):
        log.warning("inside %s", "it")
    log.debug("below the level")
    outside, inside = written(capsys)
    assert outside.endswith(" INFO codeswarm.test_logs outside") and outside[10] == "T" and outside[23] == "Z"
    assert inside.endswith(" WARNING codeswarm.test_logs [swarm_id=sw-1 job_id=4242] inside it")


def test_json_is_one_object_per_line_and_secrets_never_appear(
    stderr_lines: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODESWARM_LOG_FORMAT", "json")
    configure_logging(settings=Settings(api_token=TOKEN))
    log.info("token %s, password %s, header Bearer abc.def, api_key=sk-1234", TOKEN, "hunter2-but-longer")
    try:
        raise RuntimeError(f"failed with {TOKEN}")
    except RuntimeError:
        log.exception("multi\nline")
    log.info("%s", "x" * (MAX_MESSAGE_CHARS + 50))
    first, second, third = (json.loads(line) for line in written(capsys))
    assert first["message"] == "token ***, password ***, header Bearer ***, api_key=***"
    assert {"time", "level", "logger", "message"} <= set(first) and first["level"] == "INFO"
    assert second["message"] == "multi\nline" and "RuntimeError: failed with ***" in second["exception"]
    assert third["message"].endswith("… (50 characters cut)")
    assert TOKEN not in json.dumps([first, second, third])


def test_a_task_names_its_swarm_for_itself_only(stderr_lines: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", Settings())

    async def launch() -> None:
        name_in_logs(swarm="sw-task", job="7")
        log.info("in the task")

    async def main() -> None:
        await asyncio.create_task(launch())
        log.info("after the task")

    asyncio.run(main())
    in_task, after = written(capsys)
    assert "[swarm_id=sw-task job_id=7] in the task" in in_task and "[" not in after


async def test_request_ids_are_echoed_or_minted_and_name_the_swarm_of_the_path(
    stderr_lines: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info", Settings())

    async def handle(request: Request) -> PlainTextResponse:
        log.info("handling %s", request.url.path)
        return PlainTextResponse("ok")

    app = RequestIdMiddleware(Starlette(routes=[Route("/{path:path}", handle)]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        chosen = await http.get("/v1/swarms/sw-abc/turns", headers={"X-Request-ID": "from-client.1"})
        minted = await http.get("/v1/providers", headers={"X-Request-ID": "no spaces allowed"})
    assert chosen.headers["x-request-id"] == "from-client.1"
    assert minted.headers["x-request-id"].startswith("req-") and len(minted.headers["x-request-id"]) == 20
    first, second = [line for line in written(capsys) if " codeswarm.test_logs " in line]
    assert "[request_id=from-client.1 swarm_id=sw-abc] handling /v1/swarms/sw-abc/turns" in first
    assert f"[request_id={minted.headers['x-request-id']}] handling /v1/providers" in second

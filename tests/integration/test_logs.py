"""The logs of real router and mirror processes: one line per record with time, level, logger and the
ids that apply (JSON on request), request ids echoed, and never the API token or a model key."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.e2e.embedded_process import start_embedded
from tests.support.mirror_process import MirrorProcess
from tests.support.router_process import RouterProcess, all_idle, wait_swarm
from tests.support.servers import wait_until

TOKEN = "log-test-token-" + "k" * 30
WRONG_TOKEN = "wrong-token-" + "w" * 30
MODEL_KEY = "sk-log-test-model-key-0123456789"
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+ ")


async def test_service_logs_carry_ids_and_no_secrets(
    start_router: Callable[..., RouterProcess], tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    secrets_env = {"CODESWARM_API_TOKEN": TOKEN, "OPENAI_API_KEY": MODEL_KEY}
    router = start_router(CODESWARM_LOG_FORMAT="json", **secrets_env)
    mirror = MirrorProcess(tmp_path / "mirror", redis_url, redis_prefix, router.url, secrets_env).start()
    try:
        async with router.client(TOKEN) as http, httpx.AsyncClient(base_url=mirror.url, timeout=15) as mirror_http:
            wrong = await http.get("/v1/swarms", headers={"Authorization": f"Bearer {WRONG_TOKEN}"})
            assert wrong.status_code == 401
            launch = {"nodes": 1, "runtime": "mock", "runtime_params": {"tokens": 3, "delay_ms": 0}}
            launched = await http.post("/v1/swarms", json=launch, headers={"X-Request-ID": "client-chose-this-1"})
            assert launched.status_code == 202, launched.text
            assert launched.headers["x-request-id"] == "client-chose-this-1"
            swarm_id = launched.json()["swarm_id"]
            await wait_swarm(http, swarm_id, all_idle, 30)
            minted = await http.get(f"/v1/swarms/{swarm_id}", headers={"X-Request-ID": "bad id\twith tab"})
            assert re.fullmatch(r"req-[0-9a-f]{16}", minted.headers["x-request-id"])
            inject = {"nodes": "all", "content": f"say {MODEL_KEY}? no"}
            assert (await http.post(f"/v1/swarms/{swarm_id}/inject", json=inject)).status_code == 202
            headers = {"Authorization": f"Bearer {TOKEN}"}
            assert (await mirror_http.get("/v1/state", headers=headers)).status_code == 200
            assert (await mirror_http.get("/v1/state", params={"token": TOKEN})).status_code == 401
            assert (await http.post(f"/v1/swarms/{swarm_id}/terminate", json={})).status_code == 202
    finally:
        mirror.stop()
        router.stop()

    router_lines = (router.home / "router.log").read_text().splitlines()
    mirror_lines = mirror.log_path.read_text().splitlines()
    for line in router_lines + mirror_lines:
        assert TOKEN not in line and WRONG_TOKEN not in line and MODEL_KEY not in line, line

    records = [json.loads(line) for line in router_lines if line.startswith("{")]
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any(r.get("request_id") == "client-chose-this-1" and "POST /v1/swarms " in r["message"] for r in access)
    assert any(r.get("swarm_id") == swarm_id and f"GET /v1/swarms/{swarm_id} " in r["message"] for r in access)
    assert all(re.fullmatch(r"[\w.:-]{1,128}", r["request_id"]) for r in access)
    assert any(r["logger"].startswith("uvicorn") and r["level"] == "INFO" for r in records)

    texts = [line for line in mirror_lines if TEXT_LINE.match(line)]
    assert any(" uvicorn.access [request_id=req-" in line and "GET /v1/state" in line for line in texts)
    assert any("token=***" in line for line in texts)  # the token in a query string is hidden


def test_codeswarm_up_writes_uvicorns_lines_through_the_one_set_up(tmp_path: Path) -> None:
    running = start_embedded(tmp_path, {"CODESWARM_LOG_FORMAT": "json"}, "--log-level", "info")
    try:
        response = httpx.get(f"{running.mirror_url}/healthz", timeout=15)
        assert response.status_code == 200

        def access_logged() -> bool:
            return any("/healthz" in line for line in running.output)

        wait_until(access_logged, 15, "the mirror's access log line for /healthz")
    finally:
        running.stop()
    logged = [line for line in running.output if line.startswith("{")]
    records = [json.loads(line) for line in logged]
    assert {"uvicorn.error", "uvicorn.access"} <= {record["logger"] for record in records}
    access = next(record for record in records if "/healthz" in record["message"])
    assert access["level"] == "INFO" and access["logger"] == "uvicorn.access"

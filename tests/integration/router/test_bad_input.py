"""Bad input gets a clear HTTP error that says what to fix — never a crash, a hang or a silent drop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from tests.support.router_process import RouterProcess, all_idle, wait_swarm

GOOD_TOKEN = "bad-input-test-token-0123456789abcdef"  # routers refuse tokens under 32 characters


async def chunks(total: int, size: int = 64 << 10) -> AsyncIterator[bytes]:
    """A JSON-looking body of `total` bytes sent without a Content-Length (chunked transfer encoding)."""
    yield b'{"nodes": 0, "content": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


def message(response: httpx.Response) -> str:
    detail: Any = response.json()["detail"]
    return detail if isinstance(detail, str) else " | ".join(str(d.get("msg")) for d in detail)


async def test_launch_and_inject_refusals(start_router: Callable[..., RouterProcess]) -> None:
    router = start_router()
    async with router.client() as client:
        cases = [
            ({"nodes": 0}, "nodes", "greater than or equal to 1"),
            ({"nodes": 65}, "nodes", "between 1 and 64"),
            ({"nodes": 1, "provider": "nope"}, "provider", "valid providers: local"),
            ({"nodes": 1, "runtime": "gpt"}, "runtime", "valid runtimes: mock, shell"),
            ({"nodes": 1, "provider_params": {"partition": "x"}}, "partition", "valid fields"),
            ({"nodes": 1, "agents_bundle": {"../escape.md": "x"}}, "agents_bundle", "inside the workspace"),
            ({"nodes": 1, "agents_bundle": {"big.md": "x" * 600_000}}, "agents_bundle", "at most 524288 bytes"),
            ({"nodes": 1, "runtime_params": {"tokens": 0}}, "runtime_params", "must be between 1 and 1000000"),
            ({"nodes": 1, "runtime_params": {"speed": 9}}, "runtime_params", "valid keys: delay_ms, tokens"),
            ({"nodes": 1, "runtime_params": {"delay_ms": -1}}, "delay_ms", "must be between 0 and 60000"),
            ({"nodes": 1, "runtime_params": {"delay_ms": 1e9}}, "delay_ms", "must be between 0 and 60000"),
            ({"nodes": 1, "runtime_params": {"tokens": 2.5}}, "tokens", "must be an integer, not float"),
            ({"nodes": 1, "colour": "red"}, "colour", "Extra inputs are not permitted"),
        ]
        for body, field, text in cases:
            response = await client.post("/v1/swarms", json=body)
            assert response.status_code == 422, (body, response.text)
            assert field in response.text and text in message(response), (body, response.text)
        assert (await client.get("/v1/swarms")).json()["swarms"] == []  # nothing half-made

        assert (await client.get("/v1/swarms/sw-missing")).status_code == 404
        missing = await client.post("/v1/swarms/sw-missing/inject", json={"nodes": "all", "content": "x"})
        assert missing.status_code == 404 and "sw-missing" in message(missing)
        assert (await client.post("/v1/swarms/sw-missing/terminate", json={})).status_code == 404

        swarm_id = (await client.post("/v1/swarms", json={"nodes": 2})).json()["swarm_id"]
        await wait_swarm(client, swarm_id, all_idle, 20)
        out_of_range = await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": [1, 2], "content": "x"})
        assert out_of_range.status_code == 422 and "nodes 0..1" in message(out_of_range)
        for content in ("", "   \n"):
            empty = await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": "all", "content": content})
            assert empty.status_code == 422, content
        bad_mode = await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": 0, "content": "x", "mode": "now"})
        assert bad_mode.status_code == 422 and "queue" in bad_mode.text
        turns = await client.get(f"/v1/swarms/{swarm_id}/nodes/5/turns")
        assert turns.status_code == 422

        huge = await client.post(f"/v1/swarms/{swarm_id}/inject", json={"nodes": 0, "content": "x" * 2_000_000})
        assert huge.status_code == 413 and "limit" in message(huge)
        chunked = await client.post(
            f"/v1/swarms/{swarm_id}/inject", content=chunks(5 << 20), headers={"content-type": "application/json"}
        )
        assert (
            "content-length" not in chunked.request.headers
            and chunked.request.headers["transfer-encoding"] == "chunked"
        )
        assert chunked.status_code == 413 and "limit" in message(chunked)
        unknown_call = await client.post(
            f"/v1/swarms/{swarm_id}/approvals/call-nope", json={"node_id": 0, "decision": "accept"}
        )
        assert unknown_call.status_code == 404 and "no approval 'call-nope' on node 0" in message(unknown_call)
        not_json = await client.post("/v1/swarms", content=b"{nodes:", headers={"content-type": "application/json"})
        assert not_json.status_code == 422
        # no injection reached any node
        for node_id in (0, 1):
            assert (await client.get(f"/v1/swarms/{swarm_id}/nodes/{node_id}/turns")).json()["turns"] == []


async def test_idempotency_key_makes_a_retried_launch_safe(start_router: Callable[..., RouterProcess]) -> None:
    router = start_router()
    async with router.client() as client:
        headers = {"Idempotency-Key": "retry-me-1"}
        first = await client.post("/v1/swarms", json={"nodes": 1}, headers=headers)
        second = await client.post("/v1/swarms", json={"nodes": 1}, headers=headers)
        assert first.status_code == second.status_code == 202
        assert first.json()["swarm_id"] == second.json()["swarm_id"]
        assert first.json()["request_id"] == second.json()["request_id"]
        assert len((await client.get("/v1/swarms")).json()["swarms"]) == 1


async def test_token_guards_every_route_but_healthz(start_router: Callable[..., RouterProcess]) -> None:
    router = start_router(CODESWARM_API_TOKEN=GOOD_TOKEN)
    async with router.client() as anonymous, router.client("wrong") as wrong, router.client(GOOD_TOKEN) as good:
        assert (await anonymous.get("/healthz")).status_code == 200
        for path in ("/v1/swarms", "/v1/providers", "/readyz", "/metrics"):
            assert (await anonymous.get(path)).status_code == 401, path
            assert (await wrong.get(path)).status_code == 401, path
            assert (await good.get(path)).status_code == 200, path
        refused = await anonymous.post("/v1/swarms", json={"nodes": 1})
        assert refused.status_code == 401 and "CODESWARM_API_TOKEN" in message(refused)
        assert (await good.get("/v1/swarms")).json()["swarms"] == []  # the refused launch made nothing
        providers = (await good.get("/v1/providers")).json()["providers"]
        assert providers[0]["id"] == "local" and providers[0]["launch_fields"] == []
        assert "codeswarm_swarms" in (await good.get("/metrics")).text


async def test_idempotency_key_empty_is_absent_and_reuse_with_another_body_is_refused(
    start_router: Callable[..., RouterProcess],
) -> None:
    router = start_router()
    async with router.client() as client:
        for _ in range(2):  # an empty key is no key: two launches, two swarms, no 500
            empty = await client.post("/v1/swarms", json={"nodes": 1}, headers={"Idempotency-Key": ""})
            assert empty.status_code == 202, empty.text
        assert len((await client.get("/v1/swarms")).json()["swarms"]) == 2
        headers = {"Idempotency-Key": "one-launch"}
        first = await client.post("/v1/swarms", json={"nodes": 1, "alias": "a"}, headers=headers)
        assert first.status_code == 202
        other = await client.post("/v1/swarms", json={"nodes": 2, "alias": "a"}, headers=headers)
        assert other.status_code == 422, other.text
        assert "Idempotency-Key" in message(other) and "different" in message(other)
        assert len((await client.get("/v1/swarms")).json()["swarms"]) == 3


async def test_strict_types_nul_bytes_and_lone_surrogates_are_refused(
    start_router: Callable[..., RouterProcess],
) -> None:
    router = start_router()
    async with router.client() as client:
        for nodes in ("1", True, 1.0, [False]):
            response = await client.post("/v1/swarms", json={"nodes": nodes})
            assert response.status_code == 422, (nodes, response.text)
            assert "nodes" in response.text
        cases = [
            b'{"nodes": 1, "alias": "a\\u0000b"}',
            b'{"nodes": 1, "alias": "a\\ud800b"}',
            b'{"nodes": 1, "runtime_params": {"k\\u0000": "v"}}',
        ]
        for body in cases:
            response = await client.post("/v1/swarms", content=body, headers={"content-type": "application/json"})
            assert response.status_code == 422, (body, response.text)
            assert "alias" in message(response) or "runtime_params" in message(response), response.text
        not_utf8 = await client.post(
            "/v1/swarms", content=b'{"nodes": 1, "alias": "\xff"}', headers={"content-type": "application/json"}
        )
        assert not_utf8.status_code == 422 and "UTF-8" in not_utf8.text, not_utf8.text
        assert (await client.get("/v1/swarms")).json()["swarms"] == []

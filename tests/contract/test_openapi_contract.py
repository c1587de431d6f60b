"""What the committed OpenAPI descriptions promise a client generator: a stable, unique operationId and a
tag on every operation; one error body for every refusal; an example on every request body; the mirror's
forwarded routes described exactly as the router's; the SSE routes pointing at the event catalogue."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
METHODS = {"get", "post", "put", "patch", "delete"}
ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


def spec(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ROOT / "docs" / "openapi" / f"{name}.json").read_text())
    return document


def operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId → (method, path, operation)."""
    found: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                assert operation["operationId"] not in found, f"operationId {operation['operationId']} twice"
                found[operation["operationId"]] = (method, path, operation)
    return found


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


@pytest.mark.parametrize("name", ["router", "mirror"])
def test_every_operation_has_a_camel_case_id_and_a_tag(name: str) -> None:
    for operation_id, (method, path, operation) in operations(spec(name)).items():
        assert re.fullmatch(r"[a-z][a-zA-Z]+", operation_id), f"{method} {path}: {operation_id}"
        assert len(operation.get("tags", [])) == 1, f"{method} {path}: tags {operation.get('tags')}"


@pytest.mark.parametrize("name", ["router", "mirror"])
def test_every_refusal_has_the_one_error_body_and_says_what_it_means(name: str) -> None:
    document = spec(name)
    for method, path, operation in operations(document).values():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"]["application/json"]["schema"] == ERROR_BODY, f"{method} {path} {status}"
                assert response["description"] != "Validation Error", f"{method} {path} {status}"
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.mark.parametrize("name", ["router", "mirror"])
def test_every_request_body_has_an_example_the_schema_accepts_the_shape_of(name: str) -> None:
    document = spec(name)
    for method, path, operation in operations(document).values():
        if "requestBody" not in operation:
            continue
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        body = next((s for s in body.get("anyOf", [body]) if s.get("type") != "null"), body)
        schema = resolve(document, body)
        assert schema.get("examples"), f"{method} {path}: no example"
        for example in schema["examples"]:
            assert set(example) <= set(schema["properties"]), f"{method} {path}: {example}"
            assert set(schema.get("required", [])) <= set(example), f"{method} {path}: {example}"


def test_the_mirror_describes_every_forwarded_route_as_the_router_does() -> None:
    router, mirror = spec("router"), spec("mirror")
    router_ops, mirror_ops = operations(router), operations(mirror)
    forwarded = {op for op, (_, path, _) in router_ops.items() if path.startswith("/v1/")}
    assert forwarded <= set(mirror_ops)
    for operation_id in forwarded:
        method, path, theirs = router_ops[operation_id]
        mirror_method, mirror_path, ours = mirror_ops[operation_id]
        assert (mirror_method, mirror_path) == (method, path)
        assert ours.get("requestBody") == theirs.get("requestBody"), operation_id
        assert ours["tags"] == theirs["tags"], operation_id
        for status, response in theirs["responses"].items():
            assert status in ours["responses"], f"{operation_id}: the mirror does not declare {status}"
            assert ours["responses"][status].get("content") == response.get("content"), f"{operation_id} {status}"
    for model in ("LaunchRequest", "InjectRequest", "SwarmView", "TurnList", "ErrorBody"):
        assert mirror["components"]["schemas"][model] == router["components"]["schemas"][model], model


def test_the_event_streams_point_at_the_event_catalogue() -> None:
    mirror = operations(spec("mirror"))
    assert "getEventSchema" in mirror
    schema_path = mirror["getEventSchema"][1]
    for stream in ("streamEvents", "streamFocusedEvents"):
        _, _, operation = mirror[stream]
        assert operation["x-events-schema"] == schema_path
        assert schema_path in operation["responses"]["200"]["description"]

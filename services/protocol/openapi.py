"""What the OpenAPI descriptions of the router and the mirror say beyond the models: the meaning of each
error status (always with the one ErrorBody), and operation ids for routes that name none."""

from __future__ import annotations

from typing import Any

from services.protocol.errors import ErrorBody

ERROR_MEANINGS: dict[int, str] = {
    400: "The request names a stream position that is not an entry id (Last-Event-ID / last_event_id).",
    401: "The API token is missing or wrong (CODESWARM_API_TOKEN; send Authorization: Bearer <token>).",
    404: "No such swarm, node, approval, request or archive (unknown, rejected at launch, or removed).",
    409: "The request conflicts with the current state, e.g. a swarm that accepts no injections now, an "
    "approval already answered, an archive not ready yet.",
    413: "The request body is larger than CODESWARM_MAX_BODY_BYTES.",
    421: "The Host header names a host these services do not answer (CODESWARM_ALLOWED_HOSTS).",
    422: "The request is invalid: detail lists each field that is wrong, with what is valid.",
    502: "The mirror reached the router, but its answer broke off or made no sense.",
    503: "The service cannot do this now (the router, or a swarm's nodes, cannot be reached); send it again.",
    504: "The router did not answer in time; the command may or may not have been applied.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status code with its meaning and the ErrorBody model."""
    return {code: {"model": ErrorBody, "description": ERROR_MEANINGS[code]} for code in codes}


def operation_id(route: Any) -> str:
    """The operationId of a route that names none: its function's name in lowerCamelCase (open_session →
    openSession), so it stays what it is while paths and methods change."""
    first, *rest = str(route.name).split("_")
    return first + "".join(part.title() for part in rest)


# The 200 of GET /v1/swarms/{swarm_id}/archive (router and mirror)
ARCHIVE: dict[str, Any] = {
    "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
    "description": "The node workspaces as a tar.gz.",
}

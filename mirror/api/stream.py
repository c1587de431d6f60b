"""The read side: ``GET /v1/events`` (SSE) and ``GET /v1/state`` (the read model)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, HTTPException, Query, Response

from mirror.api.deps import Core
from mirror.stream import ClientStream, resume_id
from services.protocol.catalogue import catalogue_schema
from services.protocol.mirror_views import MirrorState
from services.protocol.openapi import error_responses

EVENTS_SCHEMA_PATH = "/v1/events/schema"
EVENT_STREAM = {
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
    "description": (
        "Server-Sent Events.  Each event's data: is one JSON envelope of the event catalogue, a JSON Schema "
        f"served at GET {EVENTS_SCHEMA_PATH} (and committed as docs/events.schema.json); its event: is the "
        "envelope's event name."
    ),
}


def resume_after(header: str | None, query: str | None) -> str | None:
    """The stream entry id a client resumes after (see mirror/stream.py ``resume_id``), or a 400."""
    try:
        return resume_id(header, query)
    except ValueError:
        raise HTTPException(
            400, "Last-Event-ID / last_event_id must be a stream entry id like '1732461497123-0'"
        ) from None


# The Last-Event-ID a browser's EventSource sends on every reconnect.
LastEventIdHeader = Annotated[str | None, Header(alias="Last-Event-ID", max_length=45)]


def event_stream_route(api: APIRouter, path: str, operation_id: str) -> Any:
    """The decorator of an SSE route: its 200 is the event stream; a bad resume id or query is refused."""
    return api.get(
        path,
        response_class=Response,
        operation_id=operation_id,
        responses={200: EVENT_STREAM, **error_responses(400, 401, 421, 422)},
        openapi_extra={"x-events-schema": EVENTS_SCHEMA_PATH},
    )


stream_router = APIRouter(tags=["stream"])  # the one route that also takes the session cookie
router = APIRouter(tags=["stream"])


@event_stream_route(stream_router, "/v1/events", "streamEvents")
async def events(
    core: Core,
    swarm_id: Annotated[str | None, Query(max_length=200, description="Only this swarm's events.")] = None,
    node_id: Annotated[
        int | None, Query(ge=0, description="Only this node's events, plus events that name no node.")
    ] = None,
    last_event_id: Annotated[
        str | None, Query(max_length=45, description="Resume after this id (the Last-Event-ID header wins).")
    ] = None,
    last_event_id_header: LastEventIdHeader = None,
) -> Response:
    """Server-Sent Events: ``id:`` is the bus entry id, ``event:`` the event name, ``data:`` the JSON
    envelope.  With ``Last-Event-ID`` the events after that id come first, in order, without gaps or
    duplicates, then live ones.  Keep-alive comments every ``CODESWARM_SSE_KEEPALIVE_S`` seconds."""
    after = resume_after(last_event_id_header, last_event_id)
    subscriber = core.hub.subscribe(swarm_id=swarm_id, node_id=node_id, limit=core.options.queue_limit)
    return ClientStream(core.hub, subscriber, after, core.options)


@router.get(
    "/v1/state",
    response_class=Response,
    operation_id="getState",
    responses={200: {"model": MirrorState}, **error_responses(401, 421)},
)
async def state(core: Core) -> Response:
    """The read model and the id of the last event it reflects: load this, then stream from
    ``last_event_id`` and nothing is missed in between.  ``degraded`` says why the mirror may be behind
    the router (null when it is not)."""
    problems = core.problems()
    document = {
        **core.model.state(),
        "degraded": "; ".join(problems) if problems else None,
    }
    return Response(orjson.dumps(document), media_type="application/json")


@router.get(
    EVENTS_SCHEMA_PATH,
    operation_id="getEventSchema",
    responses={
        200: {"content": {"application/json": {}}, "description": "The JSON Schema of every event."},
        **error_responses(401, 421),
    },
)
async def event_schema() -> Response:
    """The event catalogue: one JSON Schema (2020-12) of every event envelope the stream carries,
    discriminated by ``event``; ``x-events`` maps each name to its envelope."""
    return Response(orjson.dumps(catalogue_schema()), media_type="application/json")

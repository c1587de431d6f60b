"""``GET /v1/swarms/{swarm_id}/live``: every node's latest turn and matrix summary in one answer, so a
page reloaded mid-turn redraws a whole swarm (the answer so far included) with one request."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, HTTPException, Path, Response

from mirror.api.deps import Core
from services.protocol.mirror_views import LiveSwarm
from services.protocol.openapi import error_responses

router = APIRouter(tags=["stream"])


@router.get(
    "/v1/swarms/{swarm_id}/live",
    response_class=Response,
    operation_id="getLiveSwarm",
    responses={200: {"model": LiveSwarm}, **error_responses(401, 404, 421, 422)},
)
async def live(swarm_id: Annotated[str, Path(max_length=200)], core: Core) -> Response:
    """``{swarm_id, last_event_id, nodes: [{node_id, turn, turns_seen, last_exit_code, tokens,
    context_window, approvals}]}``: ``turn`` is the node's latest turn as the events up to
    ``last_event_id`` left it (``items`` in order: reasoning, commands, answer, with the text so far).
    Events after ``last_event_id`` continue it.  404 for a swarm the read model does not hold."""
    if swarm_id not in core.model.swarms:
        raise HTTPException(404, f"the mirror holds no swarm {swarm_id}")
    document = {"swarm_id": swarm_id, "last_event_id": core.model.position, "nodes": core.model.live.view(swarm_id)}
    return Response(orjson.dumps(document), media_type="application/json")

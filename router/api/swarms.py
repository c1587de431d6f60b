"""Routes of the swarm resource: launch, list, get, inject, terminate, approvals, turns, archive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from router.api.deps import AuthorityDep, DbDep
from router.errors import Conflict, NotFound
from router.row_views import approval_view, swarm_view, turn_view
from router.store.approvals import swarm_approvals
from router.store.swarms import nodes_of, visible_swarms
from router.store.turns import node_turns
from services.api_app import IdempotencyKey
from services.protocol import ApprovalRequest, InjectRequest, InterruptRequest, LaunchRequest, TerminateRequest
from services.protocol.openapi import ARCHIVE, error_responses
from services.protocol.views import (
    Accepted,
    ApprovalList,
    InjectAccepted,
    InterruptAccepted,
    LaunchAccepted,
    SwarmList,
    SwarmView,
    TerminateAccepted,
    TurnList,
)

router = APIRouter(prefix="/v1/swarms", tags=["swarms"], responses=error_responses(401, 421))


def _command_route(path: str, operation_id: str, accepted: type, *errors: int) -> Any:
    """The decorator of a command: 202 with ``accepted``, or the refusals ``errors`` name."""
    return router.post(
        path, status_code=202, response_model=accepted, operation_id=operation_id, responses=error_responses(*errors)
    )


def _read_route(path: str, operation_id: str, model: type, *errors: int) -> Any:
    """The decorator of a read: 200 with ``model``, or the refusals ``errors`` name."""
    return router.get(path, response_model=model, operation_id=operation_id, responses=error_responses(*errors))


@_command_route("", "launchSwarm", LaunchAccepted, 413, 422)
async def launch(
    body: LaunchRequest, authority: AuthorityDep, idempotency_key: IdempotencyKey = None
) -> LaunchAccepted:
    """Launch a swarm; answers at once, the launch continues in the background (watch the events).
    An empty Idempotency-Key is no key."""
    return await authority.launch(body, (idempotency_key or "").strip() or None)


@_read_route("", "listSwarms", SwarmList)
async def list_swarms(db: DbDep) -> SwarmList:
    async with db.transaction() as session:
        swarms = await visible_swarms(session)
        nodes = await nodes_of(session, [s.swarm_id for s in swarms])
    return SwarmList(swarms=[swarm_view(s, nodes[s.swarm_id]) for s in swarms])


@_read_route("/{swarm_id}", "getSwarm", SwarmView, 404, 422)
async def get_swarm(swarm_id: str, db: DbDep, authority: AuthorityDep) -> SwarmView:
    async with db.transaction() as session:
        swarm = await authority.readable(session, swarm_id)
        nodes = await nodes_of(session, [swarm_id])
    return swarm_view(swarm, nodes[swarm_id])


@_command_route("/{swarm_id}/inject", "injectPrompt", InjectAccepted, 404, 409, 413, 422)
async def inject(swarm_id: str, body: InjectRequest, authority: AuthorityDep) -> InjectAccepted:
    return await authority.inject(swarm_id, body)


@_command_route("/{swarm_id}/terminate", "terminateSwarm", TerminateAccepted, 404, 413, 422)
async def terminate(swarm_id: str, authority: AuthorityDep, body: TerminateRequest | None = None) -> TerminateAccepted:
    return await authority.terminate(swarm_id, body or TerminateRequest())


@_command_route("/{swarm_id}/interrupt", "interruptTurns", InterruptAccepted, 404, 409, 413, 422, 503)
async def interrupt(swarm_id: str, body: InterruptRequest, authority: AuthorityDep) -> InterruptAccepted:
    """End the running turn of each named node (`turn/interrupt`); it completes with status interrupted."""
    return await authority.interrupt(swarm_id, body)


@_command_route("/{swarm_id}/approvals/{call_id}", "answerApproval", Accepted, 404, 409, 413, 422, 503)
async def approve(swarm_id: str, call_id: str, body: ApprovalRequest, authority: AuthorityDep) -> Accepted:
    """Answer an agent's approval request with one of its available_decisions (422 lists them; 404 for an
    unknown call, 409 for one already answered)."""
    return Accepted(request_id=await authority.approve(swarm_id, call_id, body))


@_read_route("/{swarm_id}/approvals", "listApprovals", ApprovalList, 404, 422)
async def approvals(swarm_id: str, db: DbDep, authority: AuthorityDep, pending: bool = True) -> ApprovalList:
    """The swarm's approval requests, oldest first: only those waiting for an answer unless pending=false."""
    async with db.transaction() as session:
        await authority.visible(session, swarm_id)
        rows = await swarm_approvals(session, swarm_id, pending_only=pending)
    return ApprovalList(approvals=[approval_view(row) for row in rows])


@_read_route("/{swarm_id}/nodes/{node_id}/turns", "listTurns", TurnList, 404, 422)
async def turns(swarm_id: str, node_id: int, db: DbDep, authority: AuthorityDep) -> TurnList:
    """The durable transcript of one node: every turn's completed items, oldest first."""
    async with db.transaction() as session:
        swarm = await authority.visible(session, swarm_id)
        authority.check_node(swarm, node_id)
        transcript = await node_turns(session, swarm_id, node_id)
    return TurnList(turns=[turn_view(t.turn, t.commands, t.approvals) for t in transcript])


@router.get(
    "/{swarm_id}/archive",
    response_class=FileResponse,
    operation_id="getArchive",
    responses={
        200: ARCHIVE,
        **error_responses(404, 409, 422),
    },
)
async def archive(swarm_id: str, db: DbDep, authority: AuthorityDep) -> FileResponse:
    """The node workspaces as a tar.gz, once a terminate with download_workspaces has archived them."""
    async with db.transaction() as session:
        swarm = await authority.visible(session, swarm_id)
    if not swarm.archive_path or not Path(swarm.archive_path).is_file():
        if swarm.download_workspaces:
            raise Conflict(f"the archive of swarm {swarm_id} is not ready yet; wait for workspace_archive_ready")
        raise NotFound(f"swarm {swarm_id} has no archive: terminate it with download_workspaces=true")
    return FileResponse(swarm.archive_path, media_type="application/gzip", filename=f"{swarm_id}.tar.gz")

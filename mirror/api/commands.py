"""The router's command routes, forwarded: same paths, same bodies, the router's answers.

Bodies are validated here with the same protocol models the router uses (a bad one never leaves the
mirror), then sent to the router once — never retried behind the caller's back.  The mirror records
which request did what from the router's answers (``GET /v1/requests/{request_id}``).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from mirror.api.deps import Core
from mirror.router_client import RouterUnavailable
from services.api_app import IdempotencyKey
from services.protocol import ApprovalRequest, InjectRequest, InterruptRequest, LaunchRequest, TerminateRequest
from services.protocol.mirror_views import RequestRecord
from services.protocol.openapi import ARCHIVE, error_responses
from services.protocol.views import (
    Accepted,
    ApprovalList,
    InjectAccepted,
    InterruptAccepted,
    LaunchAccepted,
    ProviderList,
    SwarmList,
    SwarmView,
    TerminateAccepted,
    TurnList,
)

router = APIRouter(responses=error_responses(401, 421))
# The forwarded routes have the router's operation ids, models and refusals, plus what forwarding adds.
SWARMS: list[str | Enum] = ["swarms"]
FORWARDING = error_responses(502, 503, 504)

SwarmId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
CallId = Annotated[str, Path(pattern=r"^[^/]{1,200}$")]
_PASS_HEADERS = ("content-type", "content-disposition", "content-length", "retry-after")


def _segment(value: str | int) -> str:
    """One path segment for the router's URL: quoted, and never a dot segment."""
    text = str(value)
    if text in (".", ".."):
        raise HTTPException(422, f"{text!r} is not a valid identifier")
    return quote(text, safe="")


def _unavailable(exc: RouterUnavailable) -> HTTPException:
    return HTTPException(exc.status_code, exc.message)


async def _forward(
    core: Core, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[Response, Any]:
    try:
        answer = await core.router.request(method, path, json=body, headers=headers)
    except RouterUnavailable as exc:
        raise _unavailable(exc) from exc
    parsed: Any = None
    if answer.headers.get("content-type", "").startswith("application/json"):
        try:
            parsed = answer.json()
        except ValueError:
            parsed = None
    passed = {
        name: answer.headers[name] for name in _PASS_HEADERS if name in answer.headers and name != "content-length"
    }
    return Response(answer.content, status_code=answer.status_code, headers=passed), parsed


def _command_route(path: str, operation_id: str, accepted: type, *errors: int) -> Any:
    """The decorator of a forwarded command: 202 with the router's ``accepted`` answer, or its refusals."""
    return router.post(
        path,
        status_code=202,
        response_model=None,
        operation_id=operation_id,
        tags=SWARMS,
        responses={202: {"model": accepted}, **error_responses(*errors), **FORWARDING},
    )


def _read_route(path: str, operation_id: str, model: type, *errors: int, tags: list[str | Enum] = SWARMS) -> Any:
    """The decorator of a forwarded read: 200 with the router's ``model``, or its refusals."""
    return router.get(
        path,
        response_model=None,
        operation_id=operation_id,
        tags=tags,
        responses={200: {"model": model}, **error_responses(*errors), **FORWARDING},
    )


async def _command(
    core: Core,
    command: str,
    path: str,
    body: Any,
    swarm_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Forward a command once, and remember the request the router accepted: for ``swarm_id`` (or the
    swarm the answer names) with the injections the answer lists."""
    response, parsed = await _forward(core, "POST", path, body, headers)
    if response.status_code == 202 and isinstance(parsed, dict) and isinstance(parsed.get("request_id"), str):
        refs = [ref for ref in parsed.get("injections") or [] if isinstance(ref, dict)]
        core.ledger.record(parsed["request_id"], swarm_id or parsed.get("swarm_id"), command, refs)
    return response


async def _read(core: Core, path: str) -> Response:
    return (await _forward(core, "GET", path))[0]


def _swarm_path(swarm_id: str, *rest: str | int) -> str:
    return "/".join(["/v1/swarms", *(_segment(part) for part in (swarm_id, *rest))])


@_command_route("/v1/swarms", "launchSwarm", LaunchAccepted, 413, 422)
async def launch(body: LaunchRequest, core: Core, idempotency_key: IdempotencyKey = None) -> Response:
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    return await _command(core, "launch", "/v1/swarms", body.model_dump(mode="json", exclude_unset=True), None, headers)


@_read_route("/v1/swarms", "listSwarms", SwarmList)
async def list_swarms(core: Core) -> Response:
    return await _read(core, "/v1/swarms")


@_read_route("/v1/swarms/{swarm_id}", "getSwarm", SwarmView, 404, 422)
async def get_swarm(swarm_id: SwarmId, core: Core) -> Response:
    return await _read(core, _swarm_path(swarm_id))


@_command_route("/v1/swarms/{swarm_id}/inject", "injectPrompt", InjectAccepted, 404, 409, 413, 422)
async def inject(swarm_id: SwarmId, body: InjectRequest, core: Core) -> Response:
    payload = body.model_dump(mode="json", exclude_unset=True)
    return await _command(core, "inject", _swarm_path(swarm_id, "inject"), payload, swarm_id)


@_command_route("/v1/swarms/{swarm_id}/terminate", "terminateSwarm", TerminateAccepted, 404, 413, 422)
async def terminate(swarm_id: SwarmId, core: Core, body: TerminateRequest | None = None) -> Response:
    payload = body.model_dump(mode="json", exclude_unset=True) if body is not None else None
    return await _command(core, "terminate", _swarm_path(swarm_id, "terminate"), payload, swarm_id)


@_command_route("/v1/swarms/{swarm_id}/interrupt", "interruptTurns", InterruptAccepted, 404, 409, 413, 422)
async def interrupt(swarm_id: SwarmId, body: InterruptRequest, core: Core) -> Response:
    path = _swarm_path(swarm_id, "interrupt")
    return await _command(core, "interrupt", path, body.model_dump(mode="json"), swarm_id)


@_command_route("/v1/swarms/{swarm_id}/approvals/{call_id}", "answerApproval", Accepted, 404, 409, 413, 422)
async def approve(swarm_id: SwarmId, call_id: CallId, body: ApprovalRequest, core: Core) -> Response:
    path = _swarm_path(swarm_id, "approvals", call_id)
    return await _command(core, "approval", path, body.model_dump(mode="json"), swarm_id)


@_read_route("/v1/swarms/{swarm_id}/approvals", "listApprovals", ApprovalList, 404, 422)
async def approvals(swarm_id: SwarmId, core: Core, pending: bool = True) -> Response:
    return await _read(core, _swarm_path(swarm_id, "approvals") + f"?pending={'true' if pending else 'false'}")


@_read_route("/v1/swarms/{swarm_id}/nodes/{node_id}/turns", "listTurns", TurnList, 404, 422)
async def turns(swarm_id: SwarmId, node_id: Annotated[int, Path(ge=0)], core: Core) -> Response:
    return await _read(core, _swarm_path(swarm_id, "nodes", node_id, "turns"))


@_read_route("/v1/providers", "listProviders", ProviderList, tags=["providers"])
async def providers(core: Core) -> Response:
    return await _read(core, "/v1/providers")


@router.get(
    "/v1/swarms/{swarm_id}/archive",
    response_class=Response,
    tags=SWARMS,
    operation_id="getArchive",
    responses={
        200: ARCHIVE,
        **error_responses(404, 409, 422),
        **FORWARDING,
    },
)
async def archive(swarm_id: SwarmId, core: Core) -> Response:
    """The workspaces archive, streamed through from the router."""
    try:
        answer = await core.router.open_stream("GET", _swarm_path(swarm_id, "archive"))
    except RouterUnavailable as exc:
        raise _unavailable(exc) from exc
    headers = {name: answer.headers[name] for name in _PASS_HEADERS if name in answer.headers}
    return StreamingResponse(
        answer.aiter_raw(), status_code=answer.status_code, headers=headers, background=BackgroundTask(answer.aclose)
    )


@router.get(
    "/v1/requests/{request_id}",
    tags=["requests"],
    operation_id="getRequest",
    response_model=RequestRecord,
    responses=error_responses(404, 422),
)
async def request_record(request_id: Annotated[str, Path(max_length=200)], core: Core) -> dict[str, Any]:
    """What a request forwarded by (or seen by) this mirror did: ``{request_id, swarm_id, command,
    injections}``.  404 when this mirror has no record of it."""
    record = core.ledger.lookup(request_id)
    if record is None:
        raise HTTPException(404, f"this mirror has no record of request {request_id}")
    return record.view()

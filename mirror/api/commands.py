"""The router's command routes, forwarded: same paths, same bodies, the router's answers.

Bodies are validated here with the same protocol models the router uses (a bad one never leaves the
mirror), then sent to the router once — never retried behind the caller's back.  The mirror records
which request did what from the router's answers (``GET /v1/requests/{request_id}``).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Header, HTTPException, Path, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from mirror.api.deps import Core
from mirror.router_client import RouterUnavailable
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


def _accepted(response: Response, parsed: Any) -> dict[str, Any] | None:
    return parsed if response.status_code == 202 and isinstance(parsed, dict) else None


@router.post(
    "/v1/swarms",
    status_code=202,
    response_model=None,
    operation_id="launchSwarm",
    tags=SWARMS,
    responses={202: {"model": LaunchAccepted}, **error_responses(413, 422), **FORWARDING},
)
async def launch(
    body: LaunchRequest,
    core: Core,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    response, parsed = await _forward(
        core, "POST", "/v1/swarms", body.model_dump(mode="json", exclude_unset=True), headers
    )
    if (answer := _accepted(response, parsed)) and isinstance(answer.get("request_id"), str):
        core.ledger.record(answer["request_id"], answer.get("swarm_id"), "launch")
    return response


@router.get(
    "/v1/swarms",
    response_model=None,
    tags=SWARMS,
    operation_id="listSwarms",
    responses={200: {"model": SwarmList}, **FORWARDING},
)
async def list_swarms(core: Core) -> Response:
    return (await _forward(core, "GET", "/v1/swarms"))[0]


@router.get(
    "/v1/swarms/{swarm_id}",
    response_model=None,
    operation_id="getSwarm",
    tags=SWARMS,
    responses={200: {"model": SwarmView}, **error_responses(404, 422), **FORWARDING},
)
async def get_swarm(swarm_id: SwarmId, core: Core) -> Response:
    return (await _forward(core, "GET", f"/v1/swarms/{_segment(swarm_id)}"))[0]


@router.post(
    "/v1/swarms/{swarm_id}/inject",
    status_code=202,
    response_model=None,
    operation_id="injectPrompt",
    tags=SWARMS,
    responses={202: {"model": InjectAccepted}, **error_responses(404, 409, 413, 422), **FORWARDING},
)
async def inject(swarm_id: SwarmId, body: InjectRequest, core: Core) -> Response:
    path = f"/v1/swarms/{_segment(swarm_id)}/inject"
    response, parsed = await _forward(core, "POST", path, body.model_dump(mode="json", exclude_unset=True))
    if (answer := _accepted(response, parsed)) and isinstance(answer.get("request_id"), str):
        refs = [ref for ref in answer.get("injections") or [] if isinstance(ref, dict)]
        core.ledger.record(answer["request_id"], swarm_id, "inject", refs)
    return response


@router.post(
    "/v1/swarms/{swarm_id}/terminate",
    status_code=202,
    response_model=None,
    operation_id="terminateSwarm",
    tags=SWARMS,
    responses={202: {"model": TerminateAccepted}, **error_responses(404, 413, 422), **FORWARDING},
)
async def terminate(swarm_id: SwarmId, core: Core, body: TerminateRequest | None = None) -> Response:
    path = f"/v1/swarms/{_segment(swarm_id)}/terminate"
    payload = body.model_dump(mode="json", exclude_unset=True) if body is not None else None
    response, parsed = await _forward(core, "POST", path, payload)
    if (answer := _accepted(response, parsed)) and isinstance(answer.get("request_id"), str):
        core.ledger.record(answer["request_id"], swarm_id, "terminate")
    return response


@router.post(
    "/v1/swarms/{swarm_id}/interrupt",
    status_code=202,
    response_model=None,
    operation_id="interruptTurns",
    tags=SWARMS,
    responses={202: {"model": InterruptAccepted}, **error_responses(404, 409, 413, 422), **FORWARDING},
)
async def interrupt(swarm_id: SwarmId, body: InterruptRequest, core: Core) -> Response:
    path = f"/v1/swarms/{_segment(swarm_id)}/interrupt"
    response, parsed = await _forward(core, "POST", path, body.model_dump(mode="json"))
    if (answer := _accepted(response, parsed)) and isinstance(answer.get("request_id"), str):
        core.ledger.record(answer["request_id"], swarm_id, "interrupt")
    return response


@router.post(
    "/v1/swarms/{swarm_id}/approvals/{call_id}",
    status_code=202,
    response_model=None,
    operation_id="answerApproval",
    tags=SWARMS,
    responses={202: {"model": Accepted}, **error_responses(404, 409, 413, 422), **FORWARDING},
)
async def approve(swarm_id: SwarmId, call_id: CallId, body: ApprovalRequest, core: Core) -> Response:
    path = f"/v1/swarms/{_segment(swarm_id)}/approvals/{_segment(call_id)}"
    response, parsed = await _forward(core, "POST", path, body.model_dump(mode="json"))
    if (answer := _accepted(response, parsed)) and isinstance(answer.get("request_id"), str):
        core.ledger.record(answer["request_id"], swarm_id, "approval")
    return response


@router.get(
    "/v1/swarms/{swarm_id}/approvals",
    response_model=None,
    operation_id="listApprovals",
    tags=SWARMS,
    responses={200: {"model": ApprovalList}, **error_responses(404, 422), **FORWARDING},
)
async def approvals(swarm_id: SwarmId, core: Core, pending: bool = True) -> Response:
    path = f"/v1/swarms/{_segment(swarm_id)}/approvals?pending={'true' if pending else 'false'}"
    return (await _forward(core, "GET", path))[0]


@router.get(
    "/v1/swarms/{swarm_id}/nodes/{node_id}/turns",
    response_model=None,
    operation_id="listTurns",
    tags=SWARMS,
    responses={200: {"model": TurnList}, **error_responses(404, 422), **FORWARDING},
)
async def turns(swarm_id: SwarmId, node_id: Annotated[int, Path(ge=0)], core: Core) -> Response:
    return (await _forward(core, "GET", f"/v1/swarms/{_segment(swarm_id)}/nodes/{node_id}/turns"))[0]


@router.get(
    "/v1/providers",
    response_model=None,
    tags=["providers"],
    operation_id="listProviders",
    responses={200: {"model": ProviderList}, **FORWARDING},
)
async def providers(core: Core) -> Response:
    return (await _forward(core, "GET", "/v1/providers"))[0]


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
        answer = await core.router.open_stream("GET", f"/v1/swarms/{_segment(swarm_id)}/archive")
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

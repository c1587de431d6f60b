"""The lifecycle authority: launch, inject, approve and terminate — the only writer of swarm state."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from router.bundle import check_bundle
from router.errors import Conflict, Invalid, InvalidMany, NotFound, Unavailable
from router.ids import new_injection_id, new_request_id, new_swarm_id
from router.ingest import Ingest
from router.lifecycle import can_transition, emit, transition
from router.providers.base import JobState, LaunchRejected, LaunchSpec, Provider
from router.providers.fields import LaunchParamsError, validate_params
from router.runtime_params import RuntimeParamsError, checked_runtime_params, model_key
from router.store.database import Database
from router.store.swarms import (
    assign_job_id,
    create_nodes,
    get_swarm,
    nodes_of,
    now,
    swarm_by_idempotency_key,
)
from router.store.tables import ApprovalRow, InjectionRow, SwarmRow
from router.transcript import Transcript
from router.views import swarm_view
from services.node.records import INBOX_APPROVAL, INBOX_INJECT, INBOX_INTERRUPT
from services.protocol import (
    ENDED_STATUSES,
    HIDDEN_STATUSES,
    ApprovalRequest,
    EventName,
    InjectionStatus,
    InjectRequest,
    InterruptRequest,
    LaunchRequest,
    NodeStatus,
    SwarmStatus,
    TerminateRequest,
)
from services.protocol.views import (
    InjectAccepted,
    InjectionRef,
    InterruptAccepted,
    LaunchAccepted,
    TerminateAccepted,
)
from services.settings import Settings

log = logging.getLogger(__name__)

S = SwarmStatus
INJECTABLE = frozenset({S.PENDING, S.RUNNING})
APPROVAL_COMMIT_WAIT_S = 2.0
APPROVAL_COMMIT_POLL_S = 0.02


def check_decision(row: ApprovalRow, decision: str) -> None:
    """An answer must be to a pending request and one of the decisions it offered."""
    if row.status != "pending":
        answered = f" ({row.decision})" if row.decision else ""
        raise Conflict(f"approval {row.call_id!r} is {row.status}{answered}; it cannot be answered again")
    if decision not in row.available_decisions:
        offered = ", ".join(row.available_decisions)
        raise Invalid(
            ["body", "decision"], f"decision {decision!r} is not offered for {row.call_id!r}; available: {offered}"
        )


class Authority:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        providers: dict[str, Provider],
        ingest: Ingest,
        transcript: Transcript,
    ) -> None:
        self.settings = settings
        self.db = db
        self.providers = providers
        self.ingest = ingest
        self.transcript = transcript
        self.tasks: set[asyncio.Task[Any]] = set()
        self._delivery_locks: dict[str, asyncio.Lock] = {}

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    # ---- reading -------------------------------------------------------------------------------

    async def visible(self, session: AsyncSession, swarm_id: str) -> SwarmRow:
        swarm = await get_swarm(session, swarm_id)
        if swarm is None or swarm.status in HIDDEN_STATUSES:
            raise NotFound(f"no swarm {swarm_id!r} (unknown, rejected at launch, or removed)")
        return swarm

    def provider_of(self, swarm: SwarmRow) -> Provider:
        return self.providers[swarm.provider]

    # ---- launch --------------------------------------------------------------------------------

    def _checked_launch(self, request: LaunchRequest) -> tuple[Provider, str, dict[str, Any]]:
        provider_id = request.provider or next(iter(self.providers))
        provider = self.providers.get(provider_id)
        if provider is None:
            raise Invalid(
                ["body", "provider"],
                f"unknown provider {provider_id!r}; valid providers: {', '.join(self.providers)}",
            )
        config = provider.config
        runtime = request.runtime or config.runtimes[0]
        if runtime not in config.runtimes:
            raise Invalid(
                ["body", "runtime"],
                f"unknown runtime {runtime!r} for provider {config.id}; valid runtimes: {', '.join(config.runtimes)}",
            )
        if request.nodes > config.max_nodes:
            raise Invalid(["body", "nodes"], f"nodes must be between 1 and {config.max_nodes} for provider {config.id}")
        check_bundle(request.agents_bundle)
        try:
            params = validate_params(config.launch_fields, config.defaults, request.provider_params)
        except LaunchParamsError as exc:
            raise InvalidMany(exc.errors) from exc
        return provider, runtime, params

    def _runtime_params(self, provider: Provider, runtime: str, given: dict[str, Any]) -> dict[str, Any]:
        """The node's runtime params: the provider's settings of the runtime, then the launch's own values,
        checked here by the node program's own rules (a 422 that lists the valid values)."""
        try:
            return checked_runtime_params(
                runtime, provider.config, given, check_files=provider.config.backend == "local"
            )
        except RuntimeParamsError as exc:
            raise Invalid(["body", "runtime_params"], str(exc)) from exc

    async def launch(self, request: LaunchRequest, idempotency_key: str | None) -> LaunchAccepted:
        if idempotency_key:
            async with self.db.transaction() as session:
                existing = await swarm_by_idempotency_key(session, idempotency_key)
            if existing is not None:
                return LaunchAccepted(request_id=existing.request_id, swarm_id=existing.swarm_id)
        provider, runtime, params = self._checked_launch(request)
        runtime_params = self._runtime_params(provider, runtime, request.runtime_params)
        swarm_id, request_id, moment = new_swarm_id(), new_request_id(), now()
        swarm = SwarmRow(
            swarm_id=swarm_id,
            request_id=request_id,
            idempotency_key=idempotency_key,
            alias=request.alias,
            provider=provider.config.id,
            runtime=runtime,
            node_count=request.nodes,
            status=str(S.LAUNCHING),
            health="ok",
            provider_params=params,
            runtime_params=runtime_params,
            system_prompt=request.system_prompt,
            agents_bundle=request.agents_bundle,
            download_workspaces=False,
            created_at=moment,
            updated_at=moment,
        )
        try:
            async with self.db.transaction() as session:
                session.add(swarm)
                await session.flush()
                create_nodes(session, swarm_id, request.nodes)
                await session.flush()
                nodes = (await nodes_of(session, [swarm_id]))[swarm_id]
                emit(
                    session,
                    swarm,
                    EventName.SWARM_LAUNCH_PROGRESS,
                    request_id=request_id,
                    phase="accepted",
                    message=f"launch of {request.nodes} {runtime} nodes on {provider.config.id} accepted",
                    swarm=swarm_view(swarm, nodes).model_dump(mode="json"),
                )
        except IntegrityError:
            if not idempotency_key:
                raise
            async with self.db.transaction() as session:  # a concurrent retry with the same key won
                existing = await swarm_by_idempotency_key(session, idempotency_key)
            assert existing is not None
            return LaunchAccepted(request_id=existing.request_id, swarm_id=existing.swarm_id)
        self.spawn(self.run_launch(swarm_id), f"launch-{swarm_id}")
        return LaunchAccepted(request_id=request_id, swarm_id=swarm_id)

    def _spec(self, swarm: SwarmRow) -> LaunchSpec:
        return LaunchSpec(
            swarm_id=swarm.swarm_id,
            node_count=swarm.node_count,
            runtime=swarm.runtime,
            runtime_params=dict(swarm.runtime_params or {}),
            params=dict(swarm.provider_params or {}),
            system_prompt=swarm.system_prompt,
            agents_bundle=swarm.agents_bundle,
            secret=model_key(swarm.runtime_params or {}),
        )

    async def _progress(self, swarm_id: str, phase: str, message: str) -> None:
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id)
            assert swarm is not None
            emit(
                session,
                swarm,
                EventName.SWARM_LAUNCH_PROGRESS,
                request_id=swarm.request_id,
                phase=phase,
                message=message,
            )

    async def run_launch(self, swarm_id: str) -> None:
        """Start the job of a launching swarm (also after a router restart: finds the job first)."""
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id)
        assert swarm is not None
        provider = self.provider_of(swarm)

        async def progress(phase: str, message: str) -> None:
            await self._progress(swarm_id, phase, message)

        try:
            job_id = swarm.job_id or await provider.launch(self._spec(swarm), progress)
        except LaunchRejected as exc:
            await self._reject(swarm_id, str(exc))
            return
        except Exception as exc:
            log.exception("launch of %s failed", swarm_id)
            await self._reject(swarm_id, f"launch failed: {exc}")
            return
        report = (await provider.probe([job_id])).get(job_id)
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id, for_update=True)
            assert swarm is not None
            if swarm.job_id is None:
                await assign_job_id(session, swarm_id, job_id)
                swarm.job_id = job_id
            nodes = (await nodes_of(session, [swarm_id]))[swarm_id]
            if swarm.status == S.LAUNCHING:
                pending = report is not None and report.state is JobState.PENDING
                transition(session, swarm, S.PENDING if pending else S.RUNNING, report.reason if report else None)
                emit(
                    session,
                    swarm,
                    EventName.SWARM_LAUNCHED,
                    request_id=swarm.request_id,
                    swarm=swarm_view(swarm, nodes).model_dump(mode="json"),
                )
            terminate_now = swarm.status == S.TERMINATING
        await self.ingest.track(swarm_id, job_id, nodes, (swarm.runtime_params or {}).get("model"))
        provider.follow(job_id, {n.node_id: n.outbox_offset for n in nodes})
        if terminate_now:  # the user asked to terminate while we were launching
            self.spawn(self.run_terminate(swarm_id), f"terminate-{swarm_id}")

    async def _reject(self, swarm_id: str, reason: str) -> None:
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id, for_update=True)
            assert swarm is not None
            target = S.REJECTED if can_transition(swarm.status, S.REJECTED) else S.FAILED
            if can_transition(swarm.status, target):
                transition(session, swarm, target, reason)
            emit(
                session,
                swarm,
                EventName.COMMAND_REJECTED,
                request_id=swarm.request_id,
                command="launch",
                reason=reason,
            )

    # ---- terminate -----------------------------------------------------------------------------

    async def terminate(self, swarm_id: str, request: TerminateRequest) -> TerminateAccepted:
        request_id = new_request_id()
        async with self.db.transaction() as session:
            await self.visible(session, swarm_id)
            swarm = await get_swarm(session, swarm_id, for_update=True)
            assert swarm is not None
            if swarm.status in (S.TERMINATING, *ENDED_STATUSES):
                return TerminateAccepted(request_id=request_id, status=SwarmStatus(swarm.status))
            swarm.download_workspaces = request.download_workspaces
            transition(session, swarm, S.TERMINATING, "terminated by user")
            launching = swarm.job_id is None
        if not launching:
            self.spawn(self.run_terminate(swarm_id), f"terminate-{swarm_id}")
        return TerminateAccepted(request_id=request_id, status=S.TERMINATING)

    async def run_terminate(self, swarm_id: str) -> None:
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id)
        assert swarm is not None and swarm.job_id is not None
        provider = self.provider_of(swarm)
        try:
            await provider.terminate(swarm.job_id, swarm.node_count)
            report = (await provider.probe([swarm.job_id]))[swarm.job_id]
        except Exception:
            log.exception("terminate of %s did not complete; the supervisor will confirm later", swarm_id)
            return
        if report.state is JobState.ENDED:
            await provider.drain(swarm.job_id)
            await self.end_swarm(swarm_id, failed=False, reason="terminated by user")

    async def end_swarm(self, swarm_id: str, failed: bool, reason: str) -> None:
        """A confirmed end (user terminate, scheduler record, or every node's exit record)."""
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id, for_update=True)
            assert swarm is not None
            if swarm.status in ENDED_STATUSES or swarm.status in HIDDEN_STATUSES:
                return
            if swarm.status == S.TERMINATING:
                failed, reason = False, swarm.reason or reason
            transition(session, swarm, S.FAILED if failed else S.TERMINATED, reason)
            archive = swarm.download_workspaces and swarm.job_id is not None
        if archive:
            self.spawn(self.run_archive(swarm_id), f"archive-{swarm_id}")

    async def on_exit_records(self, session: AsyncSession, swarm_id: str) -> None:
        """Ingest hook, inside its transaction: once every node has exited, the swarm has ended."""
        swarm = await get_swarm(session, swarm_id, for_update=True)
        if swarm is None or swarm.job_id is None or swarm.status in ENDED_STATUSES or swarm.status in HIDDEN_STATUSES:
            return
        nodes = self.ingest.nodes_of(swarm.job_id)
        if len(nodes) < swarm.node_count or any(n.status is not NodeStatus.EXITED for n in nodes):
            return
        codes = sorted({n.exit_code for n in nodes if n.exit_code})
        if swarm.status == S.TERMINATING:
            transition(session, swarm, S.TERMINATED, swarm.reason or "terminated by user")
        elif codes:
            transition(session, swarm, S.FAILED, f"node programs exited with codes {codes}")
        elif self.provider_of(swarm).probe_tells_why_jobs_end:
            return  # the next probe ends the swarm with the backend's own reason
        else:
            transition(session, swarm, S.TERMINATED, "every node program exited")
        if swarm.download_workspaces:
            self.spawn(self.run_archive(swarm_id), f"archive-{swarm_id}")

    async def run_archive(self, swarm_id: str) -> None:
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id)
        assert swarm is not None and swarm.job_id is not None
        dest = self.settings.archives_dir / f"{swarm_id}.tar.gz"
        try:
            path = await self.provider_of(swarm).archive(swarm.job_id, swarm.node_count, dest)
        except Exception as exc:
            log.exception("archive of %s failed", swarm_id)
            async with self.db.transaction() as session:
                swarm = await get_swarm(session, swarm_id)
                assert swarm is not None
                emit(session, swarm, EventName.WORKSPACE_ARCHIVE_FAILED, reason=str(exc))
            return
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id)
            assert swarm is not None
            swarm.archive_path = str(path)
            emit(
                session,
                swarm,
                EventName.WORKSPACE_ARCHIVE_READY,
                url=f"/v1/swarms/{swarm_id}/archive",
                bytes=path.stat().st_size,
            )

    # ---- inject and approvals ------------------------------------------------------------------

    @staticmethod
    def check_node(swarm: SwarmRow, node_id: int, loc: tuple[str, ...] = ("path", "node_id")) -> None:
        if not 0 <= node_id < swarm.node_count:
            raise Invalid(
                list(loc),
                f"node {node_id} is out of range: swarm {swarm.swarm_id} has nodes 0..{swarm.node_count - 1}",
            )

    def _targets(self, swarm: SwarmRow, selector: Any) -> list[int]:
        if selector == "all":
            return list(range(swarm.node_count))
        wanted = [selector] if isinstance(selector, int) else list(dict.fromkeys(selector))
        for index in wanted:
            self.check_node(swarm, index, ("body", "nodes"))
        return wanted

    async def _injectable(self, session: AsyncSession, swarm_id: str) -> SwarmRow:
        swarm = await self.visible(session, swarm_id)
        if swarm.status not in INJECTABLE:
            hint = "wait until it is running" if swarm.status == S.LAUNCHING else "launch a new swarm"
            raise Conflict(f"swarm {swarm_id} is {swarm.status}; it accepts no injections ({hint})")
        return swarm

    async def inject(self, swarm_id: str, request: InjectRequest) -> InjectAccepted:
        request_id = new_request_id()
        async with self.db.transaction() as session:
            swarm = await self._injectable(session, swarm_id)
            targets = self._targets(swarm, request.nodes)
            refs = []
            for node_id in targets:
                injection_id = new_injection_id()
                session.add(
                    InjectionRow(
                        injection_id=injection_id,
                        swarm_id=swarm_id,
                        node_id=node_id,
                        request_id=request_id,
                        content=request.content,
                        mode=request.mode,
                        status=str(InjectionStatus.ACCEPTED),
                        created_at=now(),
                    )
                )
                self.transcript.open_turn(session, swarm_id, node_id, injection_id, request.content)
                emit(
                    session,
                    swarm,
                    EventName.INJECT_ACK,
                    request_id=request_id,
                    injection_id=injection_id,
                    node_id=node_id,
                )
                refs.append(InjectionRef(node_id=node_id, injection_id=injection_id))
        assert swarm.job_id is not None  # injectable swarms have their job
        delivery = self._deliver(swarm, self.provider_of(swarm), request, refs, request_id)
        self.spawn(delivery, f"deliver-{request_id}")
        return InjectAccepted(request_id=request_id, injections=refs)

    async def _deliver(
        self, swarm: SwarmRow, provider: Provider, request: InjectRequest, refs: list[InjectionRef], request_id: str
    ) -> None:
        assert swarm.job_id is not None
        lock = self._delivery_locks.setdefault(swarm.swarm_id, asyncio.Lock())
        async with lock:  # one swarm's injections reach its inboxes in the order they were accepted
            outcomes: list[tuple[InjectionRef, str | None]] = []
            for ref in refs:
                line = orjson.dumps(
                    {
                        "type": INBOX_INJECT,
                        "injection_id": ref.injection_id,
                        "content": request.content,
                        "mode": request.mode,
                    }
                )
                try:
                    await provider.deliver(swarm.job_id, ref.node_id, line + b"\n")
                    outcomes.append((ref, None))
                except Exception as exc:
                    outcomes.append((ref, f"could not write to node {ref.node_id}'s inbox: {exc}"))
            async with self.db.transaction() as session:
                for ref, error in outcomes:
                    await session.execute(
                        update(InjectionRow)
                        .where(InjectionRow.injection_id == ref.injection_id)
                        .values(
                            status=str(InjectionStatus.FAILED if error else InjectionStatus.DELIVERED),
                            reason=error,
                            delivered_at=None if error else now(),
                        )
                    )
                    emit(
                        session,
                        swarm,
                        EventName.INJECT_FAILED if error else EventName.INJECT_DELIVERED,
                        request_id=request_id,
                        injection_id=ref.injection_id,
                        node_id=ref.node_id,
                        **({"reason": error} if error else {}),
                    )

    async def approve(self, swarm_id: str, call_id: str, request: ApprovalRequest) -> str:
        """Answer a pending approval with one of its offered decisions; the node passes it to the agent."""
        node_id = request.node_id
        deadline = time.monotonic() + APPROVAL_COMMIT_WAIT_S
        while True:
            async with self.db.transaction() as session:
                swarm = await self._injectable(session, swarm_id)
                self.check_node(swarm, node_id, ("body", "node_id"))
                row = await session.get(ApprovalRow, (swarm_id, node_id, call_id), with_for_update=True)
                if row is not None:
                    check_decision(row, request.decision)
                    row.status, row.decision, row.answered_at = "answered", request.decision, now()
                    break
            if time.monotonic() > deadline:  # the request's event may be on the bus a moment before its row
                raise NotFound(f"no approval {call_id!r} on node {node_id} of swarm {swarm_id}")
            await asyncio.sleep(APPROVAL_COMMIT_POLL_S)
        assert swarm.job_id is not None
        line = orjson.dumps({"type": INBOX_APPROVAL, "call_id": call_id, "decision": request.decision})
        try:
            await self.provider_of(swarm).deliver(swarm.job_id, node_id, line + b"\n")
        except Exception as exc:
            async with self.db.transaction() as session:
                await session.execute(
                    update(ApprovalRow)
                    .where(ApprovalRow.swarm_id == swarm_id, ApprovalRow.node_id == node_id)
                    .where(ApprovalRow.call_id == call_id, ApprovalRow.status == "answered")
                    .values(status="pending", decision=None, answered_at=None)
                )
            raise Unavailable(
                f"could not write to node {node_id}'s inbox ({exc}); the approval is still pending"
            ) from exc
        return new_request_id()

    async def interrupt(self, swarm_id: str, request: InterruptRequest) -> InterruptAccepted:
        """Ask each node to end its running turn (`turn/interrupt`); a node with none says so in an event."""
        async with self.db.transaction() as session:
            swarm = await self._injectable(session, swarm_id)
            targets = self._targets(swarm, request.nodes)
        assert swarm.job_id is not None
        line = orjson.dumps({"type": INBOX_INTERRUPT}) + b"\n"
        provider = self.provider_of(swarm)
        failed = []
        for node_id in targets:
            try:
                await provider.deliver(swarm.job_id, node_id, line)
            except Exception as exc:
                failed.append(f"node {node_id}: {exc}")
        if failed:
            raise Unavailable(f"could not reach every node's inbox: {'; '.join(failed)}")
        return InterruptAccepted(request_id=new_request_id(), nodes=targets)

    # ---- recovery after a restart --------------------------------------------------------------

    async def recover(self) -> None:
        """Pick up every swarm the database says is alive: state comes back from the database."""
        async with self.db.transaction() as session:
            rows = (
                await session.scalars(
                    select(SwarmRow).where(SwarmRow.status.in_([S.LAUNCHING, S.PENDING, S.RUNNING, S.TERMINATING]))
                )
            ).all()
            nodes = await nodes_of(session, [r.swarm_id for r in rows])
        for swarm in rows:
            if swarm.job_id is None:
                self.spawn(self.run_launch(swarm.swarm_id), f"launch-{swarm.swarm_id}")
                continue
            model = (swarm.runtime_params or {}).get("model")
            await self.ingest.track(swarm.swarm_id, swarm.job_id, nodes[swarm.swarm_id], model)
            self.provider_of(swarm).follow(swarm.job_id, {n.node_id: n.outbox_offset for n in nodes[swarm.swarm_id]})
            if swarm.status == S.TERMINATING:
                self.spawn(self.run_terminate(swarm.swarm_id), f"terminate-{swarm.swarm_id}")

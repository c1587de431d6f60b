"""The lifecycle authority: launch, inject, approve and terminate.  It applies the lifecycle decisions of
router/lifecycle.py (which decide every status, reason and health); the supervisor (router/supervisor.py)
applies the time-driven ones, and ingest (router/ingest.py) writes what the nodes' records say of them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from router.bundle_checks import check_bundle
from router.errors import Conflict, Invalid, InvalidMany, NotFound, Unavailable
from router.ids import new_injection_id, new_request_id, new_swarm_id
from router.inbox_delivery import Delivery, InboxDelivery
from router.inbox_delivery import pending as pending_deliveries
from router.ingest import Ingest, TrackedNode, node_status_event
from router.ingest_nodes import disbelieve_exit
from router.lifecycle import (
    TERMINATED_BY_USER,
    Decision,
    JobEnd,
    emit,
    on_confirmed_end,
    on_exit_records,
    on_job_id_reused,
    on_job_started,
    on_launch_abandoned,
    on_launch_accepted,
    on_launch_refused,
    on_provider_missing,
    on_terminate,
    set_health,
    transition,
)
from router.metrics import FAILED, REFUSED, RouterMetrics
from router.providers.base import (
    JobState,
    LaunchRejected,
    LaunchSpec,
    LaunchStopped,
    Provider,
)
from router.providers.fields import LaunchParamsError, check_launch_fields
from router.row_views import swarm_view
from router.runtime_params import RuntimeParamsError, check_model_served, checked_runtime_params, model_key
from router.store.database import Database
from router.store.outbox import add_event
from router.store.swarms import (
    assign_job_id,
    aware,
    create_nodes,
    get_swarm,
    nodes_of,
    now,
    swarm_by_idempotency_key,
)
from router.store.tables import ApprovalRow, InjectionRow, NodeRow, SwarmRow
from router.transcript import Transcript
from services.logs import name_in_logs
from services.node.records import INBOX_APPROVAL, INBOX_INTERRUPT
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
FIND_RETRY_MIN_S, FIND_RETRY_MAX_S = 1.0, 30.0  # looking for a job-less terminating swarm's job
EXIT_CONFIRM_S = 10.0  # how long a node that wrote its exit record may take to be gone from the provider's view
EXIT_CONFIRM_POLL_S = 0.05
LaunchFailure = Callable[[SwarmStatus | str, str], Decision | None]  # on_launch_refused, on_launch_abandoned


class ProviderMissing(Unavailable):
    """A swarm's provider is not in the providers file (removed or renamed): its job is left alone."""

    def __init__(self, provider_id: str, configured: dict[str, Provider]) -> None:
        super().__init__(
            f"provider {provider_id!r} is not in the providers file (configured: {', '.join(configured)}); "
            "its swarms and their jobs are left alone until it is configured again and the router restarted"
        )


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


@dataclass(eq=False)
class LifecycleParts:
    """What the authority and the supervisor (router/supervisor.py) apply lifecycle decisions with."""

    settings: Settings
    db: Database
    providers: dict[str, Provider]
    ingest: Ingest  # the nodes it tracks


@dataclass(eq=False)
class Authority(LifecycleParts):
    transcript: Transcript
    delivery: InboxDelivery
    metrics: RouterMetrics

    def __post_init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self._launch_stops: dict[str, asyncio.Event] = {}  # set by a terminate: the launch gives up
        self._confirming: set[str] = set()  # swarms whose nodes' exit records are being checked

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coroutine`` in the background, cancelled with the router's other work; a failure is logged."""
        task = asyncio.create_task(coroutine, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

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

    async def readable(self, session: AsyncSession, swarm_id: str) -> SwarmRow:
        """A visible swarm, or a rejected launch until the removal TTL has passed (its reason stays
        readable: GET /v1/swarms/{id} answers it with status rejected; the list never shows it)."""
        swarm = await get_swarm(session, swarm_id)
        kept_since = now() - timedelta(seconds=self.settings.terminated_ttl_s)
        if swarm is not None and swarm.status == S.REJECTED and aware(swarm.terminated_at or now()) > kept_since:
            return swarm
        return await self.visible(session, swarm_id)

    def provider_of(self, swarm: SwarmRow) -> Provider:
        provider = self.providers.get(swarm.provider)
        if provider is None:
            raise ProviderMissing(swarm.provider, self.providers)
        return provider

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
            params = check_launch_fields(config.launch_fields, config.defaults, request.provider_params)
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
        provider, runtime, params = self._checked_launch(request)
        runtime_params = self._runtime_params(provider, runtime, request.runtime_params)
        if idempotency_key:
            async with self.db.transaction() as session:
                existing = await swarm_by_idempotency_key(session, idempotency_key)
            if existing is not None:
                return self._retried(existing, request, provider, runtime, params, runtime_params)
        try:
            await check_model_served(runtime, runtime_params)
        except RuntimeParamsError as exc:
            raise Invalid(["body", "runtime_params", "model"], str(exc)) from exc
        swarm_id, request_id, moment = new_swarm_id(), new_request_id(), now()
        swarm = SwarmRow(
            swarm_id=swarm_id,
            request_id=request_id,
            idempotency_key=idempotency_key,
            alias=request.alias,
            provider=provider.config.id,
            cluster=provider.config.cluster,
            runtime=runtime,
            node_count=request.nodes,
            **on_launch_accepted(),
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
            return self._retried(existing, request, provider, runtime, params, runtime_params)
        self.spawn(self.run_launch(swarm_id), f"launch-{swarm_id}")
        self.metrics.launches.labels(provider.config.id).inc()
        return LaunchAccepted(request_id=request_id, swarm_id=swarm_id)

    @staticmethod
    def _retried(
        existing: SwarmRow,
        request: LaunchRequest,
        provider: Provider,
        runtime: str,
        params: dict[str, Any],
        runtime_params: dict[str, Any],
    ) -> LaunchAccepted:
        """A launch sent again with its Idempotency-Key answers the first one's ids; the same key with a
        launch that differs is refused, never silently answered with another swarm."""
        asked = (provider.config.id, runtime, request.nodes, request.alias, request.system_prompt)
        kept = (existing.provider, existing.runtime, existing.node_count, existing.alias, existing.system_prompt)
        same = (
            asked == kept
            and params == (existing.provider_params or {})
            and runtime_params == (existing.runtime_params or {})
            and request.agents_bundle == existing.agents_bundle
        )
        if not same:
            raise Invalid(
                ["header", "Idempotency-Key"],
                f"Idempotency-Key {existing.idempotency_key!r} was used for a different launch (swarm "
                f"{existing.swarm_id}); send a new key for a new launch",
            )
        return LaunchAccepted(request_id=existing.request_id, swarm_id=existing.swarm_id)

    def _spec(self, swarm: SwarmRow) -> LaunchSpec:
        return LaunchSpec(
            swarm_id=swarm.swarm_id,
            node_count=swarm.node_count,
            runtime=swarm.runtime,
            runtime_params=dict(swarm.runtime_params or {}),
            params=dict(swarm.provider_params or {}),
            system_prompt=swarm.system_prompt,
            agents_bundle=swarm.agents_bundle,
            secret=model_key(swarm.runtime, swarm.runtime_params or {}),
            orphan_after_s=self.settings.node_orphan_after_s,
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
        """Start the job of a launching swarm (also after a router restart: finds the job first).  A
        terminate while this runs stops it; any failure after the job started fails the swarm and
        cancels the job: no path leaves a swarm launching, or a job running untracked."""
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id)
        assert swarm is not None
        provider = self.provider_of(swarm)
        name_in_logs(swarm=swarm_id, job=swarm.job_id)

        async def progress(phase: str, message: str) -> None:
            await self._progress(swarm_id, phase, message)

        stop = self._launch_stops.setdefault(swarm_id, asyncio.Event())
        try:
            job_id = swarm.job_id or await provider.launch(self._spec(swarm), progress, stop)
        except LaunchStopped as exc:
            if exc.maybe_started:  # an sbatch whose answer was lost: look for its job, cancel it
                self.spawn(self.run_terminate(swarm_id), f"terminate-{swarm_id}")
            else:
                await self.end_swarm(swarm_id, JobEnd(failed=False, reason=TERMINATED_BY_USER))
            return
        except LaunchRejected as exc:
            self.metrics.rejected(swarm.provider, REFUSED)
            await self._fail_launch(swarm_id, on_launch_refused, str(exc))
            return
        except Exception as exc:
            log.exception("launch of %s failed", swarm_id)
            self.metrics.rejected(swarm.provider, FAILED)
            await self._fail_launch(swarm_id, on_launch_refused, f"launch failed: {exc}")
            return
        finally:
            self._launch_stops.pop(swarm_id, None)
        try:
            await self._take_job(swarm_id, provider, job_id)
        except Exception as exc:
            log.exception("launch of %s failed after its job %s started", swarm_id, job_id)
            await self._abandon_job(swarm_id, provider, job_id, f"{type(exc).__name__}: {exc}")

    async def _take_job(self, swarm_id: str, provider: Provider, job_id: str) -> None:
        """Record the job the provider started, then follow it, or cancel it if a terminate came first."""
        report = (await provider.probe([job_id])).get(job_id)
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id, for_update=True)
            assert swarm is not None
            retired: list[SwarmRow] = []
            if swarm.job_id is None:
                retired = await self._retire_holders(session, swarm, job_id)
                await assign_job_id(session, swarm_id, job_id)
                swarm.job_id = job_id
            nodes = (await nodes_of(session, [swarm_id]))[swarm_id]
            started = on_job_started(swarm.status, report)
            if started is not None:
                transition(session, swarm, started.target, started.reason)
                emit(
                    session,
                    swarm,
                    EventName.SWARM_LAUNCHED,
                    request_id=swarm.request_id,
                    swarm=swarm_view(swarm, nodes).model_dump(mode="json"),
                )
            terminate_now = swarm.status == S.TERMINATING
        for old in retired:
            self.stop_following(old)
        if terminate_now:  # the user asked to terminate while we were launching: cancel, never run it
            self.spawn(self.run_terminate(swarm_id), f"terminate-{swarm_id}")
            return
        await self.ingest.track(swarm_id, job_id, nodes, (swarm.runtime_params or {}).get("model"), swarm.cluster)
        provider.follow(job_id, {n.node_id: n.outbox_offset for n in nodes})

    async def _retire_holders(self, session: AsyncSession, swarm: SwarmRow, job_id: str) -> list[SwarmRow]:
        """Older swarms that had this job id on this cluster: the scheduler handed the id out again, so
        their job is gone (a live one fails, saying so).  They stop being followed."""
        holders = (
            await session.scalars(
                select(SwarmRow)
                .where(SwarmRow.cluster == swarm.cluster, SwarmRow.job_id == job_id)
                .where(SwarmRow.swarm_id != swarm.swarm_id, SwarmRow.status != S.REMOVED)
                .with_for_update()
            )
        ).all()
        for old in holders:
            retired = on_job_id_reused(old.status, swarm.cluster, job_id, swarm.swarm_id)
            if retired is not None:
                transition(session, old, retired.target, retired.reason)
        await session.flush()
        return list(holders)

    def stop_following(self, swarm: SwarmRow) -> None:
        """Forget a swarm's nodes and stop following its job (only if it was still followed: the job id
        may belong to a newer swarm by now)."""
        provider = self.providers.get(swarm.provider)
        if self.ingest.forget(swarm.swarm_id) and provider is not None and swarm.job_id is not None:
            provider.unfollow(swarm.job_id)

    def forget(self, swarm: SwarmRow) -> None:
        """A removed swarm leaves nothing behind in the router: no tracked nodes, no followed job, no
        delivery lock."""
        self.stop_following(swarm)
        self.delivery.forget(swarm.swarm_id)

    async def _abandon_job(self, swarm_id: str, provider: Provider, job_id: str, error: str) -> None:
        """Bookkeeping failed after the job started: cancel the job, and the swarm fails saying why."""
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id)
        assert swarm is not None
        self.stop_following(swarm)
        try:
            await provider.terminate(job_id)
            outcome = f"job {job_id} cancelled"
        except Exception as exc:
            log.exception("cancelling job %s of %s failed", job_id, swarm_id)
            outcome = f"cancelling job {job_id} failed ({exc}): cancel it by hand"
        reason = f"launch failed after job {job_id} started on {swarm.cluster}: {error}; {outcome}"
        await self._fail_launch(swarm_id, on_launch_abandoned, reason)

    async def _fail_launch(self, swarm_id: str, decide: LaunchFailure, reason: str) -> None:
        """The launch failed: the swarm ends as ``decide`` says (if it still can), and the launch's
        command_rejected says why."""
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id, for_update=True)
            assert swarm is not None
            ended = decide(swarm.status, reason)
            if ended is not None:
                transition(session, swarm, ended.target, ended.reason)
            emit(
                session, swarm, EventName.COMMAND_REJECTED, request_id=swarm.request_id, command="launch", reason=reason
            )

    # ---- terminate -----------------------------------------------------------------------------

    async def terminate(self, swarm_id: str, request: TerminateRequest) -> TerminateAccepted:
        request_id = new_request_id()
        async with self.db.transaction() as session:
            await self.visible(session, swarm_id)
            swarm = await get_swarm(session, swarm_id, for_update=True)
            assert swarm is not None
            terminating = on_terminate(swarm.status)
            if terminating is None:
                return TerminateAccepted(
                    request_id=swarm.terminate_request_id or request_id, status=SwarmStatus(swarm.status)
                )
            swarm.download_workspaces = request.download_workspaces
            swarm.terminate_request_id = request_id
            transition(session, swarm, terminating.target, terminating.reason, request_id=request_id)
        stop = self._launch_stops.get(swarm_id)
        if stop is not None:  # a launch in flight: it gives up at once and cancels whatever it started
            stop.set()
        else:
            self.spawn(self.run_terminate(swarm_id), f"terminate-{swarm_id}")
        return TerminateAccepted(request_id=request_id, status=S.TERMINATING)

    async def run_terminate(self, swarm_id: str) -> None:
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id)
        assert swarm is not None
        provider = self.provider_of(swarm)
        job_id = swarm.job_id or await self._find_job(swarm_id, provider)
        if job_id is None:
            await self.end_swarm(swarm_id, JobEnd(failed=False, reason=TERMINATED_BY_USER))
            return
        try:
            await provider.terminate(job_id)
            report = (await provider.probe([job_id]))[job_id]
        except Exception:
            log.exception("terminate of %s did not complete; the supervisor will confirm later", swarm_id)
            return
        if report.state is JobState.ENDED:
            await provider.drain(job_id)
            await self.end_swarm(swarm_id, JobEnd(failed=False, reason=TERMINATED_BY_USER))

    async def _find_job(self, swarm_id: str, provider: Provider) -> str | None:
        """The job of a terminating swarm that never recorded one (its launch was cut short, perhaps by
        a router restart): looked for by name until the backend answers, and recorded.  Never submits."""
        wait = FIND_RETRY_MIN_S
        while True:
            try:
                job_id = await provider.find_job(swarm_id)
                break
            except Exception as exc:
                log.warning("looking for the job of terminating %s failed (%s); again in %gs", swarm_id, exc, wait)
            await asyncio.sleep(wait)
            wait = min(FIND_RETRY_MAX_S, wait * 2)
        if job_id is not None:
            async with self.db.transaction() as session:
                swarm = await get_swarm(session, swarm_id, for_update=True)
                assert swarm is not None
                if swarm.job_id is None:
                    await assign_job_id(session, swarm_id, job_id)
        return job_id

    async def end_swarm(self, swarm_id: str, end: JobEnd) -> None:
        """A confirmed end (user terminate, or the backend's record that the job is over), decided by
        lifecycle.on_confirmed_end; the workspaces are archived when the terminate asked for them."""
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id, for_update=True)
            assert swarm is not None
            decision = on_confirmed_end(swarm.status, swarm.reason, end, self._records_outcome(swarm))
            if decision is None:
                return
            transition(session, swarm, decision.target, decision.reason, request_id=swarm.terminate_request_id)
            archive = swarm.download_workspaces and swarm.job_id is not None
        if archive:
            self.spawn(self.run_archive(swarm_id), f"archive-{swarm_id}")

    def _records_outcome(self, swarm: SwarmRow) -> Decision | None:
        """What the nodes' exit records say of the swarm's end (lifecycle.on_exit_records)."""
        probe_tells_why = self.provider_of(swarm).probe_tells_why_jobs_end
        return on_exit_records(
            swarm.status, swarm.reason, swarm.node_count, self.ingest.nodes_of(swarm.swarm_id), probe_tells_why
        )

    async def on_exit_records(self, _session: AsyncSession, swarm_id: str) -> None:
        """Ingest hook, inside its transaction: nodes of this swarm wrote exit records.  Any process of
        the same Unix user can write into an outbox, so a record alone never ends a swarm: confirm_exits
        checks it against what the provider sees, after this transaction."""
        if swarm_id not in self._confirming:
            self._confirming.add(swarm_id)
            self.spawn(self.confirm_exits(swarm_id), f"confirm-exits-{swarm_id}")

    async def confirm_exits(self, swarm_id: str) -> None:
        """Believe the exit records of a swarm's nodes as far as the provider agrees: a local node's
        process must be gone (it may take EXIT_CONFIRM_S after writing its record).  A record whose node
        still runs then is not believed: the node counts as running again, and an agent_warning says so.
        Where only the backend's probe can tell (Slurm), the probe ends the swarm, reading the records."""
        try:
            async with self.db.transaction() as session:
                swarm = await get_swarm(session, swarm_id)
            if swarm is None or swarm.job_id is None or swarm.status in (*ENDED_STATUSES, *HIDDEN_STATUSES):
                return
            provider = self.provider_of(swarm)
            deadline = time.monotonic() + EXIT_CONFIRM_S
            while True:
                running = provider.running_nodes(swarm.job_id)
                if running is None:
                    return
                claimed = [n for n in self.ingest.nodes_of(swarm_id) if n.status is NodeStatus.EXITED]
                untrue = [node for node in claimed if node.node_id in running]
                if not untrue or time.monotonic() > deadline:
                    break
                await asyncio.sleep(EXIT_CONFIRM_POLL_S)
        finally:
            self._confirming.discard(swarm_id)
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id, for_update=True)
            if swarm is None or swarm.status in (*ENDED_STATUSES, *HIDDEN_STATUSES):
                return
            for node in untrue:
                await self._disbelieve_exit(session, swarm, node)
            outcome = self._records_outcome(swarm)
            if outcome is not None:
                transition(session, swarm, outcome.target, outcome.reason, request_id=swarm.terminate_request_id)
        if outcome is not None and swarm.download_workspaces:
            self.spawn(self.run_archive(swarm_id), f"archive-{swarm_id}")

    @staticmethod
    async def _disbelieve_exit(session: AsyncSession, swarm: SwarmRow, node: TrackedNode) -> None:
        message = (
            f"node {node.node_id}'s outbox says it exited (code {node.exit_code}), but its process still runs "
            f"{EXIT_CONFIRM_S:g}s later: the record is not believed (did another process write it?)"
        )
        log.warning("swarm %s: %s", swarm.swarm_id, message)
        disbelieve_exit(node)
        await session.execute(
            update(NodeRow)
            .where(NodeRow.swarm_id == swarm.swarm_id, NodeRow.node_id == node.node_id)
            .values(status=str(node.status), exit_code=node.exit_code)
        )
        emit(  # seq: the node's last record read by now (the exit record, or one the node wrote since)
            session,
            swarm,
            EventName.AGENT_WARNING,
            node_id=node.node_id,
            seq=node.committed_seq,
            message=message,
            code="exitNotBelieved",
        )
        add_event(session, node_status_event(node))

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
        self.provider_of(swarm)  # a 503 naming a missing provider, before anything is accepted
        return swarm

    async def inject(self, swarm_id: str, request: InjectRequest) -> InjectAccepted:
        request_id = new_request_id()
        async with self.db.transaction() as session:
            swarm = await self._injectable(session, swarm_id)
            targets = self._targets(swarm, request.nodes)
            refs, deliveries = [], []
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
                deliveries.append(Delivery(injection_id, node_id, request.content, request.mode))
        assert swarm.job_id is not None  # injectable swarms have their job
        delivery = self.delivery.deliver(swarm, self.provider_of(swarm), request_id, deliveries)
        self.spawn(delivery, f"deliver-{request_id}")
        return InjectAccepted(request_id=request_id, injections=refs)

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
        """Pick up every swarm the database says is alive: state comes back from the database.  A swarm
        whose provider is no longer configured is left alone (health unknown, saying why)."""
        async with self.db.transaction() as session:
            rows = (
                await session.scalars(
                    select(SwarmRow).where(SwarmRow.status.in_([S.LAUNCHING, S.PENDING, S.RUNNING, S.TERMINATING]))
                )
            ).all()
            nodes = await nodes_of(session, [r.swarm_id for r in rows])
            undelivered = await pending_deliveries(session, [r.swarm_id for r in rows])
            orphaned = [swarm for swarm in rows if swarm.provider not in self.providers]
            for swarm in orphaned:
                set_health(session, swarm, *on_provider_missing(str(ProviderMissing(swarm.provider, self.providers))))
        for swarm in rows:
            if swarm in orphaned:
                continue
            if swarm.status == S.TERMINATING:  # finds the job by name when none was recorded; never submits
                self.spawn(self.run_terminate(swarm.swarm_id), f"terminate-{swarm.swarm_id}")
            if swarm.job_id is None:
                if swarm.status == S.LAUNCHING:
                    self.spawn(self.run_launch(swarm.swarm_id), f"launch-{swarm.swarm_id}")
                continue
            model = (swarm.runtime_params or {}).get("model")
            await self.ingest.track(swarm.swarm_id, swarm.job_id, nodes[swarm.swarm_id], model, swarm.cluster)
            provider = self.provider_of(swarm)
            provider.follow(swarm.job_id, {n.node_id: n.outbox_offset for n in nodes[swarm.swarm_id]})
            for request_id, deliveries in undelivered.get(swarm.swarm_id, []):  # accepted before a crash
                if swarm.status in INJECTABLE:
                    outcome = self.delivery.deliver(swarm, provider, request_id, deliveries)
                else:
                    reason = f"not delivered: the swarm was {swarm.status} when the router started again"
                    outcome = self.delivery.refuse(swarm, request_id, deliveries, reason)
                self.spawn(outcome, f"deliver-{request_id}")

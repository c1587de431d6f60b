"""The retention policy: a removed swarm's files are deleted once it has been removed long enough, or
sooner when the removed swarms of a cluster hold more than the byte cap (longest removed first).

Workspaces and mailboxes (on the provider's disk, under its base) go after ``retention_files_h``;
the workspace archive (on this host) after ``retention_archives_days``.  Each deletion is announced by
a ``swarm_files_deleted`` event that names every path deleted (at most MAX_LISTED) and its bytes.  A
provider that is not configured or does not answer keeps its swarms' files until a later sweep.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from router.ingest import node_cursor
from router.lifecycle import emit
from router.providers.base import Provider
from router.retention_files import delete_under
from router.store.database import Database
from router.store.swarms import (
    aware,
    get_swarm,
    next_holder_of_job,
    now,
    removed_keeping_files,
    removed_with_archive,
)
from router.store.tables import SwarmRow
from services.bus.base import EventBus
from services.protocol import EventName
from services.settings import Settings

log = logging.getLogger(__name__)

MAX_LISTED = 100  # paths named in one event; the rest are counted
ROUTER_HOST = "router"


def cursors_of(swarm: SwarmRow) -> list[str]:
    """The bus cursors of a swarm's nodes (dropped once it is removed: the bus keeps only live ones)."""
    return [node_cursor(swarm.swarm_id, node_id) for node_id in range(swarm.node_count)]


@dataclass
class _Kept:
    swarm: SwarmRow
    paths: list[str]
    bytes: int = 0


Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


class Retention:
    def __init__(
        self, settings: Settings, db: Database, providers: Mapping[str, Provider], bus: EventBus, spawn: Spawn
    ) -> None:
        self.settings = settings
        self.db = db
        self.providers = providers
        self.bus = bus
        self.spawn = spawn  # runs a sweep with the router's other background work (Authority.spawn)
        self._next_sweep = 0.0
        self._sweeping: asyncio.Task[Any] | None = None

    def sweep_when_due(self) -> None:
        """Start a sweep in the background once the interval has passed and the last one has ended: a
        slow disk or login node never holds up the supervisor's probes and staleness checks."""
        if time.monotonic() < self._next_sweep or (self._sweeping is not None and not self._sweeping.done()):
            return
        self._next_sweep = time.monotonic() + self.settings.retention_interval_s
        self._sweeping = self.spawn(self.sweep(), "retention-sweep")  # a failed one is logged; the next tries again

    async def sweep(self) -> None:
        await self._delete_archives()
        await self._delete_files()

    # ---- archives on this host ------------------------------------------------------------------

    async def _delete_archives(self) -> None:
        before = now() - timedelta(days=self.settings.retention_archives_days)
        async with self.db.transaction() as session:
            swarms = await removed_with_archive(session, before)
        archives = self.settings.archives_dir
        for swarm in swarms:
            assert swarm.archive_path is not None
            path = Path(swarm.archive_path)
            # only what this router made, in its own directory; anything else it leaves alone
            deleted = await asyncio.to_thread(delete_under, archives, [path.name]) if path.parent == archives else []
            reason = f"removed over {self.settings.retention_archives_days:g} days ago (retention_archives_days)"
            await self._record(swarm.swarm_id, ROUTER_HOST, reason, deleted, archive=True)

    # ---- workspaces and mailboxes on the providers' disks ---------------------------------------

    async def _delete_files(self) -> None:
        by_cluster: dict[str, list[_Kept]] = defaultdict(list)
        providers: dict[str, Provider] = {}
        async with self.db.transaction() as session:
            for swarm in await removed_keeping_files(session):
                provider = self.providers.get(swarm.provider)
                if provider is None:  # not configured now: its files wait until it is again
                    continue
                reused_by = await next_holder_of_job(session, swarm)
                paths = provider.retained_paths(swarm.swarm_id, swarm.job_id, swarm.node_count, reused_by)
                providers[swarm.cluster] = provider
                by_cluster[swarm.cluster].append(_Kept(swarm, paths))
        for cluster, kept in by_cluster.items():
            try:
                await self._apply(cluster, providers[cluster], kept)
            except Exception as exc:
                log.warning("retention on %s failed: %s: %s; will retry", cluster, type(exc).__name__, exc)

    async def _apply(self, cluster: str, provider: Provider, kept: Sequence[_Kept]) -> None:
        hours = self.settings.retention_files_h
        due_before = now() - timedelta(hours=hours)
        due = [k for k in kept if aware(k.swarm.updated_at) <= due_before]
        for item in due:
            await self._delete(cluster, provider, item, f"removed over {hours:g} h ago (retention_files_h)")
        rest = [k for k in kept if aware(k.swarm.updated_at) > due_before]
        cap = self.settings.retention_max_bytes
        sizes = await provider.measure([path for item in rest for path in item.paths])
        for item in rest:
            item.bytes = sum(sizes.get(path, 0) for path in item.paths)
        total = sum(item.bytes for item in rest)
        for item in rest:  # longest removed first
            if total <= cap:
                break
            reason = f"the removed swarms on {cluster} held {total} bytes, over the cap of {cap} (retention_max_bytes)"
            await self._delete(cluster, provider, item, reason)
            total -= item.bytes

    async def _delete(self, cluster: str, provider: Provider, item: _Kept, reason: str) -> None:
        deleted = await provider.delete(item.paths)
        swarm = item.swarm
        await self.bus.forget_cursors(cursors_of(swarm))  # again: a crash may have kept them
        await self._record(swarm.swarm_id, cluster, reason, deleted, archive=False)

    async def _record(
        self, swarm_id: str, host: str, reason: str, deleted: list[tuple[str, int]], *, archive: bool
    ) -> None:
        async with self.db.transaction() as session:
            swarm = await get_swarm(session, swarm_id, for_update=True)
            if swarm is None:
                return
            if archive:
                swarm.archive_path = None
            else:
                swarm.files_deleted_at = now()
            if deleted:
                emit(
                    session,
                    swarm,
                    EventName.SWARM_FILES_DELETED,
                    host=host,
                    reason=reason,
                    paths=[{"path": path, "bytes": size} for path, size in deleted[:MAX_LISTED]],
                    omitted=max(0, len(deleted) - MAX_LISTED),
                    bytes=sum(size for _, size in deleted),
                )

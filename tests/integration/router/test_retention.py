"""Removal forgets everything and the retention policy reclaims the disk, on the local provider with
real Postgres and Redis: the removed swarm's bus cursors go with its tracked nodes; past the (tiny)
retention its run directory, mailboxes and archive are deleted, and swarm_files_deleted says what —
never anything a symlink in the run directory points at outside the base."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from router.core import RouterCore, start_router
from router.ingest import node_cursor
from router.retention_files import delete_under
from router.retention_paths import UnsafePath
from router.store.swarms import get_swarm
from services.bus import START_ID, EventBus, MemoryEventBus, RedisEventBus
from services.protocol import LaunchRequest, TerminateRequest
from services.settings import Settings
from tests.support.router_process import kill_local_nodes
from tests.support.servers import wait_until_async

NODES = 2


def settings_for(
    tmp_path: Path, pg_url: str, redis_url: str, redis_prefix: str, embedded: bool = False, **retention: Any
) -> Settings:
    """Postgres and Redis, or (embedded) SQLite under home and the in-process bus."""
    return Settings(
        home=tmp_path,
        database_url="" if embedded else pg_url,
        bus="memory" if embedded else "redis",
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        heartbeat_interval_s=0.5,
        probe_interval_s=0.5,
        terminated_ttl_s=0.5,
        terminate_grace_s=3,
        retention_interval_s=0.2,
        **retention,
    )


async def events(core: RouterCore, name: str, swarm_id: str) -> list[dict[str, Any]]:
    found = []
    for entry in await core.bus.read_after(START_ID, count=100_000):
        envelope = entry.envelope()
        if envelope.get("event") == name and envelope["data"].get("swarm_id") == swarm_id:
            found.append(envelope["data"])
    return found


async def status_of(core: RouterCore, swarm_id: str) -> str | None:
    async with core.db.transaction() as session:
        row = await get_swarm(session, swarm_id)
    return row.status if row else None


async def run_and_remove(
    core: RouterCore, archive: bool = False, while_running: Callable[[Path], None] | None = None
) -> str:
    """A two-node swarm that ran until both nodes wrote their bus cursors, then was terminated
    (optionally archived) and removed by its TTL.  while_running gets its run directory."""
    swarm_id = (await core.authority.launch(LaunchRequest(nodes=NODES), None)).swarm_id

    async def running() -> bool:
        return await status_of(core, swarm_id) == "running"

    await wait_until_async(running, 30, "the swarm running")

    async def cursors_written() -> bool:
        cursors = await core.bus.cursors()
        return all(node_cursor(swarm_id, n) in cursors for n in range(NODES))

    await wait_until_async(cursors_written, 20, "both nodes' bus cursors")
    if while_running:
        while_running(core.settings.runs_base / "runs" / f"local-{swarm_id}")
    await core.authority.terminate(swarm_id, TerminateRequest(download_workspaces=archive))
    if archive:
        path = core.settings.archives_dir / f"{swarm_id}.tar.gz"
        await wait_until_async(lambda: path.is_file(), 30, "the workspace archive")

    async def removed() -> bool:
        return await status_of(core, swarm_id) == "removed"

    await wait_until_async(removed, 30, "the swarm removed after its TTL")
    return swarm_id


@pytest.mark.parametrize("embedded", [False, True], ids=["postgres-redis", "sqlite-memory"])
async def test_removal_drops_the_cursors_and_retention_deletes_run_dir_mailboxes_and_archive(
    tmp_path: Path, pg_url: str, redis_url: str, redis_prefix: str, embedded: bool
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("not the swarm's")

    def link_out(run_dir: Path) -> None:  # what an agent could leave behind
        (run_dir / "node_00" / "link-out").symlink_to(outside)

    settings = settings_for(
        tmp_path,
        pg_url,
        redis_url,
        redis_prefix,
        embedded,
        retention_files_h=3 / 3600,
        retention_archives_days=3 / 86400,
    )
    core = await start_router(settings)
    try:
        swarm_id = await run_and_remove(core, archive=True, while_running=link_out)
        # removal forgets: no tracked node, no cursor of its nodes (the hash held one per node ever run)
        assert core.ingest.nodes_of(swarm_id) == []
        assert not [name for name in await core.bus.cursors() if name.startswith(f"node:{swarm_id}:")]
        job_id, base = f"local-{swarm_id}", settings.runs_base
        run_dir, archive = base / "runs" / job_id, settings.archives_dir / f"{swarm_id}.tar.gz"
        boxes = ("inbox", "outbox")
        mailboxes = [base / "mailbox" / box / f"{job_id}_0{n}.jsonl" for box in boxes for n in range(NODES)]
        assert run_dir.is_dir() and archive.is_file()  # kept for the retention time

        async def deleted_twice() -> bool:
            return len(await events(core, "swarm_files_deleted", swarm_id)) == 2

        await wait_until_async(deleted_twice, 30, "the files and the archive deleted")
        by_host = {data["host"]: data for data in await events(core, "swarm_files_deleted", swarm_id)}
        files, archived = by_host["local"], by_host["router"]
        assert "retention_files_h" in files["reason"] and "retention_archives_days" in archived["reason"]
        listed = {entry["path"] for entry in files["paths"]}
        assert str(run_dir) in listed and {str(path) for path in mailboxes if path.parent.name == "outbox"} <= listed
        assert files["bytes"] == sum(entry["bytes"] for entry in files["paths"]) > 0 and files["omitted"] == 0
        assert [entry["path"] for entry in archived["paths"]] == [str(archive)] and archived["bytes"] > 0
        assert not run_dir.exists() and not any(path.exists() for path in mailboxes) and not archive.exists()
        assert (outside / "precious.txt").read_text() == "not the swarm's"  # the symlink went, not its target
        async with core.db.transaction() as session:
            row = await get_swarm(session, swarm_id)
        assert row is not None and row.files_deleted_at is not None and row.archive_path is None
    finally:
        await core.stop()
        kill_local_nodes(tmp_path)


async def test_the_byte_cap_deletes_the_longest_removed_first_whatever_their_age(
    tmp_path: Path, pg_url: str, redis_url: str, redis_prefix: str
) -> None:
    settings = settings_for(tmp_path, pg_url, redis_url, redis_prefix, retention_files_h=1000.0)
    core = await start_router(settings)
    try:
        first = await run_and_remove(core)
        second = await run_and_remove(core)
        # the cap is the second swarm's bytes: the first (longest removed) must go, the second stays
        kept = core.providers["local"].retained_paths(second, f"local-{second}", NODES, None)
        cap = sum((await core.providers["local"].measure(kept)).values())
        await core.stop()
        settings = settings.model_copy(update={"retention_max_bytes": cap})
        core = await start_router(settings)

        async def first_deleted() -> bool:
            return bool(await events(core, "swarm_files_deleted", first))

        await wait_until_async(first_deleted, 30, "the first swarm's files deleted for the cap")
        (data,) = await events(core, "swarm_files_deleted", first)
        assert "retention_max_bytes" in data["reason"] and data["bytes"] > 0
        assert not (settings.runs_base / "runs" / f"local-{first}").exists()
        await core.supervisor.retention.sweep()  # another sweep: now under the cap, the second one stays
        assert await events(core, "swarm_files_deleted", second) == []
        assert (settings.runs_base / "runs" / f"local-{second}").is_dir()
    finally:
        await core.stop()
        kill_local_nodes(tmp_path)


@pytest.mark.parametrize("kind", ["redis", "memory"])
async def test_forgotten_cursors_are_gone_and_the_others_stay(kind: str, redis_bus: RedisEventBus) -> None:
    bus: EventBus = redis_bus if kind == "redis" else MemoryEventBus()
    await bus.publish([{"event": "x"}], {"node:a:0": "3", "node:a:1": "4", "node:b:0": "5", "relay": "9"})
    await bus.forget_cursors(["node:a:0", "node:a:1", "node:never:0"])
    await bus.forget_cursors([])
    assert await bus.cursors() == {"node:b:0": "5", "relay": "9"}


def test_nothing_outside_the_base_is_deleted_through_a_symlinked_directory(tmp_path: Path) -> None:
    base, outside = tmp_path / "base", tmp_path / "outside"
    (outside / "7").mkdir(parents=True)
    (outside / "7" / "data").write_text("elsewhere")
    base.mkdir()
    (base / "runs").symlink_to(outside)  # base/runs/7 is really outside/7
    (base / "mailbox").mkdir()
    (base / "mailbox" / "7_00.jsonl").write_text("{}\n")
    assert delete_under(base, ["runs/7", "mailbox/7_00.jsonl", "mailbox/gone.jsonl"]) == [
        (str(base.resolve() / "mailbox" / "7_00.jsonl"), 3)
    ]
    assert (outside / "7" / "data").read_text() == "elsewhere"
    for unsafe in ("../outside/7", "/etc", "runs/../../outside", "runs//7", ""):
        with pytest.raises(UnsafePath):
            delete_under(base, [unsafe])

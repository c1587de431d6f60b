"""The store on both databases: migrations make the schema, job_id is written once, events commit in order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from router.store.database import Database
from router.store.migrate import upgrade
from router.store.outbox import add_event, events_after
from router.store.swarms import JobIdAlreadySet, assign_job_id, get_swarm, now
from router.store.tables import Base, SwarmRow


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    await upgrade(url)
    database = Database(url)
    yield database
    await database.close()


async def test_the_migrations_make_exactly_the_schema_the_models_describe(db: Database) -> None:
    async with db.engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert differences == []


async def add_swarm(db: Database, swarm_id: str, cluster: str = "local") -> None:
    async with db.transaction() as session:
        session.add(
            SwarmRow(
                swarm_id=swarm_id,
                request_id="rq-1",
                provider=cluster,
                cluster=cluster,
                runtime="mock",
                node_count=1,
                status="launching",
                health="ok",
                provider_params={},
                runtime_params={},
                download_workspaces=False,
                created_at=now(),
                updated_at=now(),
            )
        )


async def test_job_id_is_set_once_and_a_second_write_raises(db: Database) -> None:
    await add_swarm(db, "sw-a")
    async with db.transaction() as session:
        await assign_job_id(session, "sw-a", "101")
    with pytest.raises(JobIdAlreadySet, match="already has job_id '101'"):
        async with db.transaction() as session:
            await assign_job_id(session, "sw-a", "202")
    with pytest.raises(JobIdAlreadySet):  # not even the same value twice: the caller has a bug
        async with db.transaction() as session:
            await assign_job_id(session, "sw-a", "101")
    async with db.transaction() as session:
        swarm = await get_swarm(session, "sw-a")
    assert swarm is not None and swarm.job_id == "101"


async def test_the_database_itself_refuses_to_change_a_job_id(db: Database) -> None:
    await add_swarm(db, "sw-b")
    async with db.transaction() as session:
        await assign_job_id(session, "sw-b", "7")
    for statement in ("UPDATE swarms SET job_id = '8' WHERE swarm_id = 'sw-b'", "UPDATE swarms SET job_id = NULL"):
        with pytest.raises(DBAPIError, match="write-once"):
            async with db.transaction() as session:
                await session.execute(text(statement))
    async with db.transaction() as session:
        assert (await session.scalar(select(SwarmRow.job_id).where(SwarmRow.swarm_id == "sw-b"))) == "7"


async def test_a_job_id_is_unique_per_cluster_among_live_swarms(db: Database) -> None:
    await add_swarm(db, "sw-c", cluster="alpha")
    await add_swarm(db, "sw-d", cluster="alpha")
    await add_swarm(db, "sw-f", cluster="beta")
    async with db.transaction() as session:
        await assign_job_id(session, "sw-c", "1")
        await assign_job_id(session, "sw-f", "1")  # another cluster's job 1
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            await assign_job_id(session, "sw-d", "1")
    async with db.transaction() as session:  # the id may come again once its swarm has ended
        await session.execute(update(SwarmRow).where(SwarmRow.swarm_id == "sw-c").values(status="terminated"))
        await assign_job_id(session, "sw-d", "1")


async def test_events_commit_with_their_change_or_not_at_all(db: Database) -> None:
    await add_swarm(db, "sw-e")
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            swarm = await get_swarm(session, "sw-e")
            assert swarm is not None
            swarm.status = "running"
            add_event(session, {"event": "swarm_status", "n": 0})
            raise RuntimeError("crash before commit")
    async with db.transaction() as session:
        add_event(session, {"event": "swarm_status", "n": 1})
        add_event(session, {"event": "swarm_status", "n": 2})
    async with db.transaction() as session:
        rows = await events_after(session, 0, 10)
        swarm = await get_swarm(session, "sw-e")
    assert [row.envelope for row in rows] == ['{"event":"swarm_status","n":1}', '{"event":"swarm_status","n":2}']
    assert swarm is not None and swarm.status == "launching"

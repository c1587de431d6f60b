"""The transcript reads of router/store/ on SQLite: one node's turns with their commands and approval
requests, and a swarm's approval requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from router.store.approvals import swarm_approvals
from router.store.database import Database
from router.store.swarms import create_nodes, now
from router.store.tables import ApprovalRow, CommandRow, SwarmRow, TurnRow
from router.store.turns import node_turns
from tests.support.sqlite_database import migrated_sqlite

SWARM = "sw-turns"
START = now()


def _turn(injection_id: str, node_id: int, started_s: float | None) -> TurnRow:
    started = None if started_s is None else START + timedelta(seconds=started_s)
    return TurnRow(
        injection_id=injection_id, swarm_id=SWARM, node_id=node_id, prompt="p", status="completed", started_at=started
    )


def _command(call_id: str, injection_id: str, seq: int, node_id: int = 0) -> CommandRow:
    return CommandRow(
        swarm_id=SWARM, node_id=node_id, call_id=call_id, injection_id=injection_id, seq=seq, command="ls", output=""
    )


def _approval(call_id: str, injection_id: str, node_id: int, at_s: float, status: str) -> ApprovalRow:
    return ApprovalRow(
        swarm_id=SWARM,
        node_id=node_id,
        call_id=call_id,
        injection_id=injection_id,
        kind="command",
        available_decisions=["accept", "decline"],
        status=status,
        created_at=START + timedelta(seconds=at_s),
    )


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await migrated_sqlite(tmp_path, "turns.db")
    async with database.transaction() as session:
        session.add(
            SwarmRow(
                swarm_id=SWARM,
                cluster="local",
                job_id="local-turns",
                request_id="rq",
                provider="local",
                runtime="mock",
                node_count=2,
                status="running",
                health="ok",
                provider_params={},
                runtime_params={},
                download_workspaces=False,
                created_at=START,
                updated_at=START,
            )
        )
        await session.flush()
        create_nodes(session, SWARM, 2)
        session.add_all(
            [
                _turn("in-late", 0, 20),
                _turn("in-queued", 0, None),
                _turn("in-early", 0, 10),
                _turn("in-other-node", 1, 5),
                _command("c-second", "in-early", 7),
                _command("c-first", "in-early", 3),
                _command("c-late", "in-late", 9),
                _command("c-other-node", "in-other-node", 1, node_id=1),
                _approval("a-late", "in-late", 0, 30, "pending"),
                _approval("a-early", "in-late", 0, 25, "answered"),
                _approval("a-other-node", "in-other-node", 1, 25, "pending"),
            ]
        )
    yield database
    await database.close()


async def test_a_nodes_turns_come_oldest_first_each_with_its_own_commands_and_approvals(db: Database) -> None:
    async with db.transaction() as session:
        turns = await node_turns(session, SWARM, 0)
    assert [t.turn.injection_id for t in turns] == ["in-early", "in-late", "in-queued"]
    assert [[c.call_id for c in t.commands] for t in turns] == [["c-first", "c-second"], ["c-late"], []]
    assert [[a.call_id for a in t.approvals] for t in turns] == [[], ["a-early", "a-late"], []]


async def test_a_swarms_approvals_come_oldest_first_and_by_node_and_pending_only_when_asked(db: Database) -> None:
    async with db.transaction() as session:
        every = await swarm_approvals(session, SWARM, pending_only=False)
        pending = await swarm_approvals(session, SWARM, pending_only=True)
    assert [a.call_id for a in every] == ["a-early", "a-other-node", "a-late"]
    assert [a.call_id for a in pending] == ["a-other-node", "a-late"]

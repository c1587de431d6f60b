"""The one transition table."""

from __future__ import annotations

import pytest

from router.lifecycle import TRANSITIONS, IllegalTransition, can_transition, transition
from router.store.swarms import now
from router.store.tables import SwarmRow
from services.protocol import SwarmStatus

S = SwarmStatus


def test_every_status_has_a_row() -> None:
    assert set(TRANSITIONS) == set(SwarmStatus)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (S.LAUNCHING, S.PENDING),
        (S.LAUNCHING, S.REJECTED),
        (S.PENDING, S.RUNNING),
        (S.RUNNING, S.TERMINATING),
        (S.TERMINATING, S.TERMINATED),
        (S.RUNNING, S.FAILED),
        (S.TERMINATED, S.REMOVED),
        (S.FAILED, S.REMOVED),
    ],
)
def test_legal(source: SwarmStatus, target: SwarmStatus) -> None:
    assert can_transition(source, target)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (S.TERMINATED, S.RUNNING),  # an ended swarm never comes back
        (S.REMOVED, S.RUNNING),
        (S.REJECTED, S.REMOVED),  # a rejected launch left nothing to remove
        (S.RUNNING, S.LAUNCHING),
        (S.RUNNING, S.REMOVED),  # removal only after an end
        (S.RUNNING, S.REJECTED),
        (S.TERMINATING, S.RUNNING),
    ],
)
def test_illegal_is_an_error(source: SwarmStatus, target: SwarmStatus) -> None:
    swarm = SwarmRow(swarm_id="sw-1", status=str(source), health="ok", updated_at=now())
    with pytest.raises(IllegalTransition, match=f"{source} → {target}"):
        transition(None, swarm, target)  # type: ignore[arg-type]  # refused before the session is touched
    assert swarm.status == source

"""A fake model for the agent tests (the codex binary's fixture is suite-wide: tests/support/agent_fixtures.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_responses import FakeResponses


@pytest.fixture
def fake_model() -> Iterator[FakeResponses]:
    fake = FakeResponses(expected_key="sk-test-0123456789").start()
    yield fake
    fake.stop()

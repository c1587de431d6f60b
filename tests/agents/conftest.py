"""Fixtures for the real agent binaries: the codex the project installs (`make codex`) and a fake model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from router.providers.registry import PROJECT_CODEX
from tests.support.fake_responses import FakeResponses


@pytest.fixture(scope="session")
def codex_binary() -> Path:
    if not PROJECT_CODEX.is_file():
        pytest.fail(f"the codex binary is missing at {PROJECT_CODEX}: run `make codex` (make test does)")
    return PROJECT_CODEX


@pytest.fixture
def fake_model() -> Iterator[FakeResponses]:
    fake = FakeResponses(expected_key="sk-test-0123456789").start()
    yield fake
    fake.stop()

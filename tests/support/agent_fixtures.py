"""Fixtures for the real agent binaries (registered suite-wide by tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.providers.registry import PROJECT_CLAUDE, PROJECT_CODEX


@pytest.fixture(scope="session")
def codex_binary() -> Path:
    """The codex the project installs (`make codex`, which `make test` runs first)."""
    if not PROJECT_CODEX.is_file():
        pytest.fail(f"the codex binary is missing at {PROJECT_CODEX}: run `make codex` (make test does)")
    return PROJECT_CODEX


@pytest.fixture(scope="session")
def claude_binary() -> Path:
    """The Claude Code the project installs (`make claude`, which `make test` runs first)."""
    if not PROJECT_CLAUDE.is_file():
        pytest.fail(f"the claude binary is missing at {PROJECT_CLAUDE}: run `make claude` (make test does)")
    return PROJECT_CLAUDE

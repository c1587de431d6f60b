"""Suite-wide fixtures: real Redis and Postgres (started on demand, see tests/support/servers.py).

Other areas keep their fixtures in their own conftest.py files; keep this one small.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Auth is on by default (services/token_file.py).  The suite runs its services without it, on loopback
# only, unless a test gives a token or asks for the default (tests/integration/test_auth_*.py,
# tests/e2e/test_token_auth.py); service processes get the same default from tests/support.
os.environ["CODESWARM_INSECURE_NO_AUTH"] = "1"

pytest.register_assert_rewrite("tests.support")

from tests.support import servers  # noqa: E402  (after registering: the bus contract's asserts are rewritten)

pytest_plugins = ["tests.support.router_fixtures", "tests.support.node_process", "tests.support.agent_fixtures"]

INTEGRATION_DIR = Path(__file__).resolve().parent / "integration"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of a real Redis (the local one, or a private server started for this session)."""
    return servers.ensure_redis()


@pytest.fixture(scope="session")
def postgres_base_dsn() -> str:
    """Base DSN (no database) of a real Postgres, e.g. ``postgresql://postgres@127.0.0.1:5432``."""
    return servers.ensure_postgres()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix private to this test (``cstest:<hex>:``); its keys are deleted afterwards."""
    prefix = servers.unique_prefix()
    yield prefix
    servers.delete_prefix(redis_url, prefix)


@pytest.fixture
def pg_url(postgres_base_dsn: str) -> Iterator[str]:
    """SQLAlchemy URL (``postgresql+asyncpg://``) of a fresh database, dropped afterwards."""
    url, drop = servers.create_database(postgres_base_dsn)
    yield url
    drop()

"""Auth on by default: the token file under CODESWARM_HOME, the override, and what is refused."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from services.settings import Settings
from services.token_file import MIN_TOKEN_CHARS, AuthSetupError, configured_token, token_path, with_token

LONG = "x" * MIN_TOKEN_CHARS


def settings(home: Path, **values: object) -> Settings:
    return Settings(home=home, **{"api_token": "", "insecure_no_auth": False, **values})  # type: ignore[arg-type]


def test_the_first_start_writes_a_private_random_token_that_later_starts_reuse(tmp_path: Path) -> None:
    home = tmp_path / "fresh-home"
    first = configured_token(settings(home))
    path = token_path(settings(home))
    assert first is not None and len(first) >= 43
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == first
    assert configured_token(settings(home)) == first
    assert configured_token(settings(tmp_path / "other-home")) != first  # random, not derived
    assert with_token(settings(home)).api_token == first


def test_the_environment_token_overrides_the_file_and_must_be_long(tmp_path: Path) -> None:
    assert configured_token(settings(tmp_path, api_token=LONG)) == LONG
    assert not token_path(settings(tmp_path)).exists()  # an explicit token writes no file
    with pytest.raises(AuthSetupError, match=rf"CODESWARM_API_TOKEN has 12 characters; at least {MIN_TOKEN_CHARS}"):
        configured_token(settings(tmp_path, api_token="s3cret-token"))


def test_a_short_or_readable_token_file_is_refused(tmp_path: Path) -> None:
    path = token_path(settings(tmp_path))
    path.write_text("short\n")
    path.chmod(0o600)
    with pytest.raises(AuthSetupError, match="has 5 characters"):
        configured_token(settings(tmp_path))
    path.write_text(LONG + "\n")
    path.chmod(0o644)
    with pytest.raises(AuthSetupError, match=r"readable by other users .*chmod 600"):
        configured_token(settings(tmp_path))
    path.chmod(0o600)
    assert configured_token(settings(tmp_path)) == LONG


def test_no_auth_only_by_the_loud_setting_and_never_with_a_token(tmp_path: Path) -> None:
    assert configured_token(settings(tmp_path, insecure_no_auth=True)) is None
    assert not token_path(settings(tmp_path)).exists()
    with pytest.raises(AuthSetupError, match="both set"):
        configured_token(settings(tmp_path, insecure_no_auth=True, api_token=LONG))


def test_two_first_starts_at_once_agree_on_one_token(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        tokens = set(pool.map(lambda _: configured_token(settings(tmp_path)), range(16)))
    assert len(tokens) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["api-token"]  # no draft left behind

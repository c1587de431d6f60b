"""The node program's zipapp: built once per source hash, safe to build from many launches at once."""

from __future__ import annotations

import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from services.node.zipapp import archive_name, build_zipapp


def test_concurrent_builds_in_one_process_all_get_the_same_whole_archive(tmp_path: Path) -> None:
    dest = tmp_path / "bin"
    with ThreadPoolExecutor(max_workers=8) as pool:
        built = list(pool.map(lambda _: build_zipapp(dest), range(16)))
    assert set(built) == {dest / archive_name()}
    assert [p.name for p in dest.iterdir()] == [archive_name()]  # no partial file left behind
    archive = built[0]
    assert archive.stat().st_mode & stat.S_IXUSR
    result = subprocess.run([sys.executable, str(archive), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout.lower()


def test_a_second_build_reuses_the_archive(tmp_path: Path) -> None:
    first = build_zipapp(tmp_path)
    modified = first.stat().st_mtime_ns
    assert build_zipapp(tmp_path) == first
    assert first.stat().st_mtime_ns == modified

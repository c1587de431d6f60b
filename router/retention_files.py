"""Measuring and deleting paths under a base directory on this host, never outside it.

The base is resolved once; each path's parent is resolved too and must lie inside the base (a symlinked
directory on the way out of it is refused), and the last component is never followed: a symlink is
unlinked, not its target, and a directory is removed with ``shutil.rmtree``, which does not follow the
symlinks inside it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from router.retention_paths import checked_relative


def size_of(path: Path) -> int:
    """Bytes held by path and, for a directory, everything in it (symlinks count as themselves)."""
    total = path.lstat().st_size
    if path.is_symlink() or not path.is_dir():
        return total
    for root, dirs, files in os.walk(path, followlinks=False):
        for name in dirs + files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # gone meanwhile
    return total


def inside(base: Path, relative: str) -> Path | None:
    """The path base/relative with its parent resolved, if that parent is inside the resolved base and
    the path exists (as anything, a dangling symlink too); else None."""
    root = base.resolve()
    joined = base / checked_relative(relative)
    try:
        parent = joined.parent.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if parent != root and not parent.is_relative_to(root):
        return None
    target = parent / joined.name
    return target if os.path.lexists(target) else None


def measure_under(base: Path, paths: Sequence[str]) -> dict[str, int]:
    """Relative path → bytes, for the paths that exist inside base."""
    sizes = {}
    for relative in paths:
        target = inside(base, relative)
        if target is not None:
            sizes[relative] = size_of(target)
    return sizes


def delete_under(base: Path, paths: Sequence[str]) -> list[tuple[str, int]]:
    """Delete the paths that exist inside base; (absolute path, bytes) of each one deleted."""
    deleted = []
    for relative in paths:
        target = inside(base, relative)
        if target is None:
            continue
        size = size_of(target)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
        deleted.append((str(target), size))
    return deleted

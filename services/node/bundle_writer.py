"""Writing the agents bundle (AGENTS.md, skills, ...) into the workspace; no path may escape it."""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

from services.node.errors import ConfigError


def checked_target(workspace: Path, relpath: Any) -> Path:
    """The file a bundle entry may write, or ConfigError naming the entry and why it is refused."""
    if not isinstance(relpath, str) or not relpath:
        raise ConfigError(f"bundle path {relpath!r} must be a non-empty string")
    if "\x00" in relpath or "\\" in relpath:
        raise ConfigError(f"bundle path {relpath!r} contains a NUL or a backslash")
    pure = PurePosixPath(relpath)
    if pure.is_absolute():
        raise ConfigError(f"bundle path {relpath!r} is absolute; it must be relative to the workspace")
    if ".." in pure.parts:
        raise ConfigError(f"bundle path {relpath!r} contains '..'; it must stay inside the workspace")
    if pure.parts in ((), (".",)):
        raise ConfigError(f"bundle path {relpath!r} names no file")
    target = workspace.joinpath(*pure.parts)
    resolved = target.resolve()
    if not resolved.is_relative_to(workspace) or resolved == workspace:
        raise ConfigError(f"bundle path {relpath!r} escapes the workspace through a symbolic link")
    if resolved.is_dir():
        raise ConfigError(f"bundle path {relpath!r} is a directory in the workspace")
    return target


def load_bundle(bundle_file: str) -> dict[str, Any]:
    try:
        with open(bundle_file, encoding="utf-8") as handle:
            bundle = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the bundle file {bundle_file}: {exc}") from exc
    if not isinstance(bundle, dict):
        raise ConfigError(f"the bundle file {bundle_file} must hold a JSON object (relative path → text)")
    return bundle


def write_bundle(workspace: str, bundle: dict[str, Any]) -> list[str]:
    """Check every entry first, then write them all; the relative paths written, sorted."""
    root = Path(workspace).resolve()
    targets: list[tuple[str, Path, str]] = []
    for relpath, text in bundle.items():
        target = checked_target(root, relpath)
        if not isinstance(text, str):
            raise ConfigError(f"bundle entry {relpath!r} must be text, not {type(text).__name__}")
        targets.append((relpath, target, text))
    for relpath, target, text in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Re-check after creating directories: nothing may have turned a parent into an escape meanwhile.
        if not target.parent.resolve().is_relative_to(root):
            raise ConfigError(f"bundle path {relpath!r} escapes the workspace through a symbolic link")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(target, flags, 0o600)
        except OSError as exc:
            raise ConfigError(f"cannot write bundle entry {relpath!r}: {exc}") from exc
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    return sorted(relpath for relpath, _, _ in targets)

"""Checks on an agents bundle (files written into every workspace): paths may not escape it, and it is
bounded in files and bytes (it is written into every node's workspace and rides in the job's files)."""

from __future__ import annotations

from pathlib import PurePosixPath

from router.errors import Invalid

MAX_BUNDLE_FILES = 64
MAX_BUNDLE_BYTES = 512 * 1024  # the UTF-8 size of every file together


def check_bundle(bundle: dict[str, str] | None) -> None:
    if not bundle:
        return
    if len(bundle) > MAX_BUNDLE_FILES:
        raise Invalid(["body", "agents_bundle"], f"at most {MAX_BUNDLE_FILES} files in agents_bundle")
    size = sum(len(text.encode()) for text in bundle.values())
    if size > MAX_BUNDLE_BYTES:
        raise Invalid(
            ["body", "agents_bundle"],
            f"agents_bundle holds {size} bytes; at most {MAX_BUNDLE_BYTES} bytes of files in all",
        )
    for name in bundle:
        path = PurePosixPath(name)
        if not name or path.is_absolute() or ".." in path.parts or "\\" in name or "\0" in name:
            raise Invalid(
                ["body", "agents_bundle", name],
                f"bundle path {name!r} must be relative and stay inside the workspace (no '..', no leading '/')",
            )

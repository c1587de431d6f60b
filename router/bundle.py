"""Checks on an agents bundle (files written into every workspace): paths may not escape it."""

from __future__ import annotations

from pathlib import PurePosixPath

from router.errors import Invalid

MAX_BUNDLE_FILES = 64


def check_bundle(bundle: dict[str, str] | None) -> None:
    if not bundle:
        return
    if len(bundle) > MAX_BUNDLE_FILES:
        raise Invalid(["body", "agents_bundle"], f"at most {MAX_BUNDLE_FILES} files in agents_bundle")
    for name in bundle:
        path = PurePosixPath(name)
        if not name or path.is_absolute() or ".." in path.parts or "\\" in name or "\0" in name:
            raise Invalid(
                ["body", "agents_bundle", name],
                f"bundle path {name!r} must be relative and stay inside the workspace (no '..', no leading '/')",
            )

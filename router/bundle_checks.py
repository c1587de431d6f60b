"""Checks on an agents bundle (files written into every workspace): paths may not escape it, and it is
bounded in files and bytes (it is written into every node's workspace and rides in the job's files)."""

from __future__ import annotations

from pathlib import PurePosixPath

from router.errors import Invalid

MAX_BUNDLE_FILES = 64
MAX_BUNDLE_BYTES = 512 * 1024  # the UTF-8 size of every file together
MAX_NAME_BYTES = 255  # one path component: what every common filesystem takes
MAX_DEPTH = 16  # directories a bundle path may go down


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
    files: set[PurePosixPath] = set()
    for name in bundle:
        files.add(_checked_path(name))
    for path in files:
        for parent in path.parents:
            if parent in files:
                raise Invalid(
                    ["body", "agents_bundle", str(path)],
                    f"bundle path {str(path)!r} needs {str(parent)!r} to be a directory, but it is a file",
                )


def _checked_path(name: str) -> PurePosixPath:
    """A bundle path the node can write: relative, inside the workspace, a file, of sane names and depth."""
    loc: list[str | int] = ["body", "agents_bundle", name]
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name or "\0" in name:
        inside = "must be relative and stay inside the workspace (no '..' or leading '/')"
        raise Invalid(loc, f"bundle path {name!r} {inside}")
    if not path.parts or name.endswith("/"):
        raise Invalid(loc, f"bundle path {name!r} must name a file, not a directory")
    if len(path.parts) > MAX_DEPTH:
        raise Invalid(loc, f"bundle path {name[:80]!r}… is {len(path.parts)} levels deep; at most {MAX_DEPTH}")
    longest = max(len(part.encode()) for part in path.parts)
    if longest > MAX_NAME_BYTES:
        raise Invalid(loc, f"a name in bundle path {name[:80]!r}… is {longest} bytes; at most {MAX_NAME_BYTES}")
    return path

"""The shell command that measures or deletes paths under a cluster's base, over its SSH connection.

Same rules as on this host (router/retention_files.py): the base and each path's parent are resolved
(``cd -P``) and the parent must lie inside the resolved base; the last component is never followed
(``du -P``; ``rm -rf`` removes a symlink, not its target, and never follows the symlinks inside a
directory); ``--one-file-system`` keeps rm off anything mounted below.  Paths are checked plain
relative names (router/retention_paths.py) and shell-quoted.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from router.retention_paths import checked_relative

PATHS_PER_COMMAND = 200  # keeps one command line a few kilobytes

_LOOP = """root=$(cd -P -- {base} 2>/dev/null && pwd -P) || exit 0
for rel in {paths}; do
  p="$root/$rel"
  [ -e "$p" ] || [ -L "$p" ] || continue
  parent=$(cd -P -- "${{p%/*}}" 2>/dev/null && pwd -P) || continue
  case "$parent/" in "$root"/*) ;; *) continue ;; esac
  target="$parent/${{p##*/}}"
  size=$(du -sbP -- "$target" 2>/dev/null | cut -f1)
  {delete}printf '%s\\t%s\\t%s\\n' "${{size:-0}}" "$rel" "$target"
done"""
_DELETE = 'rm -rf --one-file-system -- "$target" || continue\n  '


def remote_command(base: str, paths: Sequence[str], delete: bool) -> str:
    """One command for at most PATHS_PER_COMMAND paths; it prints `bytes<TAB>relative<TAB>absolute` for
    each path it found (and, with delete, deleted)."""
    if len(paths) > PATHS_PER_COMMAND:
        raise ValueError(f"at most {PATHS_PER_COMMAND} paths per command, not {len(paths)}")
    quoted = " ".join(shlex.quote(checked_relative(path)) for path in paths)
    return _LOOP.format(base=shlex.quote(base), paths=quoted, delete=_DELETE if delete else "")


def parsed_output(out: str) -> list[tuple[str, str, int]]:
    """(relative, absolute, bytes) of each line the command printed."""
    found = []
    for line in out.splitlines():
        size, relative, absolute = line.split("\t", 2)
        found.append((relative, absolute, int(size) if size.isdigit() else 0))
    return found

"""Which paths under a provider's base hold a swarm's files, as paths relative to that base.

Checked before anything is deleted: a relative path is plain names joined by '/', never '..' or '.',
never absolute, so joined to the base it can only name something inside it (symlinks are the deleting
side's business: it resolves the parent and never follows the last component).
"""

from __future__ import annotations

import re

from services.node.records import mailbox_name

PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")
MAX_PARTS = 8


class UnsafePath(ValueError):
    pass


def checked_relative(path: str) -> str:
    parts = path.split("/")
    if len(parts) > MAX_PARTS or not all(PART.fullmatch(part) for part in parts):
        raise UnsafePath(f"{path!r} is not a plain relative path under a provider's base")
    return path


def job_paths(job_id: str, node_count: int) -> list[str]:
    """A job's workspaces, agent homes and mailboxes (the node program's layout, services/node/records.py)."""
    paths = [f"runs/{job_id}", f"agents/{job_id}"]
    for node_id in range(node_count):
        name = mailbox_name(job_id, node_id)
        paths += [f"mailbox/inbox/{name}", f"mailbox/outbox/{name}"]
    return [checked_relative(path) for path in paths]

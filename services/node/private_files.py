"""Files are their owner's only: on a shared login node an outbox holds every prompt, answer and command
output, and a database or snapshot the same.  Each Codeswarm process (router, mirror, web, the embedded
mode, node programs and the cluster-side follower) sets this umask first, so whatever the user's own
umask, every directory it creates is 0700 and every file 0600 — and so is what the agents it starts
create, unless they widen it themselves."""

from __future__ import annotations

import os

PRIVATE_UMASK = 0o077


def keep_files_private() -> None:
    os.umask(PRIVATE_UMASK)

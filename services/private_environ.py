"""Keep a service's environment out of ``/proc/<pid>/environ``.

Every process of the same Unix user (each agent a node runs, too) can read ``/proc/<pid>/environ``,
and it shows the environment the process was *started* with: removing a variable from ``os.environ``
afterwards does not change it.  So a service moves its environment out of sight before it does anything
else: it executes itself again with only harmless variables (the search path, home, locale, Python's
and the loader's own), and hands every other one (tokens, model keys, a database URL with its password,
each ``CODESWARM_`` setting) to the new image in an anonymous memory file that the new image reads and
closes first thing.  Put back into ``os.environ``, the values serve the process (its settings, the model
key it writes into the nodes' 0600 control files) but appear nowhere under ``/proc``.  Children get an
explicit environment of their own (``router/providers/node_command.py``), never this one.
"""

from __future__ import annotations

import json
import os
import sys

VISIBLE = frozenset({"PATH", "HOME", "LANG", "TZ", "TMPDIR", "USER", "LOGNAME", "PWD", "SHELL", "TERM", "VIRTUAL_ENV"})
VISIBLE_PREFIXES = ("LC_", "PYTHON", "LD_")
HANDOVER = "CODESWARM_ENVIRON_FD"  # the descriptor of the memory file, in the new image's environment


def _visible(name: str) -> bool:
    return name in VISIBLE or name.startswith(VISIBLE_PREFIXES)


def hide_environment() -> None:
    """Call first in a service's main(): returns in a process whose start-up environment holds only the
    VISIBLE variables, with all of them back in os.environ.  A no-op where there is no /proc (nothing to
    hide from) or nothing to hide."""
    handed_over = os.environ.pop(HANDOVER, None)
    if handed_over is not None:
        with os.fdopen(int(handed_over), "rb") as handed:
            os.environ.update(json.loads(handed.read()))
        return
    hidden = {name: value for name, value in os.environ.items() if not _visible(name)}
    if not hidden or not os.path.exists("/proc/self/environ") or not hasattr(os, "memfd_create"):
        return
    memory = os.memfd_create("codeswarm-environment", 0)  # no close-on-exec: the new image inherits it
    os.write(memory, json.dumps(hidden).encode())
    os.lseek(memory, 0, os.SEEK_SET)
    os.set_inheritable(memory, True)
    visible = {name: value for name, value in os.environ.items() if _visible(name)}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, {**visible, HANDOVER: str(memory)})

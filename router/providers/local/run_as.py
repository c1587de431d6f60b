"""Local node programs as another Unix user (CODESWARM_LOCAL_RUN_AS), when the router runs as root.

Run as the router's own user, an agent can read and write everything that user can: the router's
database and token file, and every other swarm's outbox.  Run as another user, an agent reaches only
what that user may: its node's files are made the user's (0700 directories, 0600 files), the
directories above them are the router's and only enterable (0711: nobody else can list them), and the
router's own files stay the router's (pid files, logs and the database are root's, 0600).  The router,
as root, still reads every outbox, appends to every inbox and signals every node.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENTER_ONLY = 0o711  # the router's directories on the way to a node's files: enterable, not listable
RUNNER_CHECK_TIMEOUT_S = 30.0


class RunAsError(ValueError):
    """The run-as setting cannot work here; the message says why and what to change."""


@dataclass(frozen=True)
class RunAs:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]  # the user's supplementary groups (the router's own are dropped)
    home: str

    @classmethod
    def of(cls, name: str) -> RunAs:
        """The user named by CODESWARM_LOCAL_RUN_AS; refused unless the router is root and the user
        exists and is not root."""
        where = f"CODESWARM_LOCAL_RUN_AS={name}"
        if os.geteuid() != 0:
            raise RunAsError(f"{where}: only a router running as root can start nodes as another user")
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise RunAsError(f"{where}: there is no such user on this host") from None
        if entry.pw_uid == 0:
            raise RunAsError(f"{where}: nodes run as root would reach everything; name an unprivileged user")
        groups = tuple(os.getgrouplist(name, entry.pw_gid))
        return cls(name, entry.pw_uid, entry.pw_gid, groups, entry.pw_dir)

    def popen_options(self) -> dict[str, Any]:
        """subprocess.Popen's arguments that start a process as this user, with only its own groups."""
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """The node's environment as this user's: its HOME and name, none of the router's TMPDIR."""
        clean = {key: value for key, value in env.items() if key != "TMPDIR"}
        return clean | {"HOME": self.home, "USER": self.name, "LOGNAME": self.name}

    def can(self, path: Path, wanted: int) -> bool:
        """True when the user has the wanted permission bits (a combination of 4, 2, 1) on path, by its
        owner, group and mode (POSIX ACLs are not looked at)."""
        info = path.stat()
        if info.st_uid == self.uid:
            shift = 6
        elif info.st_gid in self.groups:
            shift = 3
        else:
            shift = 0
        return (info.st_mode >> shift) & wanted == wanted

    def first_closed(self, path: Path) -> Path | None:
        """The first directory on path's way (from /) that the user cannot enter, or None."""
        for directory in [*reversed(path.parents), path]:
            if directory.is_dir() and not self.can(directory, 1):
                return directory
        return None

    def check_interpreter(self, python: str) -> None:
        """Refuse an interpreter the user cannot reach or run (e.g. one under root's 0700 /root)."""
        for path in dict.fromkeys((Path(python).absolute(), Path(python).resolve())):
            closed = self.first_closed(path.parent)
            if closed is not None:
                raise RunAsError(
                    f"CODESWARM_LOCAL_RUN_AS={self.name}: {self.name} cannot enter {closed}, so it cannot run the "
                    f"node interpreter {path}; set CODESWARM_LOCAL_PYTHON to a Python 3.11+ it can run "
                    "(e.g. /usr/bin/python3)"
                )
            if not path.is_file() or not self.can(path, 5):
                raise RunAsError(
                    f"CODESWARM_LOCAL_RUN_AS={self.name}: {self.name} cannot read and execute the node interpreter "
                    f"{path}; set CODESWARM_LOCAL_PYTHON to a Python 3.11+ it can run"
                )

    def check_base(self, base: Path) -> None:
        closed = self.first_closed(base)
        if closed is not None:
            raise RunAsError(
                f"CODESWARM_LOCAL_RUN_AS={self.name}: {self.name} cannot enter {closed}, on the way to the nodes' "
                f"files under {base}: let it pass (chmod o+x {closed}, or a group or ACL that lets it enter)"
            )

    def check_runs(self, python: str, program: Path, cwd: Path) -> None:
        """Start the node program as the user once (--help): the proof that nodes will start."""
        try:
            done = subprocess.run(
                [python, str(program), "--help"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                cwd=cwd,
                env=self.environment({"PATH": "/usr/local/bin:/usr/bin:/bin"}),
                timeout=RUNNER_CHECK_TIMEOUT_S,
                check=False,
                **self.popen_options(),
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise RunAsError(f"CODESWARM_LOCAL_RUN_AS={self.name}: cannot start {python} {program}: {exc}") from exc
        if done.returncode != 0:
            output = (done.stderr or done.stdout).decode(errors="replace").strip()[-500:]
            raise RunAsError(
                f"CODESWARM_LOCAL_RUN_AS={self.name}: `{python} {program} --help` as {self.name} exited with "
                f"{done.returncode}: {output}"
            )

    def give_directory(self, path: Path) -> None:
        """A directory of the user's own (0700), created when missing."""
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chown(path, self.uid, self.gid)
        path.chmod(0o700)

    def give_file(self, path: Path) -> None:
        """A file of the user's own (0600), created empty when missing."""
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        os.chown(path, self.uid, self.gid)
        path.chmod(0o600)


def enter_only(path: Path) -> None:
    """One of the router's directories on the way to a node's files (created when missing): 0711."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(ENTER_ONLY)

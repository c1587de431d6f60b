"""A Slurm cluster's settings (from its provider entry) and the launch fields a Slurm launch takes.

[[providers]]
id = "hpc"
backend = "slurm"
host = "login.hpc.example.org"
port = 22
user = "alice"
key_file = "~/.ssh/id_ed25519"
known_hosts = "~/.ssh/known_hosts"
accept_new_host_key = false       # true: trust the key seen on first contact (a changed key is refused)
base = "/shared/alice/codeswarm"  # on the shared filesystem: mailbox/, runs/, swarms/, bin/
python = "python3"                # the Python 3.11+ on the compute nodes
[providers.defaults]
partition = "debug"
time = "01:00:00"
[providers.presets.gpu]           # offered as provider "hpc:gpu"
partition = "gpu"
gres = "gpu:1"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.ssh.connection import SshTarget
from services.protocol.views import LaunchField

NAME = r"^[A-Za-z0-9_.-]{1,64}$"
MAX_CPUS_PER_TASK = 4096  # more than any node has today; sbatch refuses what the partition lacks
HOST = re.compile(r"^[A-Za-z0-9_.:-]{1,253}$")
USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
REMOTE_PATH = re.compile(r"^/[A-Za-z0-9_./+-]{0,1023}$")
PYTHON = re.compile(r"^[A-Za-z0-9_./+-]{1,256}$")

TIME = r"^(\d{1,4}-\d{1,2}(:\d{2}){0,2}|\d{1,6}(:\d{2}){0,2}|UNLIMITED|INFINITE)$"
CONSTRAINT = r"^[A-Za-z0-9_.&|,*:\[\]()-]{1,128}$"
GRES = r"^[A-Za-z0-9_.:,-]{1,128}$"
MEM = r"^\d{1,9}[KMGT]?$"
BEGIN = r"^(now(\+\d{1,6}(seconds|minutes|hours|days)?)?|\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?)$"


def _text(key: str, label: str, pattern: str = NAME, description: str | None = None) -> LaunchField:
    return LaunchField(key=key, label=label, type="string", pattern=pattern, description=description)


SLURM_FIELDS: tuple[LaunchField, ...] = (
    _text("partition", "Partition"),
    _text("time", "Time limit", TIME, "minutes, [D-]HH:MM:SS, or UNLIMITED"),
    _text("account", "Account"),
    _text("qos", "QOS"),
    _text("constraint", "Node features", CONSTRAINT, "a --constraint expression, e.g. 'a100&ib'"),
    _text("gres", "Generic resources", GRES),
    _text("mem", "Memory per node", MEM),
    LaunchField(key="cpus_per_task", label="CPUs per node", type="integer", minimum=1, maximum=MAX_CPUS_PER_TASK),
    _text("reservation", "Reservation"),
    _text("begin", "Start no earlier than", BEGIN, "now+1hour, 2030-01-31T12:00"),
    LaunchField(key="exclusive", label="Exclusive nodes", type="boolean", default=False),
)

# The sbatch option each launch field becomes: its key, spelt as sbatch spells it.
SBATCH_OPTIONS = {field.key: "--" + field.key.replace("_", "-") for field in SLURM_FIELDS}


class ClusterSettingsError(ValueError):
    pass


@dataclass(frozen=True)
class ClusterOptions:
    target: SshTarget
    base: str
    python: str
    command_timeout_s: float


# option → (required, default)
OPTIONS: dict[str, tuple[bool, Any]] = {
    "host": (True, None),
    "port": (False, 22),
    "user": (True, None),
    "key_file": (True, None),
    "known_hosts": (False, "~/.ssh/known_hosts"),
    "accept_new_host_key": (False, False),
    "base": (True, None),
    "python": (False, "python3"),
    "connect_timeout_s": (False, 10.0),
    "keepalive_s": (False, 15.0),
    "reconnect_max_s": (False, 30.0),
    "command_timeout_s": (False, 30.0),
}


def _checked(provider_id: str, key: str, value: Any, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ClusterSettingsError(f"provider {provider_id!r}: {key} = {value!r} must match {pattern.pattern}")
    return value


def _number(provider_id: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ClusterSettingsError(f"provider {provider_id!r}: {key} must be a positive number, not {value!r}")
    return float(value)


def cluster_options(provider_id: str, options: dict[str, Any]) -> ClusterOptions:
    """Check a slurm provider entry's own keys; unknown or missing ones are a clear error."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ClusterSettingsError(
            f"provider {provider_id!r}: unknown option(s) {', '.join(unknown)}; "
            f"valid slurm options: {', '.join(OPTIONS)} "
            "(and id, backend, label, max_nodes, runtimes, defaults, presets)"
        )
    missing = [key for key, (required, _) in OPTIONS.items() if required and key not in options]
    if missing:
        raise ClusterSettingsError(f"provider {provider_id!r}: missing option(s) {', '.join(missing)}")
    values = {key: options.get(key, default) for key, (_, default) in OPTIONS.items()}
    port = values["port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ClusterSettingsError(f"provider {provider_id!r}: port must be 1..65535, not {port!r}")
    if not isinstance(values["accept_new_host_key"], bool):
        raise ClusterSettingsError(f"provider {provider_id!r}: accept_new_host_key must be true or false")
    target = SshTarget(
        host=_checked(provider_id, "host", values["host"], HOST),
        port=port,
        user=_checked(provider_id, "user", values["user"], USER),
        key_file=Path(str(values["key_file"])).expanduser(),
        known_hosts=Path(str(values["known_hosts"])).expanduser(),
        accept_new_host_key=values["accept_new_host_key"],
        connect_timeout_s=_number(provider_id, "connect_timeout_s", values["connect_timeout_s"]),
        keepalive_s=_number(provider_id, "keepalive_s", values["keepalive_s"]),
        reconnect_max_s=_number(provider_id, "reconnect_max_s", values["reconnect_max_s"]),
    )
    return ClusterOptions(
        target=target,
        base=_checked(provider_id, "base", values["base"], REMOTE_PATH).rstrip("/") or "/",
        python=_checked(provider_id, "python", values["python"], PYTHON),
        command_timeout_s=_number(provider_id, "command_timeout_s", values["command_timeout_s"]),
    )

"""The node program's command line."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.node.arg_types import number_type, options_from

JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

DESCRIPTION = """\
Codeswarm node program: reads injections from <base>/mailbox/inbox/<job>_<NN>.jsonl, runs them with
an agent runtime in <base>/runs/<job>/node_<NN>/ and writes records to
<base>/mailbox/outbox/<job>_<NN>.jsonl.  Standard library only."""


@dataclass(frozen=True)
class NodeOptions:
    base: str
    job_id: str
    node_id: int
    runtime: str
    runtime_params: str  # JSON text of an object; checked at start-up (a bad value ends in an exit record)
    heartbeat_s: float
    system_prompt_file: str | None
    bundle_file: str | None
    secret_dir: str | None = None
    runtime_params_file: str | None = None  # instead of runtime_params: a JSON file (never on the command line)
    orphan_after_s: float = 600.0  # outbox gone or heartbeat unwritable this long: exit (nobody can reach us)
    nice: int = 0  # lower this program's CPU priority (and its agent's) by this much first (services/node/priority.py)


_positive_float = number_type(
    float,
    lambda value: value > 0 and value != float("inf"),
    "not a number: {text!r}",
    "must be a positive number, not {text!r}",
)
_nice = number_type(int, lambda value: 0 <= value <= 19, "not an integer: {text!r}", "must be 0 to 19, not {value}")
_node_id = number_type(int, lambda value: value >= 0, "not an integer: {text!r}", "must be 0 or more, not {value}")


def _job_id(text: str) -> str:
    if not JOB_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a job id (letters, digits, '.', '_', '-'; 128 at most)")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codeswarm-node", description=DESCRIPTION)
    parser.add_argument("--base", required=True, help="directory holding mailbox/ and runs/ (created if missing)")
    parser.add_argument("--job-id", required=True, type=_job_id, help="the job this node belongs to")
    parser.add_argument("--node-id", type=_node_id, help="this node's index (default: $SLURM_NODEID)")
    parser.add_argument("--runtime", default="mock", help="agent runtime: mock, shell or codex (default: mock)")
    params = parser.add_mutually_exclusive_group()
    params.add_argument(
        "--runtime-params", default="{}", help="JSON object of runtime parameters (ps shows it to every user)"
    )
    params.add_argument("--runtime-params-file", help="file holding the JSON object of runtime parameters")
    parser.add_argument("--heartbeat-s", type=_positive_float, default=2.0, help="heartbeat interval (default 2.0)")
    parser.add_argument(
        "--orphan-after-s",
        type=_positive_float,
        default=600.0,
        help="exit once the outbox was deleted, or no heartbeat could be written, for this long (default 600)",
    )
    parser.add_argument(
        "--nice",
        type=_nice,
        default=0,
        help="lower the CPU priority of this program and of everything its agent runs by this much, 0 to 19, "
        "so the services following it on a shared host stay responsive (default 0)",
    )
    parser.add_argument("--system-prompt-file", help="text file with the system prompt")
    parser.add_argument("--bundle-file", help="JSON object {relative path: text} written into the workspace first")
    parser.add_argument(
        "--secret-dir", help="directory holding secret_<NN>, this node's model key (read once, then removed)"
    )
    return parser


def parse_args(argv: Sequence[str] | None, environ: Mapping[str, str]) -> NodeOptions:
    """Parse the command line; exits with status 2 and a message on stderr when it is unusable."""
    parser = build_parser()
    args = parser.parse_args(argv)
    node_id = args.node_id
    if node_id is None:
        slurm_node_id = environ.get("SLURM_NODEID")
        if slurm_node_id is None:
            parser.error("no node id: pass --node-id or run under Slurm (SLURM_NODEID is not set)")
        try:
            node_id = _node_id(slurm_node_id.strip())
        except argparse.ArgumentTypeError as exc:
            parser.error(f"SLURM_NODEID is unusable: {exc}")
    return options_from(args, NodeOptions, node_id=node_id)

"""Argument parsing and dispatch of the `codeswarm` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from codeswarm.cli import commands
from codeswarm.cli.http import ApiClient, CliError
from services.node.arg_types import number_type, options_from

if TYPE_CHECKING:
    from services.settings import Settings

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


# -- argument types (argparse turns their ValueError/ArgumentTypeError into a usage error, exit 2) ------


positive_int = number_type(
    int, lambda value: value >= 1, "expected a whole number, got {text!r}", "must be at least 1, got {value}"
)
node_index = number_type(
    int,
    lambda value: value >= 0,
    "expected a node index (0, 1, ...), got {text!r}",
    "node indexes start at 0, got {value}",
)
positive_seconds = number_type(
    float, lambda value: value > 0, "expected seconds, got {text!r}", "must be more than 0 seconds, got {text}"
)


def assignment(text: str) -> tuple[str, Any]:
    try:
        return commands.parse_assignment(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def node_selector(text: str) -> str | int | list[int]:
    try:
        return commands.parse_nodes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def entry_id(text: str) -> str:
    ms, sep, seq = text.partition("-")
    if not sep or not ms.isdigit() or not seq.isdigit():
        raise argparse.ArgumentTypeError(f"expected an event id like 1732464000000-0 (or 0-0 for all), got {text!r}")
    return text


# -- the parser ------------------------------------------------------------------------------------


def _connection_options(parser: argparse.ArgumentParser, default: Any) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--router", metavar="URL", default=default, help="router URL (default: CODESWARM_ROUTER_URL or from host/port)"
    )
    group.add_argument(
        "--mirror", metavar="URL", default=default, help="mirror URL (default: CODESWARM_MIRROR_URL or from host/port)"
    )
    group.add_argument(
        "--token",
        metavar="TOKEN",
        default=default,
        help="API token sent as a Bearer token (default: CODESWARM_API_TOKEN, which other users cannot see in ps, "
        "else the api-token file under CODESWARM_HOME)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codeswarm",
        description="Launch swarms of agent workers, send them prompts, and watch every node's turns live.",
        epilog="Start with `codeswarm up`, then in another terminal: `codeswarm launch --nodes 4`, "
        "`codeswarm inject <swarm> all 'hello'`, `codeswarm watch`.",
    )
    _connection_options(parser, None)
    # The same options after the command name; SUPPRESS keeps them from overwriting values given before it.
    common = argparse.ArgumentParser(add_help=False)
    _connection_options(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser(
        "up",
        parents=[common],
        help="run router, mirror and web in this process (SQLite, in-process bus)",
        description="The embedded mode: every built service in one process and one event loop, sharing an "
        "in-process event bus; state in SQLite under CODESWARM_HOME unless CODESWARM_DATABASE_URL is set. "
        "Ctrl-C stops it.",
    )
    up.add_argument("--no-mirror", action="store_true", help="do not start the mirror")
    up.add_argument("--no-web", action="store_true", help="do not start the web UI")
    up.add_argument(
        "--log-level", default="warning", choices=["debug", "info", "warning", "error"], help="default: warning"
    )

    launch = sub.add_parser("launch", parents=[common], help="launch a swarm and wait until its nodes are ready")
    launch.add_argument("--nodes", type=positive_int, required=True, metavar="N", help="how many nodes")
    launch.add_argument("--provider", metavar="P", help="provider id (codeswarm providers); default: the first")
    launch.add_argument("--runtime", metavar="R", help="agent runtime: mock, shell, codex, ...")
    launch.add_argument("--alias", metavar="A", help="a name to recognise the swarm by")
    launch.add_argument("--system-prompt", metavar="TEXT", help="system prompt given to every node's agent")
    key_values: dict[str, Any] = {"type": assignment, "action": "append", "metavar": "KEY=VALUE"}
    about_param = "a provider launch field (repeatable); VALUE is read as JSON when it parses, else as text"
    launch.add_argument("--param", dest="params", default=[], help=about_param, **key_values)
    about_runtime_param = "a runtime parameter, e.g. tokens=40 or delay_ms=5 for mock (repeatable)"
    launch.add_argument("--runtime-param", dest="runtime_params", default=[], help=about_runtime_param, **key_values)
    launch.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait until the swarm runs with every node ready (default: wait)",
    )
    launch.add_argument(
        "--timeout", type=positive_seconds, default=60.0, metavar="SECONDS", help="how long to wait (default: 60)"
    )
    launch.add_argument("-q", "--quiet", action="store_true", help="no progress; print only the swarm id")

    listing = sub.add_parser("list", parents=[common], help="list swarms")
    listing.add_argument("--json", action="store_true", help="print the router's JSON answer")

    inject = sub.add_parser("inject", parents=[common], help="send a prompt to one, some or all nodes")
    inject.add_argument("swarm", help="swarm id")
    inject.add_argument("nodes", type=node_selector, help="'all', a node index, or indexes like 0,2,3")
    inject.add_argument("content", help="the prompt ('-' reads it from standard input)")
    inject.add_argument("--steer", action="store_true", help="steer the running turn instead of queueing")

    interrupt = sub.add_parser("interrupt", parents=[common], help="end the running turn of one, some or all nodes")
    interrupt.add_argument("swarm", help="swarm id")
    interrupt.add_argument("nodes", type=node_selector, help="'all', a node index, or indexes like 0,2,3")

    pending = sub.add_parser("approvals", parents=[common], help="list the approvals a swarm's agents wait for")
    pending.add_argument("swarm", help="swarm id")
    pending.add_argument("--json", action="store_true", help="print the router's JSON answer")

    approve = sub.add_parser("approve", parents=[common], help="answer an agent's approval request")
    approve.add_argument("swarm", help="swarm id")
    approve.add_argument("node", type=node_index, help="the node that asked")
    approve.add_argument("call", help="the call id (codeswarm approvals <swarm>)")
    approve.add_argument(
        "decision", nargs="?", default="accept", help="accept (default), acceptForSession, decline or cancel"
    )

    terminate = sub.add_parser("terminate", parents=[common], help="terminate a swarm")
    terminate.add_argument("swarm", help="swarm id")
    terminate.add_argument(
        "--download-workspaces", action="store_true", help="archive the node workspaces for download first"
    )

    prov = sub.add_parser("providers", parents=[common], help="list providers and their launch fields")
    prov.add_argument("--json", action="store_true", help="print the router's JSON answer")

    watch = sub.add_parser(
        "watch",
        parents=[common],
        help="follow events live (from the mirror)",
        description="Follow the mirror's event stream, one line per event; reconnects and resumes by itself.",
    )
    watch.add_argument("swarm", nargs="?", help="only this swarm (default: every swarm)")
    watch.add_argument("--node", type=node_index, metavar="N", help="only this node of the swarm")
    watch.add_argument(
        "--from", dest="from_id", type=entry_id, metavar="ID", help="replay from after this event id (0-0: all kept)"
    )
    watch.add_argument("--raw", action="store_true", help="print the JSON envelopes as they arrive")
    return parser


# -- dispatch ----------------------------------------------------------------------------------------


def _resolve_connection(args: argparse.Namespace) -> None:
    """Fill --router/--mirror/--token from settings (CODESWARM_* variables) where not given."""
    if args.router and args.mirror and args.token is not None:
        return
    from pydantic import ValidationError

    from services.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        raise CliError(f"invalid CODESWARM_* setting: {' '.join(str(exc).split())}") from None
    args.router = args.router or settings.effective_router_url
    args.mirror = args.mirror or settings.effective_mirror_url
    if args.token is None:
        args.token = settings.api_token or _token_from_file(settings)


def _token_from_file(settings: Settings) -> str | None:
    """The token `codeswarm up` or a service stored under CODESWARM_HOME (None: no such file)."""
    from services.token_file import AuthSetupError, read_token_file, token_path

    if settings.insecure_no_auth:
        return None
    try:
        return read_token_file(token_path(settings))
    except AuthSetupError as exc:
        raise CliError(f"{exc} (or pass --token / set CODESWARM_API_TOKEN)") from None


def _run(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    if args.command == "up":
        from codeswarm.embedded import run_from_cli
        from services.private_environ import hide_environment

        hide_environment()  # the agents it starts must not read its settings in /proc/<pid>/environ
        return run_from_cli(mirror=not args.no_mirror, web=not args.no_web, log_level=args.log_level)
    _resolve_connection(args)
    if args.command == "watch":
        return _watch(args)
    with ApiClient(args.router, args.token, service="router") as client:
        if args.command == "launch":
            options = options_from(
                args,
                commands.LaunchOptions,
                provider_params=dict(args.params),
                runtime_params=dict(args.runtime_params),
                timeout_s=args.timeout,
            )
            commands.launch(client, options, out, err)
        elif args.command == "list":
            commands.list_swarms(client, out, args.json)
        elif args.command == "inject":
            commands.inject(client, args.swarm, args.nodes, args.content, args.steer, out)
        elif args.command == "terminate":
            commands.terminate(client, args.swarm, args.download_workspaces, out)
        elif args.command == "interrupt":
            commands.interrupt(client, args.swarm, args.nodes, out)
        elif args.command == "approvals":
            commands.approvals(client, args.swarm, out, args.json)
        elif args.command == "approve":
            commands.approve(client, args.swarm, args.node, args.call, args.decision, out)
        elif args.command == "providers":
            commands.providers(client, out, args.json)
        else:  # pragma: no cover - argparse refuses unknown commands
            raise CliError(f"unknown command {args.command!r}")
    return 0


def _watch(args: argparse.Namespace) -> int:
    from codeswarm.cli.watch import Watcher, WatchOptions

    if args.node is not None and not args.swarm:
        raise CliError("--node needs a swarm: codeswarm watch <swarm> --node N")
    options = options_from(args, WatchOptions, mirror_url=args.mirror, swarm_id=args.swarm, node_id=args.node)
    watcher = Watcher(options, sys.stdout, sys.stderr)
    try:
        watcher.run()
    finally:
        watcher.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except CliError as exc:
        sys.stdout.flush()
        print(f"codeswarm: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED

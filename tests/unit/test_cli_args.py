"""`codeswarm` arguments, request bodies, one-line errors and the launch wait (against scripted HTTP answers)."""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from codeswarm.cli import build_parser, commands, main
from codeswarm.cli import entry as cli_main
from codeswarm.cli.commands import LaunchOptions, Progress, launch, parse_assignment, parse_nodes, wait_until_ready
from codeswarm.cli.http import ApiClient, CliError, format_detail

SW = "sw-00000000abcd"
ROUTER = "http://router.test:8765"
CONNECTION = ["--router", ROUTER, "--mirror", "http://mirror.test:8766", "--token", ""]


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err


# -- argument validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["launch", "--nodes", "0"], "must be at least 1"),
        (["launch", "--nodes", "four"], "expected a whole number"),
        (["launch"], "--nodes"),
        (["launch", "--nodes", "2", "--timeout", "0"], "more than 0 seconds"),
        (["launch", "--nodes", "2", "--param", "partition"], "expected key=value"),
        (["inject", SW, "1,x", "hello"], "expected 'all', a node index"),
        (["inject", SW, "-1", "hello"], "expected 'all', a node index"),
        (["inject", SW, "all"], "content"),
        (["watch", "--from", "yesterday"], "expected an event id"),
        (["watch", SW, "--node", "-2"], "node indexes start at 0"),
        (["frobnicate"], "invalid choice"),
        ([], "COMMAND"),
    ],
)
def test_bad_arguments_are_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert message in usage_error(argv, capsys)


def test_connection_options_work_before_and_after_the_command() -> None:
    before = build_parser().parse_args(["--router", "http://a:1", "list"])
    after = build_parser().parse_args(["list", "--router", "http://b:2", "--token", "t"])
    assert (before.router, before.mirror, before.token) == ("http://a:1", None, None)
    assert (after.router, after.token) == ("http://b:2", "t")


def test_launch_defaults() -> None:
    args = build_parser().parse_args(["launch", "--nodes", "4"])
    assert (args.wait, args.timeout, args.quiet, args.params, args.runtime_params) == (True, 60.0, False, [], [])
    assert build_parser().parse_args(["launch", "--nodes", "4", "--no-wait"]).wait is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [("all", "all"), ("ALL", "all"), ("3", 3), ("0,2,3", [0, 2, 3]), (" 1 , 2 ", [1, 2]), ("5,", None), ("", None)],
)
def test_node_selectors(text: str, expected: Any) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            parse_nodes(text)
    else:
        assert parse_nodes(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tokens=40", ("tokens", 40)),
        ("partition=gpu", ("partition", "gpu")),
        ("exclusive=true", ("exclusive", True)),
        ("ids=[1, 2]", ("ids", [1, 2])),
        ("account=007", ("account", "007")),
        ("query=a=b", ("query", "a=b")),
        ("empty=", ("empty", "")),
    ],
)
def test_key_value_parameters_read_json_when_they_can(text: str, expected: tuple[str, Any]) -> None:
    assert parse_assignment(text) == expected


def test_launch_body_carries_only_what_was_given() -> None:
    options = LaunchOptions(nodes=3, runtime="mock", runtime_params={"tokens": 8}, provider_params={"time": "1:00"})
    assert options.body() == {
        "nodes": 3,
        "runtime": "mock",
        "provider_params": {"time": "1:00"},
        "runtime_params": {"tokens": 8},
    }
    assert LaunchOptions(nodes=1).body() == {"nodes": 1}


# -- errors ------------------------------------------------------------------------------------------


def test_validation_details_become_field_messages() -> None:
    detail = [
        {"loc": ["body", "nodes"], "msg": "node 9 is out of range: swarm sw-1 has nodes 0..3", "type": "value_error"},
        {"loc": ["body", "content"], "msg": "String should have at least 1 character", "type": "string_too_short"},
    ]
    assert format_detail(detail) == (
        "nodes: node 9 is out of range: swarm sw-1 has nodes 0..3; content: String should have at least 1 character"
    )
    assert format_detail("no swarm 'x'\n(unknown)") == "no swarm 'x' (unknown)"
    assert format_detail({"reason": "busy"}) == '{"reason": "busy"}'


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> ApiClient:
    return ApiClient(ROUTER, "tok", transport=httpx.MockTransport(handler))


def test_http_errors_are_one_line_with_the_servers_detail() -> None:
    client = client_for(lambda r: httpx.Response(404, json={"detail": f"no swarm '{SW}' (unknown or removed)"}))
    with pytest.raises(CliError) as caught:
        client.get(f"/v1/swarms/{SW}")
    assert str(caught.value) == f"no swarm '{SW}' (unknown or removed) (HTTP 404 from GET /v1/swarms/{SW})"
    assert caught.value.status == 404


def test_a_non_json_error_page_is_still_one_line() -> None:
    client = client_for(lambda r: httpx.Response(502, text="<html>\n<b>Bad gateway</b>\n</html>"))
    with pytest.raises(CliError, match=r"^<html> <b>Bad gateway</b> </html> \(HTTP 502 from GET /v1/swarms\)$"):
        client.get("/v1/swarms")


def test_an_unreachable_router_names_its_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    with pytest.raises(CliError, match=r"cannot reach the router at http://router\.test:8765: .*refused.*codeswarm up"):
        client_for(refuse).get("/v1/swarms")


def test_main_prints_the_error_and_exits_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    detail = [{"loc": ["body", "nodes"], "msg": "node 7 is out of range: swarm has nodes 0..1", "type": "value_error"}]
    transport = httpx.MockTransport(lambda r: httpx.Response(422, json={"detail": detail}))
    monkeypatch.setattr(cli_main, "ApiClient", functools.partial(ApiClient, transport=transport))
    assert main([*CONNECTION, "inject", SW, "7", "hello"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "codeswarm: error: nodes: node 7 is out of range: swarm has nodes 0..1 "
        f"(HTTP 422 from POST /v1/swarms/{SW}/inject)\n"
    )


def test_watch_node_needs_a_swarm(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*CONNECTION, "watch", "--node", "1"]) == 1
    assert "--node needs a swarm" in capsys.readouterr().err


# -- launch and the wait for nodes --------------------------------------------------------------------


def swarm(status: str, ready: int, total: int = 2, reason: str | None = None) -> dict[str, Any]:
    nodes = [{"node_id": i, "status": "idle" if i < ready else "starting"} for i in range(total)]
    return {
        "swarm_id": SW,
        "job_id": f"local-{SW}",
        "provider": "local",
        "runtime": "mock",
        "node_count": total,
        "status": status,
        "reason": reason,
        "nodes": nodes,
    }


class Router:
    """Accepts the launch, then answers GET /v1/swarms/{id} with the scripted states in turn."""

    def __init__(self, *states: dict[str, Any] | int, launch_failures: int = 0) -> None:
        self.states = list(states)
        self.launch_failures = launch_failures
        self.launches: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.launches.append(request)
            if self.launch_failures:
                self.launch_failures -= 1
                raise httpx.ReadTimeout("timed out")
            return httpx.Response(202, json={"request_id": "rq-1", "swarm_id": SW, "status": "launching"})
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        if isinstance(state, int):
            return httpx.Response(state, json={"detail": "no swarm"})
        return httpx.Response(200, json=state)


def run_launch(router: Router, **options: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    launch(client_for(router), LaunchOptions(**{"nodes": 2, **options}), out, err)
    return out.getvalue(), err.getvalue()


def test_launch_waits_showing_progress_then_prints_the_swarm() -> None:
    router = Router(swarm("launching", 0), swarm("running", 1), swarm("running", 2))
    out, err = run_launch(router)
    assert out == f"{SW} running: 2 nodes ready (job local-{SW}, local/mock)\n"
    assert err.splitlines() == [
        f"{SW}: launching 2 nodes…",
        f"{SW}: launching, 0/2 nodes ready…",
        f"{SW}: running, 1/2 nodes ready…",
        f"{SW}: running, 2/2 nodes ready",
    ]


def test_quiet_launch_prints_only_the_swarm_id() -> None:
    out, err = run_launch(Router(swarm("running", 2)), quiet=True)
    assert (out, err) == (f"{SW}\n", "")


def test_no_wait_returns_after_the_launch_is_accepted() -> None:
    router = Router(swarm("launching", 0))
    out, _ = run_launch(router, wait=False, quiet=True)
    assert out == f"{SW}\n"
    assert router.states == [swarm("launching", 0)]


def test_a_launch_retried_after_a_timeout_keeps_its_idempotency_key() -> None:
    router = Router(swarm("running", 2), launch_failures=1)
    run_launch(router, quiet=True)
    keys = [r.headers["idempotency-key"] for r in router.launches]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert json.loads(router.launches[0].content) == {"nodes": 2}


def test_a_swarm_that_fails_while_starting_is_an_error_with_its_reason() -> None:
    router = Router(swarm("launching", 0), swarm("failed", 0, reason="every node program exited"))
    with pytest.raises(CliError, match=f"swarm {SW} is failed before all nodes were ready: every node program exited"):
        run_launch(router)


def test_a_rejected_launch_is_reported() -> None:
    with pytest.raises(CliError, match=f"launch of {SW} was rejected"):
        run_launch(Router(swarm("launching", 0), 404))


def test_the_wait_has_a_deadline() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    client = client_for(Router(swarm("pending", 1)))
    with pytest.raises(CliError, match=r"timed out after 5 s waiting for .*pending, 1/2 nodes ready"):
        wait_until_ready(client, SW, 5.0, Progress(io.StringIO(), enabled=False), clock=lambda: now[0], sleep=sleep)
    assert 5.0 <= now[0] < 5.5


# -- rendering of answers ----------------------------------------------------------------------------


def test_providers_show_each_runtimes_fields() -> None:
    fields = [
        {"key": "model", "label": "the model", "type": "string", "required": True},
        {"key": "sandbox", "label": "what commands may touch", "type": "choice", "options": ["read-only", "x"]},
    ]
    answer = {
        "providers": [
            {
                "id": "local",
                "label": "This machine",
                "backend": "local",
                "max_nodes": 8,
                "runtimes": ["mock", "codex"],
                "runtime_fields": {"mock": [], "codex": fields},
            }
        ]
    }
    out = io.StringIO()
    commands.providers(client_for(lambda r: httpx.Response(200, json=answer)), out, as_json=False)
    lines = out.getvalue().splitlines()
    assert lines[2:4] == [
        "  launch fields: none",
        "  codex fields (codeswarm launch --runtime codex --runtime-param KEY=VALUE):",
    ]
    assert lines[5].split()[:3] == ["model", "string", "required"]
    assert lines[6].split()[:2] == ["sandbox", "choice:"] and "mock fields" not in out.getvalue()


def test_providers_show_their_launch_fields() -> None:
    answer = {
        "providers": [
            {
                "id": "hpc",
                "label": "The cluster",
                "backend": "slurm",
                "max_nodes": 128,
                "runtimes": ["codex", "mock"],
                "defaults": {},
                "launch_fields": [
                    {"key": "partition", "label": "Partition", "type": "choice", "options": ["gpu", "cpu"]},
                    {"key": "time", "label": "Time limit", "type": "string", "default": "01:00:00"},
                    {"key": "account", "label": "Account", "type": "string", "required": True},
                ],
            },
            {"id": "local", "label": "This machine", "backend": "local", "max_nodes": 64, "runtimes": ["mock"]},
        ]
    }
    out = io.StringIO()
    commands.providers(client_for(lambda r: httpx.Response(200, json=answer)), out, as_json=False)
    lines = out.getvalue().splitlines()
    assert lines[0] == "hpc  The cluster  (backend slurm, up to 128 nodes)"
    assert lines[1] == "  runtimes: codex, mock"
    assert lines[2] == "  launch fields (codeswarm launch --param KEY=VALUE):"
    rows = [line.split() for line in lines[4:7]]
    assert rows[0][:2] == ["partition", "choice:"] and rows[0][2:5] == ["gpu|cpu", "no", "default"]
    assert rows[1][:4] == ["time", "string", "default", '"01:00:00"']
    assert rows[2][:3] == ["account", "string", "required"]
    assert lines[-4:] == [
        "",
        "local  This machine  (backend local, up to 64 nodes)",
        "  runtimes: mock",
        "  launch fields: none",
    ]


def test_inject_reads_the_prompt_from_stdin_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    bodies: list[Any] = []

    def router(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(202, json={"request_id": "rq-1", "injections": [{"node_id": 0, "injection_id": "in-1"}]})

    monkeypatch.setattr("sys.stdin", io.StringIO("a prompt\n$ ls\n"))
    out = io.StringIO()
    commands.inject(client_for(router), SW, [0], "-", True, out)
    assert bodies == [{"nodes": [0], "content": "a prompt\n$ ls\n", "mode": "steer"}]
    assert out.getvalue() == f"injected into {SW} (steer): n0 in-1\n"

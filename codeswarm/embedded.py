"""The embedded mode (`codeswarm up`, `make run`): router, mirror and web in one process.

One asyncio loop runs one uvicorn server per service; router and mirror share one in-process event bus
(``MemoryEventBus``) instead of Redis, and the router keeps its state in SQLite under
``CODESWARM_HOME`` unless ``CODESWARM_DATABASE_URL`` names another database.  The code paths are the
deployment's: only the bus and the database URL differ.

Every listening socket is bound before any service starts, so a port already in use is reported at once
and port 0 (any free port, for tests) works: the settings handed to the services carry the real ports.
Services start in order (router, mirror, web), each once the one before it is serving, and stop in
reverse order.  The mirror and web join when their packages exist (``mirror/app.py``, ``web/app.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from sqlalchemy.engine import make_url

from services.bus.memory_bus import MemoryEventBus
from services.exposure import exposure_error
from services.logs import configure_logging
from services.settings import Settings
from services.token_file import AuthSetupError, token_path, with_token

log = logging.getLogger("codeswarm.embedded")

# (name, module with create_app, whether create_app takes the shared bus)
SERVICES: tuple[tuple[str, str, bool], ...] = (
    ("router", "router.app", True),
    ("mirror", "mirror.app", True),
    ("web", "web.app", False),
)
GRACEFUL_SHUTDOWN_S = 3
SSE_WATCHER = "_shutdown_watcher"  # sse-starlette's per-loop task that ends streams at shutdown
SSE_WATCHER_POLL_S = 0.5


class EmbeddedError(Exception):
    """The embedded mode cannot start or a service stopped on its own."""


def embedded_settings(base: Settings | None = None) -> Settings:
    """The settings of the embedded mode: the in-process bus, always.  The database stays the one the
    user configured (CODESWARM_DATABASE_URL), which by default is SQLite under the home directory."""
    base = base or Settings()
    return base.model_copy(update={"bus": "memory"})


def secured_settings(settings: Settings) -> Settings:
    """``settings`` with the token of this start (services/token_file.py), or EmbeddedError saying why
    the auth settings cannot be used."""
    try:
        return with_token(settings)
    except AuthSetupError as exc:
        raise EmbeddedError(str(exc)) from None


def bind(name: str, host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise EmbeddedError(f"cannot listen on {host}:{port} for the {name}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise EmbeddedError(
            f"cannot listen on {host}:{port} for the {name}: {exc.strerror} "
            f"(another `codeswarm up`? set CODESWARM_{name.upper()}_PORT)"
        ) from None
    return sock


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the embedding and reports when it is serving."""

    def __init__(self, name: str, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.name = name
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # one process, several servers: run() owns SIGINT/SIGTERM

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        except SystemExit:  # uvicorn exits the process when an app's start-up fails; here it is one service
            raise EmbeddedError(f"the {self.name} did not start (its error is logged above)") from None
        self.ready.set()


@dataclass
class Started:
    """What is running, for the start-up announcement."""

    settings: Settings
    urls: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _make_app(module: str, takes_bus: bool, settings: Settings, bus: MemoryEventBus) -> Any:
    create_app = importlib.import_module(module).create_app
    return create_app(settings, bus=bus) if takes_bus else create_app(settings)


async def _first(*aws: asyncio.Future[Any]) -> None:
    await asyncio.wait(aws, return_when=asyncio.FIRST_COMPLETED)


async def serve(
    settings: Settings | None = None,
    *,
    mirror: bool = True,
    web: bool = True,
    log_level: str = "warning",
    stop: asyncio.Event | None = None,
    on_started: Callable[[Started], None] | None = None,
) -> None:
    """Run the embedded services until ``stop`` is set; EmbeddedError if one cannot start or dies."""
    settings = secured_settings(embedded_settings(settings))
    stop = stop or asyncio.Event()
    wanted = {"router": True, "mirror": mirror, "web": web}
    started = Started(settings)
    plan: list[tuple[str, str, bool]] = []
    for name, module, takes_bus in SERVICES:
        if not wanted[name]:
            started.skipped[name] = "disabled"
        else:
            plan.append((name, module, takes_bus))

    sockets: dict[str, socket.socket] = {}
    try:
        for name, _, _ in plan:
            host, port = getattr(settings, f"{name}_host"), getattr(settings, f"{name}_port")
            sockets[name] = bind(name, host, port)
        # the real ports (port 0 = any free one) go into the settings every service is given
        ports = {f"{name}_port": sock.getsockname()[1] for name, sock in sockets.items()}
        settings = settings.model_copy(update=ports)
        started.settings = settings
        settings.home.mkdir(parents=True, exist_ok=True)
        bus = MemoryEventBus(settings.stream_maxlen, max_bytes=settings.stream_max_bytes)
        servers: list[tuple[EmbeddedServer, asyncio.Task[None]]] = []
        try:
            for name, module, takes_bus in plan:
                app = _make_app(module, takes_bus, settings, bus)
                config = uvicorn.Config(
                    app,
                    log_level=log_level,
                    log_config=None,  # uvicorn's loggers go through the one set-up (services/logs.py)
                    access_log=log_level in ("debug", "info"),
                    timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
                    lifespan="on",
                    proxy_headers=False,  # X-Forwarded-* only from CODESWARM_TRUSTED_PROXIES (services/sessions.py)
                )
                server = EmbeddedServer(name, config)
                task = asyncio.create_task(server.serve(sockets=[sockets[name]]), name=f"serve-{name}")
                servers.append((server, task))
                ready = asyncio.ensure_future(server.ready.wait())
                stopping = asyncio.ensure_future(stop.wait())
                await _first(ready, task, stopping)
                ready.cancel()
                stopping.cancel()
                if task.done():
                    task.result()  # raises the start-up failure
                    raise EmbeddedError(f"the {name} stopped while starting")
                if stop.is_set():
                    return
                started.urls[name] = _url(getattr(settings, f"{name}_host"), getattr(settings, f"{name}_port"))
            if on_started is not None:
                on_started(started)
            stopping = asyncio.ensure_future(stop.wait())
            await _first(stopping, *(task for _, task in servers))
            stopping.cancel()
            for server, task in servers:
                if task.done() and not stop.is_set():
                    task.result()
                    raise EmbeddedError(f"the {server.name} stopped on its own")
        finally:
            await _shutdown(servers)
            await bus.close()
    finally:
        for sock in sockets.values():
            sock.close()


async def _shutdown(servers: list[tuple[EmbeddedServer, asyncio.Task[None]]]) -> None:
    """Stop the servers in reverse start order, each after the one that depends on it."""
    _drain_sse_streams(True)
    try:
        for server, task in reversed(servers):
            server.should_exit = True
            try:
                await task
            except Exception as exc:  # already reported, or reported now; the others still stop
                if not isinstance(exc, EmbeddedError):
                    log.error("the %s failed while stopping: %s", server.name, exc)
        watchers = [t for t in asyncio.all_tasks() if getattr(t.get_coro(), "__name__", "") == SSE_WATCHER]
        if watchers:
            await asyncio.wait(watchers, timeout=SSE_WATCHER_POLL_S * 2)
    finally:
        _drain_sse_streams(False)


def _drain_sse_streams(stopping: bool) -> None:
    """sse-starlette ends its open streams at shutdown once it learns the server is stopping, which it
    learns from uvicorn's signal handler.  Embedded servers leave signals to ``run_from_cli``, so tell it
    directly (and take it back afterwards: the flag is process-wide, and a later server must not see it)."""
    module = sys.modules.get("sse_starlette.sse")
    status = getattr(module, "AppStatus", None)
    if status is not None:
        status.should_exit = stopping


# -- `codeswarm up` --------------------------------------------------------------------------------


def login_url(web_url: str, token: str) -> str:
    """The web UI's address with the token in its fragment: a browser never sends a fragment to a
    server, and the page swaps it for a session cookie and drops it from the address bar."""
    return f"{web_url}/#token={token}" if token else web_url


def announce(started: Started, out: Any = None) -> None:
    out = out or sys.stdout
    settings = started.settings
    width = max(len(name) for name in (*started.urls, *started.skipped, "state", "token"))
    out.write("codeswarm up: embedded mode (one process, in-process event bus)\n")
    for name, url in started.urls.items():
        if name == "web":
            out.write(f"  {name.ljust(width)}  {login_url(url, settings.api_token)}  ← open this in a browser\n")
        else:
            out.write(f"  {name.ljust(width)}  {url}\n")
    if settings.insecure_no_auth:
        out.write(f"  {'token'.ljust(width)}  NONE: CODESWARM_INSECURE_NO_AUTH is set, any local user can launch\n")
    else:
        where = f"CODESWARM_API_TOKEN, else {token_path(settings)}"
        out.write(f"  {'token'.ljust(width)}  {where} (the CLI reads it from there too)\n")
    for name, why in started.skipped.items():
        out.write(f"  {name.ljust(width)}  skipped: {why}\n")
    database = make_url(settings.effective_database_url).render_as_string(hide_password=True)
    out.write(f"  {'state'.ljust(width)}  {database}\n")
    out.write(
        "In another terminal: codeswarm launch --nodes 4; codeswarm inject <swarm> all 'hello'; codeswarm watch\n"
    )
    out.write("Ctrl-C stops every service.\n")
    out.flush()


def _check_exposure(settings: Settings, services: list[str]) -> None:
    for name in services:
        refused = exposure_error(settings, name)
        if refused:
            raise EmbeddedError(refused)


def run_from_cli(*, mirror: bool = True, web: bool = True, log_level: str = "warning") -> int:
    """Run the embedded mode in the foreground until SIGINT or SIGTERM; the CLI's exit code."""
    configure_logging(log_level)
    settings = embedded_settings()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)

        def on_signal() -> None:
            # the first signal stops gracefully; the handlers go, so a second Ctrl-C interrupts at once
            stop.set()
            for signum in signals:
                loop.remove_signal_handler(signum)
            print("codeswarm up: stopping (Ctrl-C again to force)", file=sys.stderr, flush=True)

        if threading.current_thread() is threading.main_thread():
            for signum in signals:
                loop.add_signal_handler(signum, on_signal)
        await serve(settings, mirror=mirror, web=web, log_level=log_level, stop=stop, on_started=announce)

    try:
        _check_exposure(settings, ["router", "mirror", "web"])
        asyncio.run(main())
    except EmbeddedError as exc:
        print(f"codeswarm up: error: {exc}", file=sys.stderr)
        return 1
    from codeswarm.still_running import still_running_note  # the router's store: only once it ran

    note = still_running_note(settings)
    if note is not None:
        print(note, file=sys.stderr, flush=True)
    print("codeswarm up: stopped", flush=True)
    return 0

"""One settings class for every Codeswarm service; values come from CODESWARM_* environment variables.

The embedded default (``make run``): SQLite, the in-process bus, the local provider, mock agents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODESWARM_", extra="ignore")

    # where state lives
    home: Path = Field(Path(".codeswarm"), description="Base directory for local state (SQLite, runs, archives).")
    database_url: str = Field("", description="SQLAlchemy async URL; empty = SQLite under home.")
    bus: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = Field("codeswarm:", description="Key prefix for every Redis key this install uses.")
    stream_maxlen: int = Field(200_000, ge=1000, description="Bound of the event stream, in entries.")
    stream_max_bytes: int = Field(
        128 << 20, ge=1 << 20, description="Bound of the event stream, in bytes of its entries (the newest stays)."
    )

    # network
    router_host: str = "127.0.0.1"
    router_port: int = 8765
    mirror_host: str = "127.0.0.1"
    mirror_port: int = 8766
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    router_url: str = Field("", description="How the mirror and CLI reach the router; empty = from host/port.")
    mirror_url: str = Field("", description="How the web app and CLI reach the mirror; empty = from host/port.")
    web_origin: str = Field("", description="The browser origin allowed by CORS; empty = from web host/port.")
    api_token: str = Field(
        "",
        description="Every route but /healthz needs 'Authorization: Bearer <token>'; empty = the token file "
        "under home (created on first start).",
    )
    max_body_bytes: int = Field(1_048_576, description="Larger request bodies are refused with 413.")

    # auth and the door (README "Security")
    insecure_no_auth: bool = Field(
        False,
        description="Run without any auth (loopback addresses only; refused with a token set). Never on a shared host.",
    )
    allowed_hosts: str = Field(
        "", description="Comma-separated Host names (besides loopback) the services answer; others get 421."
    )
    trusted_proxies: str = Field(
        "", description="Comma-separated proxy addresses whose X-Forwarded-Proto is believed (for Secure cookies)."
    )
    session_ttl_s: float = Field(43_200.0, gt=0, description="How long a browser session cookie stays valid.")
    max_sessions: int = Field(1000, ge=1, description="Browser sessions kept per mirror; the oldest go first.")

    # providers
    providers_file: Path | None = Field(None, description="TOML file with provider entries; default: local only.")
    local_run_as: str = Field(
        "",
        description="Run local node programs (and so their agents) as this Unix user, not the router's; the "
        "router must run as root (README 'Security').  Empty = as the router's own user.",
    )
    local_node_nice: int = Field(
        19,
        ge=0,
        le=19,
        description="Local node programs and everything their agents run get this much lower CPU priority "
        "(nice, and their session's nice where the kernel groups sessions), so the router, mirror and web "
        "stay responsive however many nodes are busy on this host; 0 = the router's own priority.",
    )
    local_python: str = Field(
        "",
        description="The Python 3.11+ that runs local node programs; empty = the router's own.  With "
        "local_run_as it must be one that user can run (e.g. /usr/bin/python3).",
    )

    # lifecycle
    heartbeat_interval_s: float = Field(2.0, gt=0)
    node_orphan_after_s: float = Field(
        600.0,
        gt=0,
        description="A node program whose outbox was deleted, or that cannot write its heartbeat, for this "
        "long exits on its own (its mailbox and workspace were removed: nobody can reach it any more).",
    )
    stale_after_missed: int = Field(3, ge=1)
    terminated_ttl_s: float = Field(900.0, ge=0, description="How long ended swarms stay visible.")
    terminate_grace_s: float = Field(10.0, ge=0)
    # retention of a removed swarm's files (router/retention.py)
    retention_files_h: float = Field(
        24.0, ge=0, description="Hours a removed swarm's workspaces and mailboxes are kept before they are deleted."
    )
    retention_archives_days: float = Field(
        7.0, ge=0, description="Days a removed swarm's workspace archive is kept on the router's host."
    )
    retention_max_bytes: int = Field(
        10 << 30,
        ge=0,
        description="Bytes of removed swarms' workspaces and mailboxes kept per provider; past it the "
        "oldest removed swarms' files are deleted first, whatever their age.",
    )
    retention_interval_s: float = Field(300.0, gt=0, description="How often the retention policy is applied.")
    launch_timeout_s: float = Field(600.0, gt=0, description="A launch still pending after this is cancelled.")
    probe_interval_s: float = Field(30.0, gt=0)
    ingest_poll_s: float = Field(0.005, gt=0, description="How often local outboxes are polled for new lines.")
    slurm_follow_poll_s: float = Field(
        0.05, gt=0, description="How often the follower on a cluster's login node checks the outboxes."
    )
    slurm_launch_settle_s: float = Field(
        3.0, ge=0, description="How long a launch waits for a fresh Slurm job to start or name its pending reason."
    )
    command_output_cap: int = Field(65_536, description="Bytes of a command's output kept in the durable turn.")

    # mirror
    reconcile_interval_s: float = Field(10.0, gt=0)
    sse_client_queue: int = Field(
        2000, ge=10, description="Events buffered per SSE client; one further behind re-reads from the bus."
    )
    sse_client_queue_bytes: int = Field(
        8 << 20, ge=1 << 16, description="Bytes of events buffered per SSE client; one further behind re-reads them."
    )
    sse_client_stall_s: float = Field(
        10.0, gt=0, description="An SSE client a queue behind that takes no write for this long is cut off."
    )
    sse_keepalive_s: float = Field(15.0, gt=0)
    delta_coalesce_ms: float = Field(20.0, ge=0)
    mirror_state_file: Path | None = Field(
        None,
        description="Where the mirror keeps its read-model snapshot across restarts; empty = under home.",
    )

    # observability (README "Logs and metrics")
    log_level: str = Field("info", description="Lowest level logged: debug, info, warning, error.")
    log_format: Literal["text", "json"] = Field(
        "text", description="text: one readable line per record; json: one JSON object per line (log shippers)."
    )
    metrics: bool = Field(
        True, description="Record the per-event series (events by name, lags); false = they stay at zero."
    )

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.home / 'codeswarm.db').resolve()}"

    @property
    def effective_router_url(self) -> str:
        return self.router_url or f"http://{self.router_host}:{self.router_port}"

    @property
    def effective_mirror_url(self) -> str:
        return self.mirror_url or f"http://{self.mirror_host}:{self.mirror_port}"

    @property
    def effective_web_origin(self) -> str:
        return self.web_origin or f"http://{self.web_host}:{self.web_port}"

    @property
    def allowed_host_names(self) -> frozenset[str]:
        return frozenset(name.strip().lower() for name in self.allowed_hosts.split(",") if name.strip())

    @property
    def trusted_proxy_addresses(self) -> frozenset[str]:
        return frozenset(address.strip() for address in self.trusted_proxies.split(",") if address.strip())

    @property
    def runs_base(self) -> Path:
        """Base directory of mailboxes and workspaces of the local provider."""
        return (self.home / "local").resolve()

    @property
    def effective_mirror_state_file(self) -> Path:
        return self.mirror_state_file or self.home / "mirror-state.json"

    @property
    def archives_dir(self) -> Path:
        return (self.home / "archives").resolve()

"""Providers and presets from the settings file (TOML); the default offers the local provider only.

    [[providers]]
    id = "local"            # what a launch names
    backend = "local"       # local | slurm
    label = "This machine"
    max_nodes = 64
    runtimes = ["mock", "shell", "codex"]
    [providers.defaults]    # values for launch fields
    [providers.presets.big] # another provider "local:big" with these values over the defaults
    [providers.runtime_settings.codex]   # this provider's settings of a runtime, over [runtimes.codex]

    [runtimes.codex]        # every provider's settings of a runtime (binary, model endpoint, key variable)
    binary = "/shared/tools/codex"
    base_url = "http://gpu-01:8000/v1"
    env_key = "SITE_MODEL_KEY"

Backends add their own keys (see each backend's module; Slurm: router/providers/slurm/config.py).
Defaults and presets are checked against the backend's launch fields when the file is loaded.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from router.pricing import PriceTableError, Pricing, parse_prices
from router.providers.base import Provider, ProviderConfig
from router.providers.fields import LaunchParamsError, check_launch_fields
from router.providers.local.provider import LocalProvider
from router.providers.slurm.cluster import SlurmCluster
from router.providers.slurm.config import SLURM_FIELDS, ClusterSettingsError, cluster_options
from router.providers.slurm.provider import SlurmProvider
from services.node.runtimes import RUNTIMES
from services.protocol.views import LaunchField
from services.settings import Settings

NODE_RUNTIMES = tuple(RUNTIMES)
# The codex binary `make codex` installs into the project (the native one: no Node.js needed to run it).
PROJECT_CODEX = (
    Path(__file__).resolve().parents[2]
    / ".tools/codex/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"
)
# The claude binary `make claude` installs (the native ELF of the platform package).
PROJECT_CLAUDE = (
    Path(__file__).resolve().parents[2] / ".tools/claude/node_modules/@anthropic-ai/claude-code-linux-x64/claude"
)
RUNTIME_DEFAULTS: dict[str, dict[str, Any]] = {
    "codex": {"binary": str(PROJECT_CODEX)},
    "claude": {"binary": str(PROJECT_CLAUDE)},
}

DEFAULT_PROVIDERS: list[dict[str, Any]] = [
    {
        "id": "local",
        "backend": "local",
        "label": "This machine",
        "max_nodes": 64,
        "runtimes": list(NODE_RUNTIMES),
    }
]


class ProviderSettingsError(ValueError):
    pass


def _local(configs: Sequence[ProviderConfig], settings: Settings) -> list[Provider]:
    if configs[0].options:
        raise ProviderSettingsError(
            f"provider {configs[0].id!r}: unknown option(s) {', '.join(sorted(configs[0].options))}; "
            f"valid options: {', '.join(COMMON_KEYS)}"
        )
    return [
        LocalProvider(
            config,
            base=settings.runs_base,
            heartbeat_s=settings.heartbeat_interval_s,
            poll_s=settings.ingest_poll_s,
            grace_s=settings.terminate_grace_s,
            run_as=settings.local_run_as,
            nice=settings.local_node_nice,
            python=settings.local_python or sys.executable,
        )
        for config in configs
    ]


def _slurm(configs: Sequence[ProviderConfig], settings: Settings) -> list[Provider]:
    """One cluster (connection, follower, job list) shared by the entry's provider and its presets."""
    first = configs[0]
    try:
        options = cluster_options(first.id, first.options)
    except ClusterSettingsError as exc:
        raise ProviderSettingsError(str(exc)) from exc
    cluster = SlurmCluster(first.id, options, settings)
    return [SlurmProvider(config, cluster) for config in configs]


# A backend makes the providers of one entry: the entry itself first, then one per preset.
Factory = Callable[[Sequence[ProviderConfig], Settings], list[Provider]]
BACKENDS: dict[str, Factory] = {"local": _local, "slurm": _slurm}
BACKEND_FIELDS: dict[str, tuple[LaunchField, ...]] = {"local": (), "slurm": SLURM_FIELDS}
COMMON_KEYS = ("id", "backend", "label", "max_nodes", "runtimes", "defaults", "presets", "runtime_settings")


def _runtime_settings(where: str, tables: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Merge runtime settings tables (later ones win), each key checked against the runtime's params."""
    merged: dict[str, dict[str, Any]] = {}
    for table in tables:
        for runtime, values in table.items():
            if runtime not in RUNTIMES:
                raise ProviderSettingsError(f"{where}: unknown runtime {runtime!r}; known: {', '.join(RUNTIMES)}")
            valid = {param.name for param in RUNTIMES[runtime].params_accepted}
            unknown = sorted(set(values) - valid)
            if unknown:
                raise ProviderSettingsError(
                    f"{where}: unknown {runtime} setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}"
                )
            merged[runtime] = {**merged.get(runtime, {}), **values}
    return merged


def _checked_values(provider_id: str, what: str, fields: tuple[LaunchField, ...], values: dict[str, Any]) -> None:
    try:
        check_launch_fields(fields, {}, values)
    except LaunchParamsError as exc:
        raise ProviderSettingsError(f"provider {provider_id!r}: {what}: {exc}") from exc


def _configs(entry: dict[str, Any], shared_runtimes: dict[str, Any]) -> list[ProviderConfig]:
    backend = entry.get("backend")
    if backend not in BACKENDS:
        raise ProviderSettingsError(f"provider {entry.get('id')!r}: backend must be one of {', '.join(BACKENDS)}")
    runtimes = tuple(entry.get("runtimes", NODE_RUNTIMES))
    unknown_runtimes = set(runtimes) - set(NODE_RUNTIMES)
    if unknown_runtimes:
        raise ProviderSettingsError(
            f"provider {entry['id']!r}: unknown runtimes {sorted(unknown_runtimes)}; known: {', '.join(NODE_RUNTIMES)}"
        )
    provider_id, fields = str(entry["id"]), BACKEND_FIELDS[backend]
    defaults = dict(entry.get("defaults", {}))
    _checked_values(provider_id, "defaults", fields, defaults)
    base = ProviderConfig(
        id=provider_id,
        label=str(entry.get("label", provider_id)),
        backend=backend,
        max_nodes=int(entry.get("max_nodes", 64)),
        runtimes=runtimes,
        defaults=defaults,
        launch_fields=fields,
        options={k: v for k, v in entry.items() if k not in COMMON_KEYS},
        runtime_settings=_runtime_settings(
            f"provider {provider_id!r}", [RUNTIME_DEFAULTS, shared_runtimes, dict(entry.get("runtime_settings", {}))]
        ),
        cluster=provider_id,
    )
    configs = [base]
    for name, values in dict(entry.get("presets", {})).items():
        merged = {**defaults, **dict(values)}
        _checked_values(provider_id, f"preset {name!r}", fields, merged)
        configs.append(replace(base, id=f"{provider_id}:{name}", label=f"{base.label} ({name})", defaults=merged))
    return configs


def load_document(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {"providers": DEFAULT_PROVIDERS}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProviderSettingsError(f"cannot read providers file {path}: {exc}") from exc


def load_providers(settings: Settings) -> dict[str, Provider]:
    document = load_document(settings.providers_file)
    shared_runtimes = dict(document.get("runtimes", {}))
    _runtime_settings("[runtimes]", [shared_runtimes])
    providers: dict[str, Provider] = {}
    for entry in document.get("providers", []):
        if "id" not in entry:
            raise ProviderSettingsError(f"a provider entry has no id: {entry}")
        configs = _configs(entry, shared_runtimes)
        for config in configs:
            if config.id in providers:
                raise ProviderSettingsError(f"provider id {config.id!r} appears twice")
        for provider in BACKENDS[configs[0].backend](configs, settings):
            providers[provider.config.id] = provider
    if not providers:
        raise ProviderSettingsError("no providers configured")
    return providers


def load_pricing(settings: Settings) -> Pricing:
    """The `[prices]` table of the providers file (none by default)."""
    try:
        return Pricing(parse_prices(dict(load_document(settings.providers_file).get("prices", {}))))
    except PriceTableError as exc:
        raise ProviderSettingsError(str(exc)) from exc

"""Providers and presets from the settings file (TOML); the default offers the local provider only.

    [[providers]]
    id = "local"            # what a launch names
    backend = "local"       # local | slurm
    label = "This machine"
    max_nodes = 64
    runtimes = ["mock", "shell"]
    [providers.defaults]    # values for launch fields
    [providers.presets.big] # another provider "local:big" with these values over the defaults

Backends add their own keys (see each backend's module; Slurm: router/providers/slurm/config.py).
Defaults and presets are checked against the backend's launch fields when the file is loaded.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from router.providers.base import Provider, ProviderConfig
from router.providers.fields import LaunchParamsError, validate_params
from router.providers.local.provider import LocalProvider
from router.providers.slurm.cluster import SlurmCluster
from router.providers.slurm.config import SLURM_FIELDS, ClusterSettingsError, cluster_options
from router.providers.slurm.provider import SlurmProvider
from services.protocol.views import LaunchField
from services.settings import Settings

NODE_RUNTIMES = ("mock", "shell")

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
COMMON_KEYS = ("id", "backend", "label", "max_nodes", "runtimes", "defaults", "presets")


def _checked_values(provider_id: str, what: str, fields: tuple[LaunchField, ...], values: dict[str, Any]) -> None:
    try:
        validate_params(fields, {}, values)
    except LaunchParamsError as exc:
        raise ProviderSettingsError(f"provider {provider_id!r}: {what}: {exc}") from exc


def _configs(entry: dict[str, Any]) -> list[ProviderConfig]:
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
    providers: dict[str, Provider] = {}
    for entry in document.get("providers", []):
        if "id" not in entry:
            raise ProviderSettingsError(f"a provider entry has no id: {entry}")
        configs = _configs(entry)
        for config in configs:
            if config.id in providers:
                raise ProviderSettingsError(f"provider id {config.id!r} appears twice")
        for provider in BACKENDS[configs[0].backend](configs, settings):
            providers[provider.config.id] = provider
    if not providers:
        raise ProviderSettingsError("no providers configured")
    return providers

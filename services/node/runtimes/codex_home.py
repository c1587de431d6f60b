"""`CODEX_HOME` of one node: the directory codex keeps its config and threads in, and its config.toml.

It lives outside `/tmp` (codex refuses its helper aliases there) and outside the workspace (the agent's
cwd).  The config points codex at the swarm's model endpoint with the Responses wire API, names the
environment variable that holds the key (the key itself is never written here), bounds the retries,
and turns off every start-up call to hosted services (analytics, plugin and app sync), so codex runs
offline next to a site's own model server.
"""

from __future__ import annotations

import json
import os
from typing import Any

PROVIDER_ID = "codeswarm"


def _value(value: Any) -> str:
    """A TOML value: JSON's string, integer and boolean spellings are valid TOML."""
    return json.dumps(value)


def config_toml(params: dict[str, Any]) -> str:
    lines = [
        f"model = {_value(params['model'])}",
        f"model_provider = {_value(PROVIDER_ID)}",
        'model_reasoning_summary = "auto"',
    ]
    if params.get("reasoning_effort"):
        lines.append(f"model_reasoning_effort = {_value(params['reasoning_effort'])}")
    lines += [
        "",
        f"[model_providers.{PROVIDER_ID}]",
        'name = "Codeswarm model endpoint"',
        f"base_url = {_value(params['base_url'])}",
        'wire_api = "responses"',
    ]
    if params.get("env_key"):
        lines.append(f"env_key = {_value(params['env_key'])}")
    lines += [
        f"request_max_retries = {int(params['max_retries'])}",
        f"stream_max_retries = {int(params['max_retries'])}",
        f"stream_idle_timeout_ms = {int(float(params['stream_idle_timeout_s']) * 1000)}",
        "",
        "[analytics]",
        "enabled = false",
        "",
        "[features]",
        "plugins = false",
        "remote_plugin = false",
        "apps = false",
        "unbounded_connection_retries = false",
        "",
    ]
    return "\n".join(lines)


def write_codex_home(home: str, params: dict[str, Any]) -> str:
    """Create the directory (0700) and its config.toml (0600); the directory."""
    os.makedirs(home, mode=0o700, exist_ok=True)
    os.chmod(home, 0o700)
    path = os.path.join(home, "config.toml")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(config_toml(params))
    return home

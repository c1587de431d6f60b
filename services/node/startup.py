"""Everything the node checks and prepares before it says hello; a problem is a ConfigError (exit 2)."""

from __future__ import annotations

import json
import os

from services.node.bundle_writer import load_bundle, write_bundle
from services.node.cli import NodeOptions
from services.node.errors import ConfigError
from services.node.records import agent_home_path, inbox_path, outbox_path, secret_name, workspace_path
from services.node.runtimes import RUNTIMES, Runtime
from services.node.runtimes.turn import Emit


def make_directories(options: NodeOptions) -> str:
    """The mailbox directories and the node's workspace (created when missing); the workspace path."""
    workspace = workspace_path(options.base, options.job_id, options.node_id)
    for path in (
        os.path.dirname(inbox_path(options.base, options.job_id, options.node_id)),
        os.path.dirname(outbox_path(options.base, options.job_id, options.node_id)),
        workspace,
    ):
        os.makedirs(path, exist_ok=True)
    return os.path.abspath(workspace)


def _runtime_params(options: NodeOptions) -> dict[str, object]:
    source, text = "--runtime-params", options.runtime_params
    if options.runtime_params_file is not None:
        source = f"the runtime params file {options.runtime_params_file}"
        try:
            with open(options.runtime_params_file, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {source}: {exc}") from exc
    try:
        params = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{source} is not JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise ConfigError(f"{source} must hold a JSON object, not {type(params).__name__}")
    return params


def _system_prompt(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the system prompt file {path}: {exc}") from exc


def _take_secret(options: NodeOptions) -> str | None:
    """This node's key, read from its file in the control directory, which is then removed."""
    if options.secret_dir is None:
        return None
    path = os.path.join(options.secret_dir, secret_name(options.node_id))
    try:
        with open(path, encoding="utf-8") as handle:
            secret = handle.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read this node's key file {path}: {exc}") from exc
    try:
        os.unlink(path)
    except OSError as exc:
        raise ConfigError(f"cannot remove this node's key file {path} after reading it: {exc}") from exc
    return secret


def prepare_runtime(options: NodeOptions, workspace: str, emit: Emit) -> Runtime:
    """Check the runtime and its params, write the bundle, and create (not start) the runtime."""
    runtime_class = RUNTIMES.get(options.runtime)
    if runtime_class is None:
        raise ConfigError(f"unknown runtime {options.runtime!r}; available: {', '.join(sorted(RUNTIMES))}")
    params = _runtime_params(options)
    system_prompt = _system_prompt(options.system_prompt_file)
    home = os.path.abspath(agent_home_path(options.base, options.job_id, options.node_id))
    runtime = runtime_class(workspace, emit, params, system_prompt, home=home, secret=_take_secret(options))
    if options.bundle_file is not None:
        write_bundle(workspace, load_bundle(options.bundle_file))
    return runtime

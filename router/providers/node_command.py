"""The node program's command line and environment, shared by every provider."""

from __future__ import annotations

import os
from collections.abc import Mapping

import orjson

from router.providers.base import LaunchSpec
from services.node.records import secret_name

# The only variables a node program inherits from the host; everything else is set explicitly.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME")
RUNTIME_PARAMS_FILE = "runtime_params.json"


def node_arguments(
    spec: LaunchSpec,
    base: str,
    job_id: str,
    heartbeat_s: float,
    control_dir: str,
    node_id: int | None,
) -> list[str]:
    """Arguments after `python3 <node.pyz>`; node_id None = take it from SLURM_NODEID."""
    args = ["--base", base, "--job-id", job_id, "--runtime", spec.runtime, "--heartbeat-s", str(heartbeat_s)]
    if node_id is not None:
        args += ["--node-id", str(node_id)]
    if spec.runtime_params:  # a file, never the command line: every user of the host can read that (ps)
        args += ["--runtime-params-file", f"{control_dir}/{RUNTIME_PARAMS_FILE}"]
    if spec.system_prompt:
        args += ["--system-prompt-file", f"{control_dir}/system_prompt.txt"]
    if spec.agents_bundle:
        args += ["--bundle-file", f"{control_dir}/bundle.json"]
    if spec.secret:
        args += ["--secret-dir", control_dir]
    if spec.orphan_after_s is not None:
        args += ["--orphan-after-s", f"{spec.orphan_after_s:g}"]
    return args


def control_files(spec: LaunchSpec) -> dict[str, bytes]:
    """Files the node program reads at start (name → content), written 0600 into the job's control dir.
    The model key gets one file per node, which that node removes once it has read it."""
    files: dict[str, bytes] = {}
    if spec.runtime_params:
        files[RUNTIME_PARAMS_FILE] = orjson.dumps(spec.runtime_params)
    if spec.system_prompt:
        files["system_prompt.txt"] = spec.system_prompt.encode()
    if spec.agents_bundle:
        files["bundle.json"] = orjson.dumps(spec.agents_bundle)
    if spec.secret:
        for node_id in range(spec.node_count):
            files[secret_name(node_id)] = spec.secret.encode()
    return files


def node_environment(source: Mapping[str, str] = os.environ) -> dict[str, str]:
    env = {key: source[key] for key in PASSED_THROUGH if key in source}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["PYTHONUNBUFFERED"] = "1"
    return env

"""The sbatch script: the job's shape, and no launch value can break out of its #SBATCH line or quoting."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from router.providers.base import LaunchSpec
from router.providers.fields import LaunchParamsError, check_launch_fields
from router.providers.node_command import control_files
from router.providers.slurm.config import SLURM_FIELDS
from router.providers.slurm.script import UnsafeValue, sbatch_option, sbatch_script, stage_dir


def spec(**params: object) -> LaunchSpec:
    return LaunchSpec(
        swarm_id="sw-0123456789ab",
        node_count=3,
        runtime="mock",
        runtime_params={"delay_ms": 0, "note": "it's $(not) `run`"},
        params=dict(params),
        system_prompt="be brief",
    )


def script(**params: object) -> str:
    return sbatch_script(spec(**params), "/shared/cs", "/usr/bin/python3", "/shared/cs/bin/node.pyz", 2.0)


def test_the_job_shape() -> None:
    text = script(partition="debug", time="01:00:00", exclusive=True, cpus_per_task=4, constraint="a100&ib")
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    sbatch = [line for line in lines if line.startswith("#SBATCH")]
    assert sbatch == [
        "#SBATCH --job-name=codeswarm-sw-0123456789ab",
        "#SBATCH --nodes=3",
        "#SBATCH --ntasks=3",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --chdir=/shared/cs/swarms/sw-0123456789ab",
        "#SBATCH --output=/shared/cs/swarms/sw-0123456789ab/slurm-%j.out",
        "#SBATCH --signal=TERM@60",
        "#SBATCH --partition=debug",
        "#SBATCH --time=01:00:00",
        "#SBATCH --constraint='a100&ib'",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --exclusive",
    ]
    (srun,) = [line for line in lines if "srun" in line and not line.startswith("#")]
    assert srun.startswith("exec srun --nodes=3 --ntasks=3 --ntasks-per-node=1 ")
    assert '--job-id "${SLURM_JOB_ID}"' in srun and "--node-id" not in srun  # the index comes from SLURM_NODEID
    assert "--system-prompt-file /shared/cs/swarms/sw-0123456789ab/system_prompt.txt" in srun
    assert stage_dir("/shared/cs", "sw-0123456789ab") == "/shared/cs/swarms/sw-0123456789ab"


def test_bash_expands_only_the_job_id(tmp_path: Path) -> None:
    """Run the script with srun replaced by printf: the node program's argv comes out exactly as built."""
    fake = tmp_path / "srun"
    fake.write_text('#!/bin/bash\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    result = subprocess.run(
        ["bash", "-c", script()],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin", "SLURM_JOB_ID": "4242"},
        capture_output=True,
        text=True,
        check=True,
    )
    argv = result.stdout.splitlines()
    assert argv[argv.index("--job-id") + 1] == "4242"
    # runtime params travel in a 0600 control file beside the script, never on a command line (ps shows it)
    params_file = argv[argv.index("--runtime-params-file") + 1]
    assert params_file == "/shared/cs/swarms/sw-0123456789ab/runtime_params.json"
    assert "--runtime-params" not in argv and "$(not)" not in script()
    assert control_files(spec())["runtime_params.json"] == b'{"delay_ms":0,"note":"it\'s $(not) `run`"}'


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("partition", "debug\n#SBATCH --wrap=touch /tmp/x"),
        ("partition", "$(touch /tmp/x)"),
        ("account", "`id`"),
        ("constraint", "a;id"),
        ("time", "10 && id"),
        ("qos", "normal'"),
        ("gres", "gpu:1\n"),
        ("mem", "1G; id"),
        ("begin", "now+1hour;id"),
    ],
)
def test_unsafe_values_never_reach_the_script(key: str, value: str) -> None:
    with pytest.raises(LaunchParamsError) as refused:
        check_launch_fields(SLURM_FIELDS, {}, {key: value})
    assert refused.value.errors[0]["loc"] == ["body", "provider_params", key]
    with pytest.raises(UnsafeValue):  # checked again where the line is written
        sbatch_option(key, value)


def test_unknown_fields_are_refused_with_the_valid_ones() -> None:
    with pytest.raises(LaunchParamsError) as refused:
        check_launch_fields(SLURM_FIELDS, {}, {"wrap": "id"})
    message = refused.value.errors[0]["msg"]
    assert "unknown launch field 'wrap'" in message
    for field in SLURM_FIELDS:
        assert field.key in message


def test_a_bad_swarm_id_is_refused() -> None:
    with pytest.raises(UnsafeValue):
        stage_dir("/shared", "../etc")

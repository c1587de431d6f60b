"""What the node or sbatch would refuse is refused at the launch, naming the key and what is valid."""

from __future__ import annotations

import pytest

from router.bundle_checks import MAX_DEPTH, MAX_NAME_BYTES, check_bundle
from router.errors import Invalid
from router.providers.fields import LaunchParamsError, check_launch_fields
from router.providers.slurm.config import MAX_CPUS_PER_TASK, SLURM_FIELDS


@pytest.mark.parametrize(
    ("bundle", "words"),
    [
        ({".": "x"}, "must name a file"),
        ({"docs/": "x"}, "must name a file"),
        ({"a": "x", "a/b.md": "y"}, "needs 'a' to be a directory"),
        ({"n" * (MAX_NAME_BYTES + 1): "x"}, f"at most {MAX_NAME_BYTES}"),
        ({"/".join(["d"] * (MAX_DEPTH + 1)): "x"}, f"at most {MAX_DEPTH}"),
        ({"../up.md": "x"}, "inside the workspace"),
    ],
)
def test_a_bundle_path_the_node_could_not_write_is_refused(bundle: dict[str, str], words: str) -> None:
    with pytest.raises(Invalid) as refused:
        check_bundle(bundle)
    assert words in str(refused.value)
    detail = refused.value.detail
    assert isinstance(detail, list) and detail[0]["loc"][:2] == ["body", "agents_bundle"]


def test_a_sane_bundle_passes() -> None:
    check_bundle({"AGENTS.md": "x", "docs/a/b.md": "y", "n" * MAX_NAME_BYTES: "z"})


@pytest.mark.parametrize("cpus", [0, -1, MAX_CPUS_PER_TASK + 1])
def test_slurm_numbers_out_of_range_are_refused(cpus: int) -> None:
    with pytest.raises(LaunchParamsError) as refused:
        check_launch_fields(SLURM_FIELDS, {}, {"cpus_per_task": cpus})
    (error,) = refused.value.errors
    assert error["loc"] == ["body", "provider_params", "cpus_per_task"]
    assert f"between 1 and {MAX_CPUS_PER_TASK}" in error["msg"]


def test_slurm_numbers_in_range_pass() -> None:
    assert check_launch_fields(SLURM_FIELDS, {}, {"cpus_per_task": 8})["cpus_per_task"] == 8

"""Slurm providers in the settings file: typed defaults and presets, one cluster per entry, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.providers.registry import ProviderSettingsError, load_providers
from router.providers.slurm.provider import SlurmProvider
from services.settings import Settings

ENTRY = """
[[providers]]
id = "hpc"
backend = "slurm"
label = "HPC"
host = "login.example.org"
user = "alice"
key_file = "/keys/id_ed25519"
known_hosts = "/keys/known_hosts"
base = "/shared/alice/codeswarm"
{extra}
[providers.defaults]
partition = "debug"
time = "30"
[providers.presets.gpu]
partition = "gpu"
gres = "gpu:1"
"""


def load(tmp_path: Path, text: str) -> dict[str, object]:
    path = tmp_path / "providers.toml"
    path.write_text(text)
    return dict(load_providers(Settings(home=tmp_path, providers_file=path)))


def test_an_entry_and_its_presets_share_one_cluster(tmp_path: Path) -> None:
    providers = load(tmp_path, ENTRY.format(extra='port = 2222\npython = "/opt/py/bin/python3"'))
    assert list(providers) == ["hpc", "hpc:gpu"]
    base, gpu = providers["hpc"], providers["hpc:gpu"]
    assert isinstance(base, SlurmProvider) and isinstance(gpu, SlurmProvider)
    assert base.cluster is gpu.cluster
    assert base.cluster.options.target.port == 2222 and base.cluster.options.python == "/opt/py/bin/python3"
    assert not base.cluster.options.target.accept_new_host_key  # off unless asked for
    assert base.config.defaults == {"partition": "debug", "time": "30"}
    assert gpu.config.defaults == {"partition": "gpu", "time": "30", "gres": "gpu:1"}
    assert gpu.config.label == "HPC (gpu)"
    assert {f.key for f in gpu.config.launch_fields} >= {"partition", "time", "account", "qos", "constraint", "gres"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("hostname = 'x'", "unknown option(s) hostname; valid slurm options: host, port, user, key_file"),
        ("port = 0", "port must be 1..65535"),
        ("accept_new_host_key = 'yes'", "accept_new_host_key must be true or false"),
        ("python = 'python3; rm -rf ~'", "python = 'python3; rm -rf ~' must match"),
    ],
)
def test_bad_cluster_options_are_clear_errors(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ProviderSettingsError, match="provider 'hpc'") as error:
        load(tmp_path, ENTRY.format(extra=extra))
    assert message in str(error.value)


def test_missing_options_are_named(tmp_path: Path) -> None:
    text = (
        ENTRY.format(extra="")
        .replace('host = "login.example.org"\n', "")
        .replace('base = "/shared/alice/codeswarm"\n', "")
    )
    with pytest.raises(ProviderSettingsError, match="missing option\\(s\\) host, base"):
        load(tmp_path, text)


def test_defaults_and_presets_are_typed_launch_values(tmp_path: Path) -> None:
    with pytest.raises(ProviderSettingsError, match="defaults: unknown launch field 'partitoin'"):
        load(tmp_path, ENTRY.format(extra="").replace('partition = "debug"', 'partitoin = "debug"'))
    with pytest.raises(ProviderSettingsError, match="preset 'gpu': gres="):
        load(tmp_path, ENTRY.format(extra="").replace('gres = "gpu:1"', 'gres = "gpu:1 && id"'))


def test_a_local_entry_with_unknown_options_is_refused(tmp_path: Path) -> None:
    text = '[[providers]]\nid = "local"\nbackend = "local"\nhost = "x"\n'
    with pytest.raises(ProviderSettingsError, match="unknown option\\(s\\) host; valid options: id, backend"):
        load(tmp_path, text)

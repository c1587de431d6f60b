"""Runtime settings in the providers file: [runtimes.<name>], a provider's runtime_settings, prices."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.pricing import Pricing, parse_prices
from router.providers.registry import PROJECT_CODEX, ProviderSettingsError, load_pricing, load_providers
from services.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def settings(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "providers.toml"
    path.write_text(text)
    return Settings(home=tmp_path, providers_file=path)


def test_the_example_file_loads_with_each_providers_codex_settings() -> None:
    example = Settings(providers_file=ROOT / "examples" / "providers.codex.toml")
    providers = load_providers(example)
    local, hpc = providers["local"].config, providers["hpc"].config
    assert local.runtime_settings["codex"] == {
        "binary": str(PROJECT_CODEX),
        "base_url": "http://127.0.0.1:8000/v1",
        "env_key": "OPENAI_API_KEY",
    }
    assert hpc.runtime_settings["codex"]["binary"] == "/shared/alice/tools/codex"
    assert hpc.runtime_settings["codex"]["env_key"] == "OPENAI_API_KEY"  # from [runtimes.codex]
    assert load_pricing(example).prices["gpt-5-codex"].output == 10.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[runtimes.codex]\nbinry = "/x"\n', "unknown codex setting(s) binry; valid: approval_policy"),
        ('[runtimes.robot]\nbinary = "/x"\n', "unknown runtime 'robot'"),
        ('[[providers]]\nid = "l"\nbackend = "local"\n[providers.runtime_settings.codex]\nurl = 1\n', "unknown codex"),
    ],
)
def test_unknown_runtime_settings_are_refused_with_the_valid_ones(tmp_path: Path, text: str, message: str) -> None:
    if "[[providers]]" not in text:
        text += '[[providers]]\nid = "l"\nbackend = "local"\n'
    with pytest.raises(ProviderSettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_providers(settings(tmp_path, text))


def test_a_bad_price_table_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProviderSettingsError, match="give input and output"):
        load_pricing(settings(tmp_path, '[prices."m"]\ninput = 1.0\n'))


def test_cost_is_priced_from_the_cumulative_total_with_cached_input_apart() -> None:
    pricing = Pricing(parse_prices({"m": {"input": 2.0, "cached_input": 0.5, "output": 8.0}}))
    total = {"inputTokens": 1_000_000, "cachedInputTokens": 400_000, "outputTokens": 100_000}
    assert pricing.estimate("m", total) == {"model": "m", "cost_usd": round(0.6 * 2.0 + 0.4 * 0.5 + 0.1 * 8.0, 6)}
    assert pricing.estimate("unknown", total) == {"model": "unknown", "cost_usd": None}

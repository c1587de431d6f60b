"""Estimated cost of a thread's token usage, from a per-model price table in the providers file.

    [prices."gpt-5"]            # US dollars per million tokens
    input = 1.25
    cached_input = 0.125
    output = 10.0

Cached input tokens are part of the input tokens codex reports; they are priced at `cached_input`
(`input` when the table does not say).  A model missing from the table has no estimate (null).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PRICE_KEYS = ("input", "cached_input", "output")


class PriceTableError(ValueError):
    pass


@dataclass(frozen=True)
class Price:
    input: float
    cached_input: float
    output: float


def parse_prices(table: Mapping[str, Any]) -> dict[str, Price]:
    prices = {}
    for model, entry in table.items():
        if (
            not isinstance(entry, Mapping)
            or set(entry) - set(PRICE_KEYS)
            or "input" not in entry
            or "output" not in entry
        ):
            raise PriceTableError(
                f"prices.{model}: give input and output (and optionally cached_input) in USD per million tokens"
            )
        values = {key: entry.get(key, entry["input"]) for key in PRICE_KEYS}
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in values.values()):
            raise PriceTableError(f"prices.{model}: every price must be a number of 0 or more")
        prices[str(model)] = Price(**{key: float(value) for key, value in values.items()})
    return prices


class Pricing:
    def __init__(self, prices: Mapping[str, Price]) -> None:
        self.prices = dict(prices)

    def estimate(self, model: str | None, total: Mapping[str, Any] | None) -> dict[str, Any]:
        """`{model, cost_usd}` for a usage event: the thread's cumulative cost, or null when unknown."""
        price = self.prices.get(model or "")
        if price is None or not total:
            return {"model": model, "cost_usd": None}
        cached = int(total.get("cachedInputTokens") or 0)
        fresh = max(0, int(total.get("inputTokens") or 0) - cached)
        output = int(total.get("outputTokens") or 0)
        cost = (fresh * price.input + cached * price.cached_input + output * price.output) / 1_000_000
        return {"model": model, "cost_usd": round(cost, 6)}

"""Estimated LLM cost per call from a price table shipped as data (`prices.json`).

Model names are matched exactly, through aliases, without provider prefixes
(`openai/gpt-4o`, `us.anthropic.claude-...`) and finally by the longest listed name that is a
prefix ending at a version separator (`gpt-4o-2024-08-06` -> `gpt-4o`, never `gpt-4o-mini` ->
`gpt-4o`). Unknown models get no cost: they are counted and reported, not guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson

_PROVIDER = re.compile(r"^(?:[a-z]{2}\.)?(?:anthropic|meta|mistral|cohere|amazon|ai21|google)\.")
_SEPARATORS = "-:@"
TOKENS_PER_UNIT = 1_000_000


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1M input and output tokens."""

    input: float
    output: float


def shipped_table() -> dict[str, Any]:
    """The price table that ships with slmconvert."""
    return orjson.loads(resources.files("slmconvert.collect").joinpath("prices.json").read_bytes())


class PriceTable:
    """Looks up a model's price and estimates a call's cost."""

    def __init__(self, prices: dict[str, Price], aliases: dict[str, str] | None = None) -> None:
        self.prices = {k.lower(): v for k, v in prices.items()}
        self.aliases = {k.lower(): v.lower() for k, v in (aliases or {}).items()}
        self._by_length = sorted(self.prices, key=len, reverse=True)
        self._cache: dict[str, str | None] = {}

    @classmethod
    def load(cls, overrides: dict[str, Any] | None = None) -> PriceTable:
        """The shipped table with user prices ({model: {input, output}}) laid over it."""
        table = shipped_table()
        prices = {name: Price(float(p["input"]), float(p["output"])) for name, p in table["models"].items()}
        for name, price in (overrides or {}).items():
            value = price if isinstance(price, dict) else price.model_dump()
            prices[name.lower()] = Price(float(value["input"]), float(value["output"]))
        return cls(prices, table.get("aliases"))

    def match(self, model: str | None) -> str | None:
        """The table entry a model name resolves to, or None when it is not priced."""
        if not model:
            return None
        if model not in self._cache:
            self._cache[model] = self._match(model.strip().lower())
        return self._cache[model]

    def _match(self, name: str) -> str | None:
        last = name.rsplit("/", 1)[-1]
        candidates = dict.fromkeys((name, last, _PROVIDER.sub("", last)))
        for cand in candidates:
            if cand in self.prices:
                return cand
            if cand in self.aliases and self.aliases[cand] in self.prices:
                return self.aliases[cand]
        for cand in candidates:
            for key in self._by_length:
                if cand.startswith(key) and cand[len(key)] in _SEPARATORS:
                    return key
            for alias, key in self.aliases.items():
                if cand.startswith(alias) and cand[len(alias)] in _SEPARATORS and key in self.prices:
                    return key
        return None

    def cost(self, model: str | None, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        """Estimated USD cost of one call; None when the model or a token count is unknown."""
        key = self.match(model)
        if key is None or prompt_tokens is None or completion_tokens is None:
            return None
        price = self.prices[key]
        return round((prompt_tokens * price.input + completion_tokens * price.output) / TOKENS_PER_UNIT, 10)

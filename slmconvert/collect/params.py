"""Parameters of the collect stage (section `collect:` of a pipeline YAML)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from slmconvert.params import StageParams


class ModelPrice(BaseModel):
    """A model's price in USD per 1M tokens."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0, description="USD per 1M prompt (input) tokens.")
    output: float = Field(ge=0, description="USD per 1M completion (output) tokens.")


class CollectParams(StageParams):
    """How collect reads, deduplicates and prices the logs."""

    prices: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description=(
            "Extra or overriding model prices, {model: {input: USD/1M tokens, output: USD/1M tokens}}, "
            "laid over the shipped table (slmconvert/collect/prices.json). Names also match dated "
            "variants (gpt-4o matches gpt-4o-2024-08-06)."
        ),
    )
    dedupe: bool = Field(True, description="Drop exact duplicate calls (same call_id), keeping the first.")
    max_line_mb: float = Field(
        64.0, gt=0, description="Longest input line (or JSON-array element) accepted, in MB; longer ones are rejected."
    )
    batch_rows: int = Field(
        1000, ge=1, description="Rows per Parquet write batch: peak memory is about this many records (memory vs. speed)."
    )
    workers: int = Field(
        0, ge=0,
        description=(
            "Processes that parse and normalise in parallel: 0 = automatic (one per spare CPU core, at most 8, "
            "with 4+ cores and inputs over 32 MB), 1 = all in this process. Outputs are identical either way."
        ),
    )

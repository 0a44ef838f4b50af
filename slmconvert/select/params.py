"""Parameters of `select` (defaults small enough for a CPU run over the sample logs)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from slmconvert.engine.params import EngineParams
from slmconvert.models.registry import DEFAULT_CANDIDATES
from slmconvert.params import seed_field
from slmconvert.util.budget import check_budget


class SelectParams(EngineParams):
    """How candidate SLMs are gated, measured and chosen per cluster."""

    candidates: list[str] = Field(
        list(DEFAULT_CANDIDATES),
        description="Candidate models (alias, local path or Hugging Face id); --candidate flags replace this list.",
    )
    sample_size: int = Field(
        8, ge=0,
        description="Validation examples evaluated per cluster and candidate (0 = the whole validation split); "
        "the default is one CPU batch, raise it on a GPU for tighter intervals.",
    )
    few_shot: int = Field(0, ge=0, le=8, description="In-cluster training examples shown before each prompt (0 = zero-shot).")
    max_new_tokens: int = Field(
        128, ge=1,
        description="Upper bound on generated tokens (a zero-shot comparison: every candidate is cut alike); "
        "per cluster the bound is 1.25x its longest sampled reference + 8.",
    )
    batch_size: int = Field(16, ge=1, description="Prompts generated together in one batch.")
    prompt_style: Literal["auto", "native", "canonical"] = Field(
        "auto", description="auto: the model's chat template when it supports tools, else slmconvert's canonical format."
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where candidates run (auto: CUDA when present).")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Weights dtype (auto: bf16 on GPUs that support it, fp32 on CPU)."
    )
    load_in_4bit: bool = Field(False, description="Load candidates in 4-bit NF4 (bitsandbytes), as QLoRA would.")
    memory_fraction: float = Field(
        0.8, gt=0, le=1, description="Memory gate: estimated need must fit in this share of the device's free memory."
    )
    allowed_licenses: list[str] = Field(
        [], description="Licence gate: when non-empty, only candidates whose licence is listed are evaluated."
    )
    budget: str = Field(
        "15m",
        description="Wall-clock budget (e.g. 90s, 15m, 2h); under run-all the run's deadline applies. A candidate "
        "passes the compute gate for a cluster when, at the speed measured on this machine, it can train on the "
        "cluster and answer the held-out evidence its promotion needs within what is left; zero-shot "
        "measurements together may take a fifth of what is left (one that would take more is skipped).",
    )
    measure_single: bool = Field(
        False,
        description="Also measure zero-shot when a single candidate passes the gates (nothing to choose between; "
        "iterate measures the base model beside its specialist anyway).",
    )
    quality_tolerance: float = Field(
        0.05, ge=0, le=1,
        description="Choice rule: candidates within this distance of the best primary metric count as equal; then the smallest, then the fastest wins.",
    )
    context_sample: int = Field(
        400, ge=1, description="Calls per cluster tokenized (with each candidate's tokenizer) for the p99 prompt length."
    )
    include_non_candidates: bool = Field(
        False, description="Also evaluate clusters that cluster did not flag as conversion candidates."
    )
    text_cosine: bool = Field(
        True, description="Compute embedding cosine (all-MiniLM-L6-v2) for free-text clusters besides ROUGE-L."
    )
    single_call_latency: bool = Field(
        False, description="Also time one prompt alone (batch size 1), the latency a single routed call sees (costs one more generation per cluster)."
    )
    seed: int = seed_field("Seed for sampling validation and few-shot examples")

    @field_validator("budget", mode="before")
    @classmethod
    def _duration(cls, value: object) -> str:
        return check_budget(value)

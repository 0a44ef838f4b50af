"""Parameters of the finetune stage (defaults < --config < --set < flags).

Fields left at None are derived per cluster from its data size, the device and its share of the
wall-clock budget (see `slmconvert.finetune.budget` and `slmconvert.finetune.allocate`); what was actually used is recorded in each cluster's metrics.json.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from slmconvert.engine.params import EngineParams
from slmconvert.params import seed_field
from slmconvert.util.budget import check_budget


class FinetuneParams(EngineParams):
    """How each selected cluster's specialist is trained (LoRA/QLoRA with trl's SFTTrainer)."""

    base_model: str | None = Field(
        None, description="Train every cluster on this model (alias, path or HF id) instead of select's choice."
    )
    method: Literal["auto", "lora", "qlora"] = Field(
        "auto",
        description="auto: QLoRA on a CUDA GPU for models with >= qlora_min_params parameters, else LoRA.",
    )
    qlora_min_params: int = Field(1_000_000_000, ge=0, description="Model size from which method=auto picks QLoRA on a GPU.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where to train: auto = CUDA when present.")
    data_parallel: int | None = Field(
        None, ge=1,
        description="Processes that train each cluster together, each on its share of every batch (engine=local): "
        "default one per visible CUDA GPU when training on CUDA, else 1 (on a CPU, processes share the same cores).",
    )
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description="auto: bf16 on CUDA GPUs that support it and on CPUs with native bf16 (AVX512-BF16/AMX), else fp32.",
    )
    prompt_style: Literal["auto", "native", "canonical"] = Field(
        "auto", description="Prompt style (models.prompt): auto = select's choice, else the model's own tool support."
    )
    context_distillation: Literal["auto", "off"] = Field(
        "auto",
        description=(
            "Drop the prompt parts the specialist learns: auto drops the system prompt and/or the tool schemas "
            "(+ response format) when they are identical across the cluster's training calls, else the system-prompt "
            "lines, and the sentences of other lines, that 80% of them share; off keeps full prompts."
        ),
    )
    lora_rank: int | None = Field(None, ge=1, description="LoRA rank; default grows with the number of training examples (8-64).")
    lora_alpha: int | None = Field(None, ge=1, description="LoRA alpha; default 2 x rank.")
    lora_dropout: float | None = Field(
        None, ge=0.0, lt=1.0,
        description="LoRA dropout; default shrinks with data size (0.1 -> 0.0), and is 0 on CPU and for runs of "
        "at most one epoch.",
    )
    lora_layers: float | Literal["auto"] = Field(
        "auto",
        description="Share of the model's transformer layers, from the output end, that carry LoRA (1: all): the "
        "layers below run forward only, with no backward pass and no saved activations, so a step costs less. "
        "auto: a quarter for tool-call clusters, half for the others (tool-call clusters train 4 passes up to 500 "
        "examples whatever the share).",
    )
    cache_frozen_layers: bool = Field(
        True,
        description="Keep each training example's hidden states leaving the layers below the LoRA ones (host memory, "
        "up to 1 GiB) and run only the adapted layers on later passes over it: the same gradients, fewer FLOPs.",
    )
    learning_rate: float | None = Field(
        None, gt=0.0,
        description="Peak learning rate (AdamW); default 2e-4 x sqrt(7B / model parameters) for runs of >= 200 "
        "optimiser steps (2e-4 for 7B-class models, ~1.4e-3 for a 135M one), x sqrt(200 / steps) for shorter "
        "(CPU-budget) runs, at most 5e-3.",
    )
    lr_scheduler: Literal["cosine", "linear", "constant_with_warmup"] = Field("cosine", description="Learning-rate schedule.")
    warmup_ratio: float = Field(0.05, ge=0.0, lt=1.0, description="Share of the optimiser steps spent warming up.")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay on the LoRA weights.")
    epochs: float | None = Field(None, gt=0.0, description="Passes over the training examples; default shrinks with data size (4 -> 1).")
    batch_size: int | None = Field(None, ge=1, description="Examples per optimiser step; default grows with data size (2-32; on CPU at most ~2048 tokens per step).")
    micro_batch_size: int | None = Field(
        None, ge=1, description="Examples per forward pass (gradient accumulation makes up batch_size); default fits the device."
    )
    max_train_examples: int | None = Field(
        None, ge=1, description="Cap on training examples per cluster (seeded sample); default 1024 on CPU (the token budget then "
        "trains on each about once), no cap on GPU."
    )
    min_train_examples: int = Field(8, ge=1, description="Clusters with fewer usable training examples are skipped.")
    max_steps: int | None = Field(
        None, ge=1, description="Cap on optimiser steps per cluster; default: what the cluster's share of the budget "
        "buys at the measured training speed.",
    )
    budget: str = Field(
        "15m",
        description="Wall-clock budget (e.g. 90s, 15m, 2h, 3h30m) of this finetune run and the held-out evaluation of "
        "what it trains (iterate): a short throughput probe on this machine turns it into training seconds per "
        "cluster, most calls and LLM cost expected to move per second to a promotion decision first, each trained "
        "at least one pass over its examples, after reserving each trained cluster's evidence; "
        "run-all --budget sets it for the whole run.",
    )
    max_length: int | None = Field(
        None, ge=16,
        description="Token limit per example; default from the data (length_percentile of prompt+completion), "
        "at most max_length_cap.",
    )
    max_length_cap: int = Field(
        768, ge=64, description="Default max_length never exceeds this (long prompts lose their middle)."
    )
    length_percentile: float = Field(
        98.0, gt=50.0, le=100.0,
        description="Default max_length covers this percentile of example lengths; longer prompts are cut in the middle.",
    )
    gradient_checkpointing: Literal["auto", "on", "off"] = Field(
        "auto", description="Recompute activations to save memory: auto = on for QLoRA / models >= 1B, off otherwise."
    )
    validation_examples: int | None = Field(
        None, ge=0, description="Validation calls scored with the task metric each epoch; default 4 on CPU (a glimpse: iterate scores the test split), 64 on GPU."
    )
    max_new_tokens: int | None = Field(
        None, ge=1, description="Generation limit when validating; default from the longest training completion."
    )
    early_stopping_patience: int = Field(
        2, ge=0, description="Stop after this many evaluations without a better validation metric (0 = never)."
    )
    baseline: Literal["select", "measure", "off"] = Field(
        "select",
        description=(
            "The 'before' metric: select = select's zero-shot measurement of the chosen model on its validation "
            "sample (validation starts with those calls; measured here when select measured another model, none when "
            "select skipped the measurement, e.g. long prompts on a CPU); measure = score the base model zero-shot "
            "with the full prompt here; off = none."
        ),
    )
    merge: bool = Field(False, description="Also write the base model with the adapter merged in (safetensors).")
    reuse_cache: bool = Field(
        True, description="Reuse a finished training run from the workspace cache when cluster data and params are unchanged."
    )
    seed: int = seed_field("Seed for sampling, adapter initialisation and data order")

    @field_validator("budget", mode="before")
    @classmethod
    def _duration(cls, value: object) -> str:
        return check_budget(value)

    @field_validator("lora_layers")
    @classmethod
    def _share(cls, value: float | str) -> float | str:
        if value != "auto" and not 0.0 < float(value) <= 1.0:
            raise ValueError("lora_layers is a share of the layers: more than 0, at most 1 (or auto)")
        return value

    @field_validator("context_distillation", "baseline", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        """YAML reads a bare `off` (e.g. `--set finetune.baseline=off`) as false: accept it as "off"."""
        return "off" if value is False else value

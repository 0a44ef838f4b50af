"""The training plan of one cluster: method, precision and hyperparameters scaled to its data.

Small clusters get a small, well-regularised adapter trained for several epochs; large ones a
bigger rank, larger batches and fewer passes. The cluster's share of the wall-clock budget (seconds
x measured training tokens/s, see `finetune.allocate`) caps the steps, on any device: a fast
machine simply affords the full plan.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

from slmconvert.finetune.memory import cpu_needs_checkpointing, cpu_token_budget
from slmconvert.finetune.params import FinetuneParams

CPU_MAX_TRAIN_EXAMPLES = 1024  # the token budget binds first: a CPU run sees each example about once, so many distinct ones
CPU_VALIDATION_EXAMPLES = 4  # generation dominates a short CPU run: a glimpse; iterate measures on the test split
CPU_TOKENS_PER_BATCH = 2048  # smaller batches of long examples: more updates from the same CPU budget
GPU_VALIDATION_EXAMPLES = 64
GPU_TOKENS_PER_MICRO_BATCH = 16_384  # activations of one forward pass stay modest on a 16-24 GB card
MAX_EVAL_INTERVAL = 250  # optimiser steps between validations (and checkpoints) on long epochs
LARGE_MODEL_PARAMS = 1_000_000_000
BASE_LEARNING_RATE = 2e-4  # the usual LoRA rate of 7B-class models on runs of a few hundred steps and more
BASE_RATE_PARAMS = 7_000_000_000  # the model size that rate is usual for
FULL_RUN_STEPS = 200
EPOCH_ANCHORS = ((100, 4.0), (500, 3.0), (5000, 1.0))  # (training examples, passes over them)
LORA_LAYERS = 0.5  # lora_layers=auto: the share of the layers, from the top, that carries LoRA ...
TOOL_CALL_LORA_LAYERS = 0.25  # ... on a tool-call cluster, trained longer:
TOOL_CALL_EPOCH_ANCHORS = ((500, 4.0), (5000, 1.0))  # 4 passes up to 500 examples. Sample logs, 2-core AMD EPYC:
# the first decision (497 examples) agreed with the LLM on 85-89% of its test calls after 3 passes on half the
# layers (420 s), 88-92% after 4 on a quarter (378-387 s, two seeds), 80% after 3 on a quarter. The e-mail
# extraction (JSON) after 4 passes on a quarter agreed on 61% of its validation calls, and was promoted after
# 3.4 on half (86 of 95 test calls kept)
BATCH_ANCHORS = ((500, 8.0), (5000, 16.0), (50_000, 32.0))  # (training examples, examples per step)
MAX_LEARNING_RATE = 5e-3


@dataclass
class TrainPlan:
    """Everything that decides how one cluster is trained (recorded in metrics.json and the card)."""

    method: str
    device: str
    precision: str
    lora_rank: int
    lora_alpha: int
    lora_dropout: float
    lora_layers: float  # share of the transformer layers, from the top, that carry LoRA
    cache_frozen_layers: bool  # later passes start from the frozen layers' kept states (finetune.frozen_layers)
    learning_rate: float
    lr_scheduler: str
    warmup_steps: int
    weight_decay: float
    epochs: float
    batch_size: int
    micro_batch_size: int  # examples per loader batch: the whole optimiser batch unless set explicitly
    gradient_accumulation: int
    pass_tokens: int | None  # tokens (padding included) per forward pass: the trainer splits batches to fit
    steps_per_epoch: int
    max_steps: int
    eval_every_steps: int
    max_length: int
    gradient_checkpointing: bool
    padding_free: bool
    early_stopping_patience: int
    max_new_tokens: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_max_length(params: FinetuneParams, device: str, data_limit: int) -> int:
    """max_length: explicit, else the data's percentile limit, at most max_length_cap."""
    if params.max_length is not None:
        return params.max_length
    return min(data_limit, params.max_length_cap)


def cpu_supports_bf16() -> bool:
    """True on CPUs with native bf16 matrix instructions (AVX-512 BF16 or AMX), where bf16 is faster
    than fp32 (see util.device.cpu_bf16_decision)."""
    from slmconvert.util.device import cpu_bf16_support

    return cpu_bf16_support()[0]


def choose_method(params: FinetuneParams, device: str, n_params: int | None) -> str:
    """method=auto: QLoRA on a GPU for models of at least qlora_min_params, else LoRA."""
    if params.method != "auto":
        return params.method
    big = n_params is not None and n_params >= params.qlora_min_params
    return "qlora" if device == "cuda" and big else "lora"


def device_here(params: FinetuneParams) -> tuple[str, str]:
    """(device, precision) this process trains with: on a Ray worker, what its training tasks will use."""
    from slmconvert.util.device import pick_device

    device = pick_device(params.device)
    return device, choose_precision(params, device)


def choose_precision(params: FinetuneParams, device: str) -> str:
    """bf16 where the hardware computes it natively, else fp32."""
    if params.precision != "auto":
        return params.precision
    if device == "cuda":
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_supports_bf16() else "fp32"


def train_example_cap(params: FinetuneParams, device: str) -> int | None:
    """How many training examples a cluster may use (None = all)."""
    if params.max_train_examples is not None:
        return params.max_train_examples
    return CPU_MAX_TRAIN_EXAMPLES if device == "cpu" else None


def validation_cap(params: FinetuneParams, device: str) -> int:
    """How many validation calls are scored with the task metric each evaluation."""
    if params.validation_examples is not None:
        return params.validation_examples
    return CPU_VALIDATION_EXAMPLES if device == "cpu" else GPU_VALIDATION_EXAMPLES


def scaled_lora(n_train: int) -> tuple[int, float]:
    """(rank, dropout) for a data size: more data carries a larger adapter and needs less dropout."""
    rank = 8 if n_train < 200 else 16 if n_train < 2000 else 32 if n_train < 20000 else 64
    dropout = 0.1 if n_train < 500 else 0.05 if n_train < 5000 else 0.0
    return rank, dropout


def scaled_epochs(n_train: int, output_type: str | None = None) -> float:
    """Passes over the data: few examples need several passes, many need one (a tool-call cluster, on a
    quarter of the layers, more). Interpolated on the log of the size between the anchors, so a few more
    logged calls never cut the training: a step at 500 examples (3 passes below it, 2 from it) gave a
    cluster of 500 a third of the steps of one of 499."""
    return _log_interpolated(TOOL_CALL_EPOCH_ANCHORS if output_type == "tool_call" else EPOCH_ANCHORS, n_train)


def lora_share(params: FinetuneParams, output_type: str | None) -> float:
    """The share of the layers that carries LoRA: lora_layers, or for auto a quarter on tool calls and half
    on the rest (see TOOL_CALL_EPOCH_ANCHORS for what was measured)."""
    if params.lora_layers != "auto":
        return float(params.lora_layers)
    return TOOL_CALL_LORA_LAYERS if output_type == "tool_call" else LORA_LAYERS


def _log_interpolated(anchors: tuple[tuple[int, float], ...], n: int) -> float:
    """The value at `n` on the piecewise-linear curve through `anchors` over log(n), flat outside them."""
    if n <= anchors[0][0]:
        return anchors[0][1]
    for (low, low_value), (high, high_value) in pairwise(anchors):
        if n < high:
            share = math.log(n / low) / math.log(high / low)
            return round(low_value + share * (high_value - low_value), 3)
    return anchors[-1][1]


def scaled_learning_rate(steps: int, n_params: int | None = None) -> float:
    """Peak rate: 2e-4 for 7B-class models on runs of FULL_RUN_STEPS steps or more, larger for narrower
    models and for shorter runs (at most MAX_LEARNING_RATE).

    Width grows about as the square root of the parameter count (576 for 135M, 4096 for 7B) and the
    rate a hidden matrix takes stably shrinks with width, so a model gets 2e-4 x sqrt(7B / params);
    a run of fewer steps gets sqrt(FULL_RUN_STEPS / steps) more. Measured on SmolLM2-135M (one
    pass over a support agent's first decisions, 62 steps): 6.4e-4 left it calling lookup_order for
    requests its own training examples answer with other tools (validation strict agreement 0.57);
    2e-3 and 4e-3 reached 0.71 and 0.69; on another agent's multi-step chains, 5e-4 -> 2e-3 took
    it from 0.45 to 0.74."""
    narrow = math.sqrt(BASE_RATE_PARAMS / n_params) if n_params else 1.0
    short = math.sqrt(FULL_RUN_STEPS / max(1, steps))
    return min(MAX_LEARNING_RATE, BASE_LEARNING_RATE * max(1.0, narrow) * max(1.0, short))


def scaled_batch(n_train: int) -> int:
    """Examples per optimiser step: at least four steps per epoch on tiny clusters, 8 from 32 examples,
    then growing on the log of the size (16 at 5,000, at most 32), so steps grow with the data."""
    if n_train < BATCH_ANCHORS[0][0]:
        return max(2, min(8, n_train // 4))
    return int(round(_log_interpolated(BATCH_ANCHORS, n_train)))


def make_plan(
    params: FinetuneParams,
    *,
    device: str,
    n_params: int | None,
    n_train: int,
    mean_length: float,
    max_length: int,
    completion_max: int,
    varlen_attention: bool,
    token_budget: int | None = None,
    output_type: str | None = None,
) -> TrainPlan:
    """Resolve every None (and auto) in params for this cluster's data (its size, lengths and output type)
    and this device; `token_budget` (tokens the cluster's share of the budget buys) sets the steps unless
    max_steps is set (with epochs set, it only caps them)."""
    method = choose_method(params, device, n_params)
    precision = choose_precision(params, device)
    large = n_params is not None and n_params >= LARGE_MODEL_PARAMS
    checkpointing = {"on": True, "off": False}.get(
        params.gradient_checkpointing,
        method == "qlora" or large or (device == "cpu" and cpu_needs_checkpointing(max_length, precision, n_params)),
    )
    rank, dropout = scaled_lora(n_train)
    rank = params.lora_rank or rank
    batch = params.batch_size or scaled_batch(n_train)
    if device == "cpu" and params.batch_size is None:
        batch = max(2, min(batch, int(CPU_TOKENS_PER_BATCH // max(1.0, mean_length))))
    batch = min(batch, max(1, n_train))
    pass_tokens = None
    if params.micro_batch_size is None:  # one loader batch per step, split into passes by token budget
        micro, pass_tokens = batch, _pass_tokens(device, precision, n_params, checkpointing)
    else:
        micro = min(params.micro_batch_size, batch)
    accumulation = math.ceil(batch / micro)
    batch = micro * accumulation
    steps_per_epoch = max(1, math.ceil(n_train / batch))
    epochs = params.epochs or scaled_epochs(n_train, output_type)
    steps = max(1, math.ceil(epochs * steps_per_epoch))
    if token_budget is not None and params.max_steps is None:  # the budget plan's share: fewer steps, or
        # more than the default epochs where seconds were left (finetune.allocate), unless epochs were set
        bought = max(1, int((token_budget + 1) // max(1.0, batch * mean_length)))  # + the token full_plan_tokens cut
        steps = bought if params.epochs is None else min(steps, bought)
    if params.max_steps is not None:
        steps = min(steps, params.max_steps)
    epochs_run = steps / steps_per_epoch
    if params.lora_dropout is not None:
        dropout = params.lora_dropout
    elif device == "cpu" or epochs_run <= 1.0:
        dropout = 0.0  # nothing to overfit in a short run, and dropout masks cost ~30% of a CPU step
    return TrainPlan(
        method=method,
        device=device,
        precision=precision,
        lora_rank=rank,
        lora_alpha=params.lora_alpha or 2 * rank,
        lora_dropout=dropout,
        lora_layers=lora_share(params, output_type),
        cache_frozen_layers=params.cache_frozen_layers,
        learning_rate=params.learning_rate or round(scaled_learning_rate(steps, n_params), 6),
        lr_scheduler=params.lr_scheduler,
        warmup_steps=int(round(params.warmup_ratio * steps)),
        weight_decay=params.weight_decay,
        epochs=round(epochs_run, 3),
        batch_size=batch,
        micro_batch_size=micro,
        gradient_accumulation=accumulation,
        pass_tokens=pass_tokens,
        steps_per_epoch=steps_per_epoch,
        max_steps=steps,
        eval_every_steps=_eval_interval(steps_per_epoch, steps, device),
        max_length=max_length,
        gradient_checkpointing=checkpointing,
        padding_free=varlen_attention,
        early_stopping_patience=params.early_stopping_patience,
        max_new_tokens=params.max_new_tokens or max(16, int(completion_max * 1.25) + 4),
        seed=params.seed,
    )


def make_probe_plan(params: FinetuneParams, device: str, n_params: int | None,
                    lora_layers: float | None = None) -> TrainPlan:
    """The plan the throughput probe loads and trains with: this run's method and precision, LoRA on
    `lora_layers` of the layers (default: what lora_layers gives a cluster that is not a tool-call one)."""
    update: dict[str, Any] = {"max_steps": None}
    if lora_layers is not None:
        update["lora_layers"] = lora_layers
    return make_plan(params.model_copy(update=update), device=device, n_params=n_params, n_train=64,
                     mean_length=128.0, max_length=128, completion_max=16, varlen_attention=False)


def full_plan_tokens(plan: TrainPlan, mean_length: float) -> int:
    """Tokens (prompt + completion, all steps) a plan trains on."""
    return int(plan.max_steps * plan.batch_size * mean_length)


def _pass_tokens(device: str, precision: str, n_params: int | None, checkpointing: bool) -> int:
    """Tokens one forward pass may hold: the CPU activation budget, or a modest GPU pass. On a CPU a
    pass of one 164-token example trained at 60% of the speed of a pass of four (Intel Xeon, 2 cores)."""
    return cpu_token_budget(precision, n_params, checkpointing) if device == "cpu" else GPU_TOKENS_PER_MICRO_BATCH


def _eval_interval(steps_per_epoch: int, total_steps: int, device: str) -> int:
    """Steps between validations. GPU: once per epoch (at least every MAX_EVAL_INTERVAL steps) and at
    least twice per run, so the best checkpoint is a real choice. CPU, where generation is the costly
    part: once per epoch but at most twice per run (so still twice on runs of 1-2 epochs), and once at
    the end of a run shorter than an epoch."""
    if device == "cpu":
        if total_steps <= steps_per_epoch:
            return total_steps
        interval = max(steps_per_epoch, math.ceil(total_steps / 2))
    else:
        interval = min(steps_per_epoch, MAX_EVAL_INTERVAL)
    if total_steps < 2 * interval:
        interval = max(1, math.ceil(total_steps / 2))
    return interval

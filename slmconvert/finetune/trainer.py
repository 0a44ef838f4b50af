"""trl's SFTTrainer with what a trustworthy specialist needs: the task metric at every validation,
length-grouped batches (little padding) and honest token accounting.

The validation metric is the evaluation harness's primary metric for the cluster's output type,
computed by generating on a small validation sample; it is added to the eval metrics inside
`evaluation_loop`, so best-checkpoint selection, early stopping and the logs all see it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from trl import SFTConfig, SFTTrainer

from slmconvert.finetune.budget import TrainPlan
from slmconvert.finetune.data_parallel import (
    Ranks,
    broadcast_params,
    from_rank_zero,
    ranks,
    sync_gradients,
)
from slmconvert.finetune.frozen_layers import FrozenLayerCache
from slmconvert.models.prompt import PromptFormat
from slmconvert.util.memory import HeapTrimmer, release_memory

SELECTION_KEY = "selection_score"
TASK_KEY = "task_metric"
LOSS_TIEBREAK = 1e-4  # validation loss only breaks ties between equal task metrics
MATH_ATTENTION_BYTES = 256 * 2**20  # attention a CPU pass may hold for backward under the math kernel: a pass of
# five 160-token rows of SmolLM2 hold ~130 MB; one 768-token row would hold ~610 MB and keeps the flash kernel


@dataclass
class TokenMeter:
    """Tokens and loss-bearing (completion) tokens trained, and the seconds spent in training steps."""

    tokens: int = 0
    loss_tokens: int = 0
    padded_tokens: int = 0
    replayed_tokens: int = 0  # tokens of passes that started from the frozen layers' kept states
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # process CPU time: a steadier measure than wall time on a shared CPU
    steps: int = 0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    @property
    def loss_tokens_per_second(self) -> float:
        return self.loss_tokens / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "loss_tokens": self.loss_tokens,
            "padded_tokens": self.padded_tokens,
            "replayed_tokens": self.replayed_tokens,
            "padding_share": round(1 - self.tokens / self.padded_tokens, 4) if self.padded_tokens else 0.0,
            "train_step_seconds": round(self.seconds, 3),
            "train_step_cpu_seconds": round(self.cpu_seconds, 3),
            "tokens_per_second": round(self.tokens_per_second, 1),
            "loss_tokens_per_second": round(self.loss_tokens_per_second, 1),
        }


class LengthGroupedSampler(torch.utils.data.Sampler[int]):
    """Indices whose consecutive micro-batches hold examples of similar length, in a seeded
    random batch order that changes every epoch (transformers' own sampler only groups within
    mega-batches, which on a few dozen examples means no grouping at all).

    Data-parallel (`ranks.world` > 1): every rank draws the same order, full batches first, and keeps
    every world-th batch, as many on each rank (the last world-1 batches of an epoch may go unused)."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, ranks: Ranks | None = None) -> None:
        self.lengths = list(lengths)
        self.batch_size = max(1, batch_size)
        self.seed = seed
        self.ranks = ranks or Ranks()
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:  # the count does not depend on the draw: any seed gives it
        return sum(len(batch) for batch in self._batches(random.Random(0)))

    def __iter__(self) -> Iterator[int]:
        return iter([i for batch in self._batches(random.Random(self.seed * 1_000_003 + self.epoch)) for i in batch])

    def _batches(self, rng: random.Random) -> list[list[int]]:
        noise = [rng.random() for _ in self.lengths]
        order = sorted(range(len(self.lengths)), key=lambda i: (self.lengths[i], noise[i]))
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        rng.shuffle(batches)
        if self.ranks.world == 1:
            return batches
        batches.sort(key=lambda batch: len(batch) < self.batch_size)  # a short batch would shift the others' rows
        each = len(batches) // self.ranks.world
        return batches[self.ranks.rank::self.ranks.world][:each]


@dataclass
class Validator:
    """Scores the model on validation calls with the task's primary metric (evaluation harness)."""

    examples: list[Any]  # evaluation.EvalExample
    fmt: PromptFormat
    output_type: str
    max_new_tokens: int
    batch_size: int
    seed: int = 0
    prompts: list[str] | None = None  # pre-rendered prompts (default: each example rendered with fmt)

    def __call__(self, model: Any, tokenizer: Any) -> dict[str, Any]:
        from slmconvert.evaluation import evaluate

        started = time.perf_counter()
        result = evaluate(
            model, tokenizer, self.examples, self.fmt, max_new_tokens=self.max_new_tokens,
            batch_size=self.batch_size, output_type_hint=self.output_type, seed=self.seed, prompts=self.prompts,
        )
        summary = {
            "metric": result.primary_metric,
            "value": result.primary.value if result.primary.value is not None else 0.0,
            "interval": [result.primary.low, result.primary.high],
            "n": result.primary.n,
            "metrics": result.metrics_dict(),
            "seconds": round(time.perf_counter() - started, 3),
        }
        return summary


class InstrumentedSFTTrainer(SFTTrainer):
    """A plain SFTTrainer that also meters its training steps (tokens, loss-bearing tokens, seconds)
    and adds the task metric to every evaluation; it trains exactly like SFTTrainer."""

    def __init__(self, *args: Any, validator: Validator | None = None, meter: TokenMeter | None = None,
                 **kwargs: Any) -> None:
        self.validator = validator
        self.meter = meter or TokenMeter()
        self.ranks = ranks()  # data-parallel: rank 0 validates for all (finetune.data_parallel)
        super().__init__(*args, **kwargs)

    def training_step(self, model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> torch.Tensor:
        labels = inputs.get("labels")
        if labels is not None:
            self.meter.loss_tokens += int((labels[..., 1:] != -100).sum())
            self.meter.padded_tokens += int(labels.numel())
        mask = inputs.get("attention_mask")
        self.meter.tokens += int(mask.sum()) if mask is not None else int(inputs["input_ids"].numel())
        started, cpu_started = time.perf_counter(), time.process_time()
        loss = super().training_step(model, inputs, *args, **kwargs)
        if self.args.device.type == "cuda":
            torch.cuda.synchronize()
        self.meter.seconds += time.perf_counter() - started
        self.meter.cpu_seconds += time.process_time() - cpu_started
        self.meter.steps += 1
        return loss

    def evaluation_loop(self, *args: Any, **kwargs: Any) -> Any:
        output = super().evaluation_loop(*args, **kwargs)
        prefix = kwargs.get("metric_key_prefix", args[4] if len(args) > 4 else "eval")
        loss = output.metrics.get(f"{prefix}_loss")
        output.metrics[f"{prefix}_train_seconds"] = round(self.meter.seconds, 3)  # curves over compute time
        output.metrics[f"{prefix}_train_cpu_seconds"] = round(self.meter.cpu_seconds, 3)
        task = 0.0  # without validation calls the loss alone decides
        if self.validator is not None and self.ranks.main:  # data-parallel: the other ranks take rank 0's metrics
            score = self.validator(self.model, self.processing_class)
            task = float(score["value"])
            low, high = score["interval"]
            output.metrics.update({
                f"{prefix}_{TASK_KEY}": task,
                f"{prefix}_{TASK_KEY}_low": low,
                f"{prefix}_{TASK_KEY}_high": high,
                f"{prefix}_{TASK_KEY}_n": score["n"],
                f"{prefix}_{TASK_KEY}_seconds": score["seconds"],
            })
        tiebreak = LOSS_TIEBREAK * min(float(loss), 100.0) if loss is not None and math.isfinite(loss) else 0.0
        output.metrics[f"{prefix}_{SELECTION_KEY}"] = task - tiebreak
        output.metrics.update(from_rank_zero(dict(output.metrics)))  # one best checkpoint and stop for all ranks
        return output


class SpecialistTrainer(InstrumentedSFTTrainer):
    """The specialist trainer: InstrumentedSFTTrainer + length-grouped batches, each split into forward
    passes of at most `pass_tokens` tokens (gradients accumulate; the loss is the batch's) + an LM head
    that projects only the completion positions (the loss is the same), on a thread pool sized to the
    cores other processes leave free; passes after the first over an example run the adapted layers
    only, from the frozen layers' kept output (finetune.frozen_layers). As one rank of a data-parallel
    group (finetune.data_parallel) it trains on its share of the batches and sums the gradients with the
    other ranks after each step."""

    def __init__(self, *args: Any, lengths: Sequence[int], pass_tokens: int | None = None,
                 trim_slack_mb: float, cache_frozen_layers: bool = False, **kwargs: Any) -> None:
        from slmconvert.util.threads import ThreadGovernor

        self.lengths = list(lengths)
        self.pass_tokens = pass_tokens
        self.trim_slack_mb = trim_slack_mb
        self.cache_frozen_layers = cache_frozen_layers
        self.frozen: FrozenLayerCache | None = None
        self.governor = ThreadGovernor()
        super().__init__(*args, **kwargs)

    def train(self, *args: Any, **kwargs: Any) -> Any:
        # loading left freed buffers (the dequantised checkpoint): train from a trimmed heap, and hand it
        # back whenever it grows past the slack (finetune.memory.heap_slack_mb)
        release_memory()
        self.trim_heap = HeapTrimmer(slack_mb=self.trim_slack_mb)
        broadcast_params(self.model.parameters())  # data-parallel ranks start from one adapter
        self.step_loss_tokens = 0
        self.frozen = FrozenLayerCache(self.model) if self.cache_frozen_layers else None
        try:
            return super().train(*args, **kwargs)
        finally:
            self.governor.restore()  # the next cluster starts from the pool this one found

    def training_step(self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> torch.Tensor:
        self.governor.adjust()
        passes = token_passes(inputs, self.pass_tokens)
        if len(passes) > 1 and num_items_in_batch is None:  # every pass divides by the whole batch's loss tokens
            num_items_in_batch = int((inputs["labels"][..., 1:] != -100).sum())
        losses = []
        for part in passes:
            with attention_kernel(part, model.config, self.args.device.type):
                losses.append(super().training_step(model, part, num_items_in_batch))
            self._trimmed()
        if self.frozen is not None:
            self.meter.replayed_tokens = self.frozen.replayed_tokens
        if self.ranks.world > 1:
            self.step_loss_tokens += int((inputs["labels"][..., 1:] != -100).sum())
            if self.accelerator.sync_gradients:  # the step's last micro-batch: the whole batch's gradient
                weight = num_items_in_batch if num_items_in_batch is not None else self.step_loss_tokens
                sync_gradients(model.parameters(), float(weight))
                self.step_loss_tokens = 0
        return sum(losses)

    def _trimmed(self) -> None:
        """Hand freed activations back to the OS now and then (util.memory), timed as training."""
        started = time.perf_counter()
        if self.trim_heap():
            self.meter.seconds += time.perf_counter() - started

    def _get_train_sampler(self, train_dataset: Any = None) -> torch.utils.data.Sampler | None:
        return LengthGroupedSampler(self.lengths, self.args.per_device_train_batch_size, self.args.seed, self.ranks)

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        """Mean cross-entropy over the completion tokens, with the vocabulary projection (and its
        backward) run on those positions only. Without Triton, trl's fused head scores every position
        and adds entropy and top-1 statistics: with prompts 5-10x longer than completions, that is a
        third of a CPU step spent on tokens that carry no loss."""
        if return_outputs or "labels" not in inputs:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        frozen = self.frozen.forward(inputs) if self.frozen is not None else contextlib.nullcontext()
        with self.accelerator.autocast(), frozen:  # accelerate applies mixed precision in model.forward, bypassed here
            return completion_loss(model, inputs, num_items_in_batch)


def attention_kernel(inputs: dict[str, Any], config: Any, device: str) -> Any:
    """The attention kernel a training pass runs under: on a CPU, SDPA's math kernel (matrix products)
    where the attention weights it keeps for the backward pass stay within MATH_ATTENTION_BYTES; else
    the default. The CPU flash kernel's backward took a fifth of a LoRA step of SmolLM2-135M (AMD EPYC,
    2 cores, bf16, support-agent batches of ~150-token rows): the math kernel trained at 1.05-1.23x
    its speed (1.10x on one core, 1.02-1.08x in fp32), with the same losses."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from slmconvert.models.loading import attention_shape

    ids = inputs.get("input_ids")
    if device != "cpu" or ids is None or ids.dim() != 2:
        return contextlib.nullcontext()
    heads, layers = attention_shape(config)
    rows, width = ids.shape
    kept = rows * heads * width * width * 4 * layers  # fp32 bound: scores and weights of every layer
    return sdpa_kernel([SDPBackend.MATH]) if kept <= MATH_ATTENTION_BYTES else contextlib.nullcontext()


def token_passes(inputs: dict[str, Any], budget: int | None) -> list[dict[str, Any]]:
    """The batch's rows in forward passes of at most `budget` tokens (rows x longest row, padding
    included), longest rows first, each pass cut to its own longest row; one pass when it fits."""
    mask = inputs.get("attention_mask")
    ids = inputs["input_ids"]
    if budget is None or mask is None or ids.dim() != 2 or ids.shape[0] < 2 or ids.numel() <= budget:
        return [inputs]
    lengths = mask.sum(dim=1).tolist()
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = [[]]
    for row in order:
        widest = lengths[groups[-1][0]] if groups[-1] else lengths[row]
        if groups[-1] and (len(groups[-1]) + 1) * widest > budget:
            groups.append([])
        groups[-1].append(row)
    if len(groups) == 1:
        return [inputs]
    passes = []
    for group in groups:
        rows = torch.tensor(group, device=ids.device)
        columns = mask.index_select(0, rows).any(dim=0)  # works for left or right padding
        passes.append({key: value.index_select(0, rows)[:, columns]
                       if torch.is_tensor(value) and value.shape[:2] == ids.shape else value
                       for key, value in inputs.items()})
    return passes


def completion_loss(model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> torch.Tensor:
    """Sum of next-token cross-entropy at labelled positions / (num_items_in_batch or their count).

    Under autocast the adapters take their inputs as they come: peft would cast each adapted layer's
    bf16 input to the adapter's fp32 weights and autocast straight back to bf16 for the matmul, two
    activation-sized copies per layer (and two more backwards) for the same numbers."""
    from peft.helpers import disable_input_dtype_casting

    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    backbone = getattr(causal, causal.base_model_prefix)
    features = {k: v for k, v in inputs.items() if k not in ("labels", "completion_mask")}
    autocast = torch.is_autocast_enabled(inputs["input_ids"].device.type)
    with disable_input_dtype_casting(model, active=autocast):
        hidden = backbone(**features, use_cache=False).last_hidden_state[:, :-1]
    targets = inputs["labels"][:, 1:].to(hidden.device)
    mask = targets != -100
    logits = causal.get_output_embeddings()(hidden[mask]).float()
    config = causal.config.get_text_config()
    if getattr(config, "logit_scale", None):  # a few families scale or soft-cap their logits
        logits = logits * config.logit_scale
    if cap := getattr(config, "final_logit_softcapping", None):
        logits = torch.tanh(logits / cap) * cap
    loss = torch.nn.functional.cross_entropy(logits, targets[mask], reduction="sum")
    denominator = num_items_in_batch if num_items_in_batch is not None else mask.sum()
    return loss / torch.as_tensor(denominator, device=loss.device).clamp(min=1)


def eval_batch_size(plan: TrainPlan) -> int:
    """Examples per validation-loss pass: the loss pass scores the whole vocabulary at every position
    (8 x 448 tokens of SmolLM2 held ~0.7 GB of fp32 logits), so it holds what one training pass may."""
    if plan.pass_tokens is None:
        return plan.micro_batch_size
    return max(1, min(plan.micro_batch_size, plan.pass_tokens // max(1, plan.max_length)))


def sft_config(plan: TrainPlan, output_dir: Path, validate: bool = True) -> SFTConfig:
    """SFTConfig for a plan: step-based validation + checkpoints, best model by the task metric
    (without validation data: checkpoints only, and the last step is kept)."""
    return SFTConfig(
        output_dir=str(output_dir),
        per_device_train_batch_size=plan.micro_batch_size,
        per_device_eval_batch_size=eval_batch_size(plan),
        gradient_accumulation_steps=plan.gradient_accumulation,
        learning_rate=plan.learning_rate,
        lr_scheduler_type=plan.lr_scheduler,
        warmup_steps=plan.warmup_steps,
        weight_decay=plan.weight_decay,
        max_steps=plan.max_steps,
        eval_strategy="steps" if validate else "no",
        eval_steps=plan.eval_every_steps,
        save_strategy="steps",
        save_steps=plan.eval_every_steps,
        save_total_limit=1,  # with load_best_model_at_end the best checkpoint is kept besides the latest
        load_best_model_at_end=validate,
        metric_for_best_model=SELECTION_KEY if validate else None,
        greater_is_better=True,
        logging_steps=1,
        logging_first_step=True,
        bf16=plan.precision == "bf16",
        fp16=False,
        use_cpu=plan.device == "cpu",
        **_checkpointing_args(plan.gradient_checkpointing),
        max_length=None,  # examples are already cut to the plan's max_length (prompt middle, never the completion)
        packing=False,
        padding_free=plan.padding_free,
        completion_only_loss=True,
        shuffle_dataset=False,  # LengthGroupedSampler orders the data
        report_to="none",
        disable_tqdm=True,
        seed=plan.seed,
        data_seed=plan.seed,
        dataloader_num_workers=0,
        save_only_model=False,  # optimizer + scheduler + RNG states, so a killed run resumes exactly
    )


def _checkpointing_args(enabled: bool) -> dict[str, Any]:
    """Activation checkpointing under the name this transformers version uses (renamed in 5.x)."""
    names = {f.name for f in dataclasses.fields(SFTConfig)}
    prefix = "activation" if "activation_checkpointing" in names else "gradient"
    return {f"{prefix}_checkpointing": enabled,
            f"{prefix}_checkpointing_kwargs": {"use_reentrant": False} if enabled else None}

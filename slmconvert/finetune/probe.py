"""A short throughput probe on this machine: training tokens/s of a base model with LoRA (as the
trainer runs it: same loading, precision and adapter placement), and prefill / decode tokens/s of
batched generation. The budget plan turns seconds into tokens and calls with these numbers, so
what fits a run depends on the measured machine, never on constants tuned to one CPU.

A probe takes a few seconds; its result is cached per machine (CPU model, torch threads, device),
model identity and slmconvert code, so the stages of one run (and later runs) measure once.
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from slmconvert.finetune.budget import TrainPlan
from slmconvert.util.jsonio import atomic_write_json, read_json, sha256_json

PROBE_TOKENS = 64  # prompt length of the generation probe
TRAIN_SHAPE = (2, 256)  # sequences x tokens of a probe training step: near a real step's size (tiny steps
# under-use the matrix units: 64-token steps measured ~4x slower than the trainer's real ones)
PROBE_NEW_TOKENS = 24  # decode steps timed, after an untimed warm-up at the same batch (the first steps at a
# new batch shape build kernels: 4 cold steps read 4x slower than evaluation then decoded); enough that the
# run to one token taken off their run (its prefill) is a small part of it
TRAIN_STEPS = 2  # timed optimiser steps (after one warm-up step), full and replayed, averaged: one step read
# up to 1.2x slow (a probe in run-all priced a replayed pass at 0.99 of a full one, where the probes before
# and after measured 0.72-0.82); the fastest would be optimistic, and the trainer already runs slower than
# the probe's bare steps (the sample logs' first decision: 17% on 2 cores of an AMD EPYC)


@dataclass
class Throughput:
    """Measured speeds of one model on one machine (tokens per second, all sequences of a batch together)."""

    model: str
    device: str
    train_tokens_per_second: float
    prefill_tokens_per_second: float
    decode_tokens_per_second: float  # generated tokens/s summed over a batch of `batch` sequences
    batch: int
    load_seconds: float
    probe_seconds: float
    source: str = "measured"  # measured | cached | estimate
    machine: str = ""  # CPU model and torch threads (GPU name on CUDA) it was measured on
    replay_cost: float = 1.0  # seconds per token of a pass from the frozen layers' kept states over a full
    # pass's (finetune.frozen_layers; 1.0: not measured, every pass priced in full)
    continuous: bool = False  # generation refills rows as they end (evaluation.continuous) for this model
    row_step_seconds: float = 0.0  # one decoding step of a single row (a generation run's tail, where rows
    # have left; 0.0: not measured, a whole batch's step stands in)
    lora_layers: float | None = None  # share of the layers LoRA sat on when training was timed (None: not recorded)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def train_seconds(self, tokens: float) -> float:
        return tokens / max(1e-9, self.train_tokens_per_second)

    def call_seconds(self, prompt_tokens: float, new_tokens: float) -> float:
        """Generation seconds one call costs in a batch: its share of prefill and decode."""
        return (prompt_tokens / max(1e-9, self.prefill_tokens_per_second)
                + new_tokens / max(1e-9, self.decode_tokens_per_second))

    def alone_seconds(self, new_tokens: float) -> float:
        """Seconds of `new_tokens` decoded by one row alone (a whole batch's step where not measured)."""
        step = self.row_step_seconds or self.batch / max(1e-9, self.decode_tokens_per_second)
        return new_tokens * step


def cpu_model() -> str:
    """The CPU's model name (lscpu's "Model name"), for the cache key."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_name(device: str) -> str:
    """The machine a probe describes, as people read it: CPU model x threads (and the GPU)."""
    import torch

    name = f"{cpu_model()} x{torch.get_num_threads()} threads"
    if device == "cuda" and torch.cuda.is_available():
        name += f", {torch.cuda.get_device_name(0)}"
    return name


def machine_key(model_identity: str, device: str, precision: str) -> str:
    """What a measurement depends on: machine, threads, OpenMP's wait policy and oneDNN's cache, device,
    precision, model and code."""
    import os

    import torch

    from slmconvert.util.memory import ONEDNN_CACHE_VARIABLES
    from slmconvert.util.source import package_digest
    from slmconvert.util.threads import OPENMP_WAIT_VARIABLES

    gpu = torch.cuda.get_device_name(0) if device == "cuda" and torch.cuda.is_available() else None
    runtime = {name: os.environ.get(name) for name in (*OPENMP_WAIT_VARIABLES, *ONEDNN_CACHE_VARIABLES)}
    return sha256_json({"cpu": cpu_model(), "threads": torch.get_num_threads(), "runtime": runtime, "device": device, "gpu": gpu,
                        "precision": precision, "model": model_identity, "code": package_digest()})


def cache_path(cache_dir: Path, model_identity: str, plan: TrainPlan, batch: int) -> Path:
    """Where the probe of this model, plan (method, LoRA layers, precision) and generation batch is cached."""
    key = machine_key(f"{model_identity}:{plan.method}:{plan.lora_layers:g}", plan.device, plan.precision)
    return cache_dir / f"{key.removeprefix('sha256:')[:24]}-b{batch}.json"


def cached_probe(cache_dir: Path, model: str, model_identity: str, plan: TrainPlan, batch: int) -> Throughput:
    """The model's throughput here: from the cache, else measured now (and cached)."""
    path = cache_path(cache_dir, model_identity, plan, batch)
    if path.is_file():
        return Throughput(**{**read_json(path), "source": "cached"})
    result = measure(model, plan, batch)
    atomic_write_json(path, result.to_dict())
    return result


def cached_probes(cache_dir: Path, device: str) -> list[Throughput]:
    """Every probe cached in the workspace that was measured on this machine (for dry runs)."""
    here = machine_name(device)
    found = []
    for path in sorted(cache_dir.glob("*.json")) if cache_dir.is_dir() else []:
        try:
            speed = Throughput(**{**read_json(path), "source": "cached"})
        except (TypeError, ValueError, OSError):
            continue
        if speed.machine == here and speed.device == device:
            found.append(speed)
    return found


def measure(model: str, plan: TrainPlan, batch: int) -> Throughput:
    """Load the model as the trainer does, time a few LoRA training steps, then generation."""
    import torch

    from slmconvert.evaluation.continuous import slots_supported
    from slmconvert.finetune.modeling import load_for_training, lora_config
    from slmconvert.models.loading import model_path
    from slmconvert.util.device import configure_threads

    device = plan.device
    configure_threads()  # the intra-op pool the trainer runs with (run.py does the same)
    # a GGUF is converted into the model cache once per machine (AMD EPYC, 2 cores: 19 s for SmolLM2-135M,
    # 53 s for Gemma-3-270M) and then loads in 0.2-3 s: the plan charges every cluster the load, not that
    model_path(model)
    started = time.perf_counter()
    loaded = load_for_training(model, plan)
    load_seconds = time.perf_counter() - started
    net = loaded.model
    vocab = int(getattr(net.config, "vocab_size", 0) or getattr(net.get_input_embeddings(), "num_embeddings", 1000))
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(10, max(11, min(vocab, 30_000)), TRAIN_SHAPE, generator=generator).to(net.device)
    # generation first, on the untouched base as evaluation gets it: measured after a LoRA training step
    # and unload, the same model generated 2-16x slower and held up to 5 GB more (SmolLM2, Gemma-3-270M)
    continuous = slots_supported(net)
    prefill_tps, decode_tps, row_step = _generation_speed(net, vocab, batch, loaded.tokenizer, continuous)
    train_tps, replay_cost = _train_speed(net, ids, plan, lora_config(plan, net))
    del net, loaded
    return Throughput(model=model, device=device, train_tokens_per_second=round(train_tps, 2),
                      prefill_tokens_per_second=round(prefill_tps, 2), decode_tokens_per_second=round(decode_tps, 2),
                      batch=batch, load_seconds=round(load_seconds, 2),
                      probe_seconds=round(time.perf_counter() - started, 2), machine=machine_name(device),
                      replay_cost=round(replay_cost, 3), continuous=continuous, row_step_seconds=round(row_step, 5),
                      lora_layers=plan.lora_layers)


def _autocast(device: str, precision: str) -> Any:
    import torch

    return torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=precision == "bf16")


def _train_speed(net: Any, ids: Any, plan: Any, config: Any) -> tuple[float, float]:
    """(tokens/s, replay cost) of forward + backward + AdamW step on a LoRA-wrapped copy (unwrapped
    afterwards), with the trainer's loss: the vocabulary projected at the completion positions only (the
    last quarter here; projecting all 512 positions of a 262k-word vocabulary held GBs and read slow).
    The replay cost is a step from the frozen layers' kept states (finetune.frozen_layers) over a full one."""
    import torch
    from peft import get_peft_model

    from slmconvert.finetune.frozen_layers import FrozenLayerCache

    peft_model = get_peft_model(net, config)
    peft_model.train()
    optimiser = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-4)
    labels = ids.clone()
    labels[:, : ids.shape[1] * 3 // 4] = -100
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    frozen = FrozenLayerCache(peft_model)
    with frozen.forward(inputs):  # the first step warms up kernels and allocators, and keeps the frozen states
        _train_step(peft_model, optimiser, inputs, plan)
    def mean_step() -> float:
        return sum(_train_step(peft_model, optimiser, inputs, plan) for _ in range(TRAIN_STEPS)) / TRAIN_STEPS

    full = replay = mean_step()
    if frozen.enabled and frozen.rows:
        with frozen.forward(inputs):
            replay = mean_step()
    peft_model.unload()  # back to the plain base model
    return ids.numel() / max(1e-9, full), min(1.0, replay / max(1e-9, full))


def _train_step(model: Any, optimiser: Any, inputs: dict[str, Any], plan: Any) -> float:
    """Seconds of one training step as the trainer runs it."""
    import torch

    from slmconvert.finetune.trainer import attention_kernel, completion_loss

    begin = time.perf_counter()
    with attention_kernel(inputs, model.config, plan.device):
        with _autocast(plan.device, plan.precision):
            loss = completion_loss(model, inputs)
        loss.backward()
    optimiser.step()
    optimiser.zero_grad(set_to_none=True)
    if plan.device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - begin


def _generation_speed(net: Any, vocab: int, batch: int, tokenizer: Any,
                      continuous: bool) -> tuple[float, float, float]:
    """(prefill tokens/s, decode tokens/s, seconds of one row's decoding step) of the evaluation's own
    decoder (slots where `continuous`, else whole-batch `generate`) on `batch` distinct PROBE_TOKENS-token
    prompts, and on one: a run to one new token and a run to 1 + PROBE_NEW_TOKENS, whose difference is
    the decoding steps alone; the prefill is the first run less one step. Decoding attends to the
    prompt's columns, so steps after a 64-token prompt cost what evidence pays (after a 4-token one they
    read 20-30% cheaper than the sample logs' evidence took). Each shape runs once untimed first (the
    first steps at a new shape build kernels)."""
    import torch

    from slmconvert.evaluation.continuous import Prefill, SlotDecoder

    net.eval()
    generator = torch.Generator().manual_seed(1)
    prompts = torch.randint(10, max(11, min(vocab, 30_000)), (batch, PROBE_TOKENS), generator=generator)
    prompts = prompts.to(next(net.parameters()).device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def decode(rows: int, steps: int) -> float:
        begin = time.perf_counter()
        if continuous:
            encoded = prompts[:rows].tolist()
            SlotDecoder(net, Prefill(encoded, [], None, lambda _width: rows), slots=rows, max_new_tokens=steps,
                        stops=(), pad_id=pad).decode(range(rows))
        else:
            net.generate(input_ids=prompts[:rows], attention_mask=torch.ones_like(prompts[:rows]),
                         max_new_tokens=steps, min_new_tokens=steps, do_sample=False, pad_token_id=pad)
        return time.perf_counter() - begin

    def steps(rows: int) -> tuple[float, float]:
        """(seconds of one decoding step, of the run to one new token) at `rows` rows."""
        decode(rows, 1)  # warm-up
        first = decode(rows, 1)
        return max(1e-9, decode(rows, 1 + PROBE_NEW_TOKENS) - first) / PROBE_NEW_TOKENS, first

    with torch.inference_mode():
        batch_step, first = steps(batch)
        row_step, _ = steps(1)
    return prompts.numel() / max(1e-9, first - batch_step), batch / batch_step, row_step

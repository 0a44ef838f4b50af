"""Gates a candidate must pass for a cluster before it is evaluated: context, memory, licence, and
compute (can it train and answer its evidence within the budget, at the speed measured here?)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slmconvert.models.info import ModelInfo

BYTES_PER_PARAM = {"float32": 4.0, "bfloat16": 2.0, "float16": 2.0}
NF4_BYTES_PER_PARAM = 0.56  # 4-bit weights + double-quantised scales (embeddings stay larger)
OVERHEAD = 1.2  # activations, allocator slack, framework buffers


def percentile_99(lengths: list[int]) -> int:
    """The 99th percentile (nearest rank, rounded up) of token lengths."""
    if not lengths:
        return 0
    ordered = sorted(lengths)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


def context_gate(context_length: int | None, p99_prompt_tokens: int, max_new_tokens: int) -> dict[str, Any]:
    """Passes when the context holds the cluster's p99 prompt (unknown context: passes, noted)."""
    gate = {
        "required_tokens": p99_prompt_tokens,
        "context_length": context_length,
        "fits_with_generation": None if context_length is None else p99_prompt_tokens + max_new_tokens <= context_length,
    }
    gate["passed"] = context_length is None or context_length >= p99_prompt_tokens
    if not gate["passed"]:
        gate["reason"] = f"context {context_length} < p99 prompt {p99_prompt_tokens} tokens"
    elif context_length is None:
        gate["reason"] = "context length unknown (not gated)"
    return gate


@dataclass(frozen=True)
class Work:
    """The least a cluster asks of a candidate within the budget: train on `train_tokens` and answer
    `evidence_calls` held-out calls of `prompt_tokens` + `new_tokens` each."""

    train_tokens: float
    evidence_calls: int
    prompt_tokens: float
    new_tokens: float


def compute_gate(speed: Any, work: Work | None, seconds: float) -> dict[str, Any]:
    """Passes when the candidate, at the speed measured on this machine (`speed`: a finetune.probe
    Throughput, None = not measured), can train and answer its evidence in `seconds` (what is left of
    the budget). Parameter counts say little here: most of a small model's parameters are embeddings."""
    gate: dict[str, Any] = {"seconds_left": round(seconds, 1), "passed": True}
    if speed is None or work is None:
        gate["reason"] = "throughput not measured (not gated)"
        return gate
    train = work.train_tokens / max(1e-9, speed.train_tokens_per_second)
    answer = work.evidence_calls * speed.call_seconds(work.prompt_tokens, work.new_tokens)
    need = train + answer + speed.load_seconds
    gate.update(train_tokens_per_second=speed.train_tokens_per_second, needed_seconds=round(need, 1),
                passed=need <= seconds)
    if not gate["passed"]:
        gate["reason"] = (
            f"needs ~{need:.0f} s here ({train:.0f} s to train {work.train_tokens:,.0f} tokens at "
            f"{speed.train_tokens_per_second:.0f} tok/s + {answer:.0f} s for {work.evidence_calls} evidence calls), "
            f"{max(0.0, seconds):.0f} s of the budget left (raise the budget or use a faster machine)"
        )
    return gate


def zero_shot_skip(speed: Any, prompts: int, longest: int, new_tokens: int, seconds: float,
                   share: float, rivals: Sequence[float] = ()) -> str | None:
    """Why a zero-shot measurement is skipped: the comparison it serves would take more than `share` of
    the `seconds` left per candidate taking part; None when it fits or the speed is unknown.

    `rivals`: the size ratios (>= 1) of the larger candidates not examined yet, each of which the
    comparison would first probe and load, then measure on the same sample, estimated from this
    candidate's measured times scaled by size (a measurement no rival can follow decides nothing: the
    rule then takes the smallest passing candidate anyway)."""
    if speed is None or not prompts:
        return None
    sample = prompts * speed.call_seconds(longest, new_tokens)
    cost = sample * (1 + sum(rivals)) + (speed.probe_seconds or 0.0) * sum(rivals)
    if cost <= share * seconds * (1 + len(rivals)):
        return None
    also = f" here and on {len(rivals)} larger candidate(s) with their probe" if rivals else ""
    return (f"not measured zero-shot: ~{cost:.0f} s for {prompts} sampled prompts up to {longest} tokens{also}, "
            f"more than {share * 100:.2g}% of the {max(0.0, seconds):.0f} s left of the budget per candidate")


def licence_gate(license_name: str | None, allowed: list[str]) -> dict[str, Any]:
    """Records the licence; fails only when an allow-list is configured and it is not on it."""
    gate = {"license": license_name, "passed": not allowed or (license_name or "") in allowed}
    if not gate["passed"]:
        gate["reason"] = f"licence {license_name or 'unknown'} not in allowed_licenses"
    return gate


def kv_cache_bytes(config_path: Path | None, tokens: int, batch_size: int, dtype_bytes: float) -> int:
    """KV-cache size for `batch_size` sequences of `tokens`, from the model config (0 if unknown)."""
    if config_path is None or not config_path.is_file():
        return 0
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config = config.get("text_config", config) if "num_hidden_layers" not in config else config
    layers = config.get("num_hidden_layers")
    heads = config.get("num_attention_heads")
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or (config.get("hidden_size", 0) // heads if heads else None)
    if not (layers and kv_heads and head_dim):
        return 0
    return int(2 * layers * kv_heads * head_dim * tokens * batch_size * dtype_bytes)


def memory_need(info: ModelInfo, dtype: str, load_in_4bit: bool, batch_size: int, tokens: int) -> int | None:
    """Estimated bytes to run the model at this batch size and sequence length (None: size unknown)."""
    if info.n_params is None:
        return None
    per_param = NF4_BYTES_PER_PARAM if load_in_4bit else BYTES_PER_PARAM.get(dtype, 4.0)
    weights = info.n_params * per_param
    compute_bytes = BYTES_PER_PARAM.get(dtype, 4.0)
    config = Path(info.path) / "config.json" if info.path else None
    return int(weights * OVERHEAD + kv_cache_bytes(config, tokens, batch_size, compute_bytes))


def available_memory(device: str) -> int:
    """Free bytes on the device: CUDA free memory, or the host's available RAM."""
    if device == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info()
        return int(free)
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil comes with accelerate
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    return 0


def memory_gate(need: int | None, available: int, fraction: float) -> dict[str, Any]:
    """Passes when the estimated need fits in `fraction` of the free memory."""
    budget = int(available * fraction)
    gate = {"required_bytes": need, "available_bytes": available, "budget_bytes": budget}
    gate["passed"] = need is None or need <= budget
    if not gate["passed"]:
        gate["reason"] = f"needs ~{need / 2**30:.1f} GiB, budget {budget / 2**30:.1f} GiB"
    elif need is None:
        gate["reason"] = "model size unknown (not gated)"
    return gate

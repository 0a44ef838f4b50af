"""How many tokens one CPU training pass may hold.

A LoRA step's peak memory is its activations, not its weights: SmolLM2-135M keeps about 2 MB per
token of a micro-batch for the backward pass in bf16 and 2.5 MB in fp32 (RMSNorm and attention
keep fp32 intermediates either way). The 10 GB runs held 4,096-token micro-batches; on a CPU
throughput per token is flat from a few hundred tokens per pass, so passes are sized to a memory
budget instead, and activation checkpointing is switched on only when a single example would
exceed it (its extra forward costs about a third of a step).
"""

from __future__ import annotations

import math

CPU_ACTIVATION_BUDGET_MB = 1600  # + ~0.5 GB of libraries + the weights keeps a 135M run under 3 GB
MB_PER_TOKEN = {"bf16": 2.0, "fp32": 2.5}  # measured on SmolLM2-135M, LoRA on every linear layer
REFERENCE_PARAMS = 135_000_000
CHECKPOINTED_SHARE = 0.5  # measured ~1 MB/token in fp32 with checkpointing: the head, loss and recomputed layer stay
HEAP_SLACK_PASSES = 1.5  # growth, in passes' worth of kept activations, at which training trims the heap


def activation_mb_per_token(precision: str, n_params: int | None, checkpointing: bool = False) -> float:
    """Activation memory per token of a pass; grows with the model about as sqrt(parameters)
    (layers x hidden size), e.g. x3.3 from SmolLM2-135M to a 1.7B model."""
    scale = math.sqrt(max(1.0, (n_params or REFERENCE_PARAMS) / REFERENCE_PARAMS))
    per_token = MB_PER_TOKEN.get(precision, MB_PER_TOKEN["fp32"]) * scale
    return per_token * CHECKPOINTED_SHARE if checkpointing else per_token


def cpu_token_budget(precision: str, n_params: int | None, checkpointing: bool = False) -> int:
    """Tokens (padding included) one CPU forward pass may hold."""
    return max(1, int(CPU_ACTIVATION_BUDGET_MB / activation_mb_per_token(precision, n_params, checkpointing)))


def cpu_needs_checkpointing(max_length: int, precision: str, n_params: int | None) -> bool:
    """True when even one example of max_length tokens would exceed the CPU activation budget."""
    return max_length > cpu_token_budget(precision, n_params)


def heap_slack_mb(lora_layers: float) -> float:
    """Growth past the last heap trim at which training hands freed memory back (util.memory.HeapTrimmer):
    1.5 passes' worth of the activations the adapted layers keep (a pass holds up to the activation budget
    with LoRA on every layer, about half of it with LoRA on half of them). Measured on the sample logs'
    e-mail extraction (3 passes, LoRA on half the layers, 2-core AMD EPYC): a slack of 3,200 MB peaked
    at 3.26 GB, 1,200 at 2.85 GB and 2.6% slower, 800 at 2.68 GB and 10% slower (glibc's heap grows
    with every new pass shape, and each trim is paid back in page faults)."""
    return HEAP_SLACK_PASSES * CPU_ACTIVATION_BUDGET_MB * lora_layers

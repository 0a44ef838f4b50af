"""Loading the base model for training (LoRA or QLoRA) and the LoRA configuration.

QLoRA: 4-bit NF4 with double quantisation (models.quantization_config), bf16 compute where the
hardware has it, then peft's k-bit preparation. LoRA: the frozen base in bf16 whenever the plan
trains in bf16, on a GPU or a CPU with AVX-512 BF16 / AMX (fp32 base weights under bf16 autocast
were cast again at every step: ~1.5x the CPU time per token and more activation memory); the
adapter weights and their optimiser state stay fp32 (peft keeps adapters in fp32). fp32 plans
(forced, or a CPU without native bf16) load fp32 weights.
Adapters go on every linear layer, never on embeddings or the LM head, and add no tokens, so
vLLM can serve them.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from slmconvert.finetune.budget import TrainPlan
from slmconvert.models import LoadedModel, load_model
from slmconvert.models.loading import attention_shape

VARLEN_ATTENTION = ("flash_attention_2", "flash_attention_3")


def load_for_training(model_name: str, plan: TrainPlan) -> LoadedModel:
    """The base model on the plan's device, ready for a LoRA/QLoRA adapter."""
    if plan.method == "qlora":
        from peft import prepare_model_for_kbit_training

        dtype = "bfloat16" if plan.precision == "bf16" else "float32"
        loaded = load_model(model_name, device=plan.device, dtype=dtype, load_in_4bit=True)
        loaded.model = prepare_model_for_kbit_training(
            loaded.model, use_gradient_checkpointing=plan.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
        keep_4bit_layers_differentiable(loaded.model)
    else:
        dtype = "bfloat16" if plan.precision == "bf16" else "float32"
        loaded = load_model(model_name, device=plan.device, dtype=dtype)
    if plan.device == "cuda":
        use_varlen_attention(loaded.model)
    return loaded


def keep_4bit_layers_differentiable(model: Any) -> int:
    """Stop bitsandbytes from repacking 4-bit weights for CPU inference during validation.

    On AVX512-BF16 CPUs a Linear4bit in eval mode converts its weight, once and for good, to a
    packed layout served by a kernel without autograd; training after the first validation pass
    would then silently lose the gradient through every base layer. This concerns bitsandbytes'
    4-bit inference kernel only (QLoRA); it has no bearing on the training precision. Returns the
    layers changed.
    """
    changed = 0
    for module in model.modules():
        if getattr(module, "support_avx512bf16_for_cpu", False):
            module.support_avx512bf16_for_cpu = False
            changed += 1
    return changed


def use_varlen_attention(model: Any) -> bool:
    """Switch to FlashAttention-2 when installed: it attends within each packed sequence, which
    makes padding-free batches exact and fast. Returns whether the model now uses it."""
    if importlib.util.find_spec("flash_attn") is None:
        return False
    try:
        model.set_attn_implementation("flash_attention_2")
    except (ImportError, ValueError, RuntimeError):
        return False
    return has_varlen_attention(model)


def has_varlen_attention(model: Any) -> bool:
    """True when the attention kernel takes packed sequences (cu_seqlens), so no padding is needed."""
    implementation = getattr(getattr(model, "config", None), "_attn_implementation", None) or ""
    return implementation in VARLEN_ATTENTION or "flash" in implementation


def linear_targets(model: Any) -> list[str]:
    """Short names of every linear layer but the LM head (what peft's "all-linear" selects), so the
    saved adapter lists `q_proj`, `down_proj`... as vLLM and other servers expect."""
    import torch

    head = model.get_output_embeddings()
    return sorted({
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and module is not head  # bnb's Linear4bit is an nn.Linear
    })


def adapted_layers(model: Any, share: float) -> list[int] | None:
    """The top `share` of the model's transformer layers (None: every layer). Backward stops at the
    lowest layer that carries LoRA: the ones below run forward only and keep no activations."""
    count = attention_shape(model.config)[1]
    if share >= 1.0 or count < 2:
        return None
    return list(range(count - max(1, round(count * share)), count))


def lora_config(plan: TrainPlan, model: Any) -> Any:
    """The plan's LoRA adapter for `model` (see lora_config_for)."""
    return lora_config_for(model, plan.lora_rank, plan.lora_alpha, plan.lora_dropout, plan.lora_layers)


def lora_config_for(model: Any, rank: int, alpha: float, dropout: float, layers: float) -> Any:
    """LoRA on all linear layers (not the LM head) of the top `layers` share of the transformer
    layers, no extra trainable modules or tokens."""
    from peft import LoraConfig

    return LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=linear_targets(model),
        layers_to_transform=adapted_layers(model, layers),
        bias="none",
        task_type="CAUSAL_LM",
    )

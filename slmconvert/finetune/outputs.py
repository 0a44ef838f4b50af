"""Writing one cluster's outputs into the version dir: adapter, prompt format, metrics, card, curves.

    <cluster_id>/adapter/            PEFT adapter (safetensors), loadable by PeftModel.from_pretrained / vLLM
    <cluster_id>/prompt_format.json  how prompts must be rendered for this specialist (models.prompt)
    <cluster_id>/metrics.json        data, plan, training and before/after validation numbers
    <cluster_id>/README.md           model card
    <cluster_id>/curves.json, curves.png   training curves
    <cluster_id>/merged/             base + adapter merged (only with finetune.merge)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from slmconvert.artifacts.adapters import ADAPTER_DIR, CARD_FILE, METRICS_FILE, PROMPT_FORMAT_FILE
from slmconvert.errors import SlmError
from slmconvert.finetune.card import curve_points, plot_curves, write_card
from slmconvert.models.prompt import PromptFormat
from slmconvert.util.jsonio import atomic_write_json

ADAPTER_WEIGHTS = "adapter_model.safetensors"
# Weight names that would make an adapter unservable as a plain LoRA (vLLM) or change the vocabulary.
_UNSERVABLE = ("embed_tokens", "lm_head", "modules_to_save", "trainable_tokens")


def check_servable(adapter_dir: Path) -> dict[str, Any]:
    """Verify an adapter is plain LoRA on linear layers (no modules_to_save, no token/embedding
    weights); returns facts about it (size, rank, target modules)."""
    from safetensors import safe_open

    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    problems = []
    if config.get("modules_to_save"):
        problems.append(f"modules_to_save={config['modules_to_save']}")
    if config.get("trainable_token_indices"):
        problems.append("trainable token indices")
    with safe_open(str(adapter_dir / ADAPTER_WEIGHTS), framework="pt") as handle:
        names = list(handle.keys())
    problems += [f"weight {n}" for n in names if any(part in n for part in _UNSERVABLE)]
    if problems:
        raise SlmError(
            f"adapter in {adapter_dir} is not servable as plain LoRA: {', '.join(problems[:5])}",
            hint="remove modules_to_save / added tokens from the LoRA configuration",
        )
    return {
        "bytes": sum(p.stat().st_size for p in adapter_dir.rglob("*") if p.is_file()),
        "rank": config.get("r"),
        "alpha": config.get("lora_alpha"),
        "target_modules": sorted(config.get("target_modules") or []),
        "layers": config.get("layers_to_transform"),  # None: every layer
        "tensors": len(names),
    }


def publish_cluster(
    final_dir: Path,
    out_dir: Path,
    metrics: dict[str, Any],
    fmt: PromptFormat,
    log_history: list[dict[str, Any]],
) -> dict[str, Any]:
    """Copy a finished run's adapter into out_dir and write its metrics, card, curves and prompt format."""
    out_dir.mkdir(parents=True, exist_ok=True)
    adapter = out_dir / ADAPTER_DIR
    if adapter.exists():
        shutil.rmtree(adapter)
    shutil.copytree(final_dir / ADAPTER_DIR, adapter)
    metrics = {**metrics, "adapter": check_servable(adapter)}
    fmt.save(out_dir / PROMPT_FORMAT_FILE)
    points = curve_points(log_history)
    atomic_write_json(out_dir / "curves.json", points)
    title = f"cluster {metrics.get('cluster_id')}: {metrics.get('label') or ''}"[:90]
    metrics["curves_png"] = plot_curves(points, out_dir / "curves.png", title)
    atomic_write_json(out_dir / METRICS_FILE, metrics)
    write_card(metrics, out_dir / CARD_FILE)
    return metrics


def write_merged(model_name: str, adapter_dir: Path, out_dir: Path, device: str) -> dict[str, Any]:
    """Base model with the adapter merged in, saved as safetensors with its tokenizer (full precision
    base, never the 4-bit one: merging into quantised weights would lose the adapter's detail)."""
    from peft import PeftModel

    from slmconvert.models import load_model

    loaded = load_model(model_name, device=device, dtype="bfloat16" if device == "cuda" else "float32")
    merged = PeftModel.from_pretrained(loaded.model, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(out_dir, safe_serialization=True)
    loaded.tokenizer.save_pretrained(out_dir)
    return {"path": out_dir.name, "bytes": sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())}

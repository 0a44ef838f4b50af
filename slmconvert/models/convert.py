"""One-time conversion of GGUF weights into a plain safetensors model directory.

transformers can read GGUF (it dequantises on load) but refuses to save such a model and takes
seconds to minutes per load; the converted directory loads like any Hugging Face checkpoint.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from slmconvert.models import chat
from slmconvert.models.cache import ENTRY_MARKER
from slmconvert.util.jsonio import atomic_write_json

# Weights are stored in bf16: the models were trained in bf16 and the GGUF's 4-bit quantisation
# error is far larger than bf16 rounding, while the file is half the size of fp32.
STORAGE_DTYPE = "bfloat16"


@contextmanager
def quiet_hf_progress() -> Iterator[None]:
    """Hide transformers' own progress bars (slmconvert shows its own), restoring them after;
    also mutes bitsandbytes' warning about optional CPU kernels it cannot find."""
    import logging

    from transformers.utils import logging as hf_logging

    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def convert_gguf(
    gguf_path: Path,
    out_dir: Path,
    *,
    default_chat_template: str | None = None,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Dequantise `gguf_path` into `out_dir` (safetensors, tokenizer, chat template, generation
    config, and the cache marker JSON); returns the marker's content."""
    with quiet_hf_progress():
        return _convert(gguf_path, out_dir, default_chat_template, provenance or {})


def _convert(gguf_path: Path, out_dir: Path, default_chat_template: str | None, provenance: dict[str, Any]) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    started = time.perf_counter()
    directory, filename = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=filename)
    if not getattr(tokenizer, "chat_template", None) and default_chat_template:
        tokenizer.chat_template = default_chat_template
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    gguf_model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=filename, dtype=torch.float32)
    config = copy.deepcopy(gguf_model.config)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.dtype = getattr(torch, STORAGE_DTYPE)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf_model.state_dict(), strict=True)
    del gguf_model
    model = model.to(getattr(torch, STORAGE_DTYPE))
    stops = chat.stop_token_ids(tokenizer)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=stops if len(stops) > 1 else (stops[0] if stops else tokenizer.eos_token_id),
        pad_token_id=tokenizer.pad_token_id,
        do_sample=False,
    )
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    marker = {
        "schema": "slmconvert.model_cache/1",
        "source": {"gguf_file": filename, **provenance},
        "storage_dtype": STORAGE_DTYPE,
        "n_params": int(sum(p.numel() for p in model.parameters())),
        "convert_seconds": round(time.perf_counter() - started, 2),
    }
    atomic_write_json(out_dir / ENTRY_MARKER, marker)
    return marker

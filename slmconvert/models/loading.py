"""Loading models and tokenizers by name, converting packaged GGUF weights into the cache once.

    from slmconvert.models import load_model, load_tokenizer
    loaded = load_model("smollm2-135m-instruct")             # device/dtype picked for this machine
    loaded = load_model("Qwen/Qwen3-1.7B", load_in_4bit=True)  # nf4 + double quant (QLoRA-ready)
    loaded.model, loaded.tokenizer, loaded.device, loaded.dtype

The first use of a built-in converts its GGUF into `<cache>/models/<key>/` (see `cache.py`);
later loads read safetensors and take seconds.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slmconvert.errors import ConfigError, SlmError
from slmconvert.models import cache
from slmconvert.models.registry import ModelSpec, ResolvedModel, resolve_model
from slmconvert.util.device import cpu_bf16_support, pick_device

DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class LoadedModel:
    """A model ready for generation or training, with the tokenizer and where it runs."""

    name: str
    resolved: ResolvedModel
    model: Any
    tokenizer: Any
    device: str
    dtype: str
    load_in_4bit: bool
    load_seconds: float


def cache_key(resolved: ResolvedModel) -> str | None:
    """Cache directory name for models that need conversion; None for ready-to-load ones."""
    if resolved.kind == "builtin" and resolved.spec and resolved.spec.packaged:
        pkg = resolved.spec.packaged
        version = pkg.installed_version() or pkg.version
        return f"{resolved.spec.alias}--{pkg.distribution}-{version}"
    if resolved.kind == "gguf":
        path = Path(resolved.ref)
        stat = path.stat()
        digest = hashlib.sha256(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
        return f"gguf-{path.stem}-{digest}"
    return None


def model_identity(name: str) -> str:
    """What identifies a model's weights in fingerprints: its cache key, or a stamp of a local path's
    files (so a local directory changes identity when its files change), else the name itself."""
    path = Path(name).expanduser()
    if not path.exists():
        try:
            return cache_key(resolve_model(name)) or name
        except SlmError:
            return name
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    stamp = "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    return "files:" + hashlib.sha256(stamp.encode()).hexdigest()[:16]


def is_cached(resolved: ResolvedModel) -> bool:
    """True when loading needs no conversion (converted entry present, or nothing to convert)."""
    key = cache_key(resolved)
    return key is None or cache.is_complete(cache.entry_dir(key))


def model_path(name: str | ResolvedModel) -> str:
    """A path (or HF id) that `from_pretrained` loads directly, converting into the cache first if needed."""
    resolved = name if isinstance(name, ResolvedModel) else resolve_model(name)
    key = cache_key(resolved)
    if key is None:
        return resolved.ref
    if resolved.kind == "builtin":
        return str(cache.publish_entry(key, lambda tmp: _build_builtin(resolved.spec, tmp)))
    return str(cache.publish_entry(key, lambda tmp: _build_gguf(Path(resolved.ref), tmp, resolved.spec)))


def _build_builtin(spec: ModelSpec | None, tmp: Path) -> None:
    from slmconvert.models.convert import convert_gguf

    assert spec is not None and spec.packaged is not None
    pkg = spec.packaged
    if importlib.util.find_spec(pkg.package) is None:
        raise ConfigError(
            f"the weights of built-in model {spec.alias!r} are not installed (package {pkg.distribution})",
            hint=f"install them with `{pkg.install_hint}`",
        )
    if pkg.assemble:
        gguf = Path(importlib.import_module(pkg.package).assemble(tmp / "_source" / pkg.filename))
    else:
        locations = importlib.util.find_spec(pkg.package).submodule_search_locations or []
        gguf = Path(next(iter(locations), "")) / pkg.filename
        if not gguf.is_file():
            raise ConfigError(f"{gguf} is missing from package {pkg.distribution}", hint=f"reinstall: `{pkg.install_hint}`")
    provenance = {"alias": spec.alias, "package": pkg.distribution, "package_version": pkg.installed_version()}
    convert_gguf(gguf, tmp, default_chat_template=spec.chat_template, provenance=provenance)
    shutil.rmtree(tmp / "_source", ignore_errors=True)


def _build_gguf(path: Path, tmp: Path, spec: ModelSpec | None) -> None:
    from slmconvert.models.convert import convert_gguf

    convert_gguf(path, tmp, default_chat_template=spec.chat_template if spec else None, provenance={"path": str(path)})


def load_tokenizer(name: str | ResolvedModel) -> Any:
    """The model's tokenizer, with a pad token and (for registry entries that define one) a chat template."""
    from transformers import AutoTokenizer

    from slmconvert.models.convert import quiet_hf_progress

    resolved = name if isinstance(name, ResolvedModel) else resolve_model(name)
    path = model_path(resolved)
    with _hf_errors(resolved), quiet_hf_progress():
        tokenizer = AutoTokenizer.from_pretrained(path)
    if not getattr(tokenizer, "chat_template", None) and resolved.spec and resolved.spec.chat_template:
        tokenizer.chat_template = resolved.spec.chat_template
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def resolve_dtype(dtype: str, device: str) -> Any:
    """torch dtype for a name; "auto" = bf16 on GPUs that support it (else fp16), and on CPUs that
    compute bf16 natively (AVX-512 BF16 or AMX: measured 1.3-2x faster generation than fp32 on one),
    else fp32 (emulated bf16 is slower than fp32)."""
    import torch

    if dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}", hint=f"use one of {', '.join(DTYPES)}")
    if dtype == "auto":
        if device == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if cpu_bf16_support()[0] else torch.float32
    return getattr(torch, dtype)


def inference_dtype(device: str = "auto") -> str:
    """The precision `load_model(dtype="auto")` generates in on this machine ("bfloat16", "float32", ...)."""
    return str(resolve_dtype("auto", pick_device(device))).removeprefix("torch.")


def quantization_config(device: str, compute_dtype: Any = None) -> Any:
    """bitsandbytes 4-bit NF4 with double quantisation (QLoRA); bf16 compute on CUDA, fp32 on CPU."""
    import torch
    from transformers import BitsAndBytesConfig

    if compute_dtype is None:
        compute_dtype = resolve_dtype("auto", device)
    if device == "cpu" and compute_dtype == torch.float16:
        compute_dtype = torch.float32
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
    )


def load_model(
    name: str | ResolvedModel,
    *,
    device: str = "auto",
    dtype: str = "auto",
    load_in_4bit: bool = False,
    trust_remote_code: bool = False,
) -> LoadedModel:
    """Load a causal LM + tokenizer by alias, path or HF id, in eval mode on `device`."""
    from transformers import AutoModelForCausalLM

    from slmconvert.models.convert import quiet_hf_progress

    resolved = name if isinstance(name, ResolvedModel) else resolve_model(name)
    started = time.perf_counter()
    device = pick_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    tokenizer = load_tokenizer(resolved)
    kwargs: dict[str, Any] = {"dtype": torch_dtype, "trust_remote_code": trust_remote_code}
    if load_in_4bit:
        kwargs["quantization_config"] = quantization_config(device, torch_dtype)
        kwargs["device_map"] = {"": 0} if device == "cuda" else {"": "cpu"}
    path = model_path(resolved)
    with _hf_errors(resolved), quiet_hf_progress():
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if not load_in_4bit:
        model.to(device)
    model.eval()
    contiguous_head_input(model)
    return LoadedModel(
        name=resolved.name,
        resolved=resolved,
        model=model,
        tokenizer=tokenizer,
        device=device,
        dtype=str(torch_dtype).removeprefix("torch."),
        load_in_4bit=load_in_4bit,
        load_seconds=time.perf_counter() - started,
    )


def attention_shape(config: Any) -> tuple[int, int]:
    """(attention heads, layers) of a loaded model's config (its text part for a multimodal one); 16 and
    32 where the config does not say."""
    config = getattr(config, "text_config", None) or config
    return int(getattr(config, "num_attention_heads", 0) or 16), int(getattr(config, "num_hidden_layers", 0) or 32)


def contiguous_head_input(model: Any) -> None:
    """Hand the vocabulary projection a contiguous input (a forward pre-hook; copies keep it).

    Generation prefills with logits_to_keep=1, so the head projects a strided slice of the last
    position. Once the head's weight no longer requires grad (a merged-adapter copy, or a base after
    LoRA training unloaded), torch's matmul no longer folds that 3-D input into one mm: it expands the
    whole weight per row. A 16-row prefill of SmolLM2 then copied 0.9 GB and took 2.8 s instead of
    0.02 s, which was why evaluation ran 2-6x slower than the probe measured."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is None or getattr(head, "_contiguous_input", False):
        return
    head.register_forward_pre_hook(_contiguous_first_input)
    head._contiguous_input = True


def _contiguous_first_input(module: Any, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    if args and hasattr(args[0], "is_contiguous") and not args[0].is_contiguous():
        return (args[0].contiguous(), *args[1:])
    return None


class _hf_errors:
    """Turn "not found / not cached" errors from the HF stack into a ConfigError with a hint."""

    def __init__(self, resolved: ResolvedModel) -> None:
        self.resolved = resolved

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or not isinstance(exc, (OSError, ValueError)) or isinstance(exc, ConfigError):
            return False
        if self.resolved.kind == "hf":
            raise ConfigError(
                f"cannot load Hugging Face model {self.resolved.ref!r}: {exc}",
                hint=f"check the id, or download it while online (`hf download {self.resolved.ref}`); "
                "offline runs (HF_HUB_OFFLINE=1) only see the local HF cache",
            ) from exc
        raise ConfigError(f"cannot load model {self.resolved.name!r} from {self.resolved.ref}: {exc}") from exc

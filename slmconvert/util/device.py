"""Device detection and the environment block recorded in every manifest."""

from __future__ import annotations

import os
import platform
from importlib import metadata


def pick_device(preferred: str = "auto") -> str:
    """"cuda" when asked for or auto with a CUDA GPU present, else "cpu"."""
    if preferred not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {preferred!r} (use auto, cpu or cuda)")
    if preferred == "cpu" or os.environ.get("SLMCONVERT_FORCE_CPU") == "1":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if preferred == "cuda":
        from slmconvert.errors import ConfigError

        raise ConfigError("device=cuda was requested but no CUDA GPU is visible", hint="use device=auto")
    return "cpu"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def env_info() -> dict:
    """Versions and device, for manifests, model cards and `slmconvert env`."""
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "device": "unknown",
    }
    try:
        import torch

        if torch.cuda.is_available():
            info["device"] = f"cuda:{torch.cuda.get_device_name(0)}"
        else:
            info["device"] = "cpu"
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    return info


LIBRARIES = (
    "torch", "transformers", "trl", "peft", "bitsandbytes", "accelerate", "datasets",
    "presidio-analyzer", "spacy", "sentence-transformers", "hdbscan", "scikit-learn",
    "typer", "rich", "pyarrow", "pydantic",
)


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries slmconvert builds on."""
    return {name: _version(name) for name in LIBRARIES}

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


# CPU features and threads ------------------------------------------------------------------------

BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo names of the native bf16 matrix instructions
CPUINFO = "/proc/cpuinfo"


def cpu_flags(text: str | None = None) -> frozenset[str]:
    """The feature flags the kernel reports for the first CPU (empty where /proc/cpuinfo is absent)."""
    if text is None:
        try:
            with open(CPUINFO, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def torch_bf16_probes() -> dict[str, bool | str | None]:
    """What torch itself sees: its kernel capability level and its own bf16 probes (None if absent)."""
    import torch

    def probe(name: str) -> bool | None:
        function = getattr(torch.cpu, name, None)
        return bool(function()) if callable(function) else None

    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    return {
        "capability": capability() if callable(capability) else None,
        "avx512_bf16": probe("_is_avx512_bf16_supported"),
        "amx_bf16": probe("_is_amx_tile_supported"),
    }


def cpu_bf16_decision(flags: frozenset[str], probes: dict[str, bool | str | None]) -> tuple[bool, str]:
    """(use bf16, why): bf16 when the CPU has AVX-512 BF16 or AMX, by the kernel's flags or torch's
    probes, and torch dispatches AVX-512 kernels (without them bf16 matmuls are emulated, slower
    than fp32). Either source suffices: torch's probes have missed AVX-512 BF16 on some AMD CPUs."""
    found = sorted({f for f in BF16_FLAGS if f in flags} | {k for k in BF16_FLAGS if probes.get(k)})
    capability = str(probes.get("capability") or "")
    if not found:
        return False, "no AVX-512 BF16 or AMX on this CPU"
    if capability and not capability.upper().startswith("AVX512"):
        return False, f"CPU has {', '.join(found)} but torch dispatches {capability} kernels"
    return True, f"native bf16 ({', '.join(found)})"


def cpu_bf16_support() -> tuple[bool, str]:
    """Whether this CPU computes bf16 natively, and why (see cpu_bf16_decision)."""
    return cpu_bf16_decision(cpu_flags(), torch_bf16_probes())


def physical_cores(text: str | None = None) -> int:
    """Physical cores this process may run on: hyper-threads share a core's matrix units, so more
    intra-op threads than cores only adds contention. Falls back to the usable logical CPUs."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if text is None:
        try:
            with open(CPUINFO, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            return max(1, usable)
    cores, logical, socket = set(), 0, "0"
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "processor":
            logical += 1
        elif key == "physical id":
            socket = value
        elif key == "core id":
            cores.add((socket, value))
    if not cores or not logical:
        return max(1, usable)
    threads_per_core = max(1, logical // len(cores))
    return max(1, min(len(cores), usable // threads_per_core or 1))


def configure_threads(threads: int | None = None) -> int:
    """One intra-op pool of at most the physical cores (torch's default counts hyper-threads), or
    exactly `threads`; a smaller pool someone chose (tests, a co-tenant) is kept. Returns the size."""
    import torch

    wanted = threads or min(torch.get_num_threads(), physical_cores())
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
    return wanted

"""A serving bundle: the promoted clusters' adapters, the router (config + seed arrays), and ready
vLLM multi-LoRA launch commands (one server per base model)."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import Any

from slmconvert.errors import UsageError
from slmconvert.router.config import RouterConfig, resolve_from_router
from slmconvert.util.jsonio import atomic_write_json, atomic_write_text, read_json, sha256_file
from slmconvert.workspace import Artifact

BUNDLE_SCHEMA = "slmconvert.bundle/1"
DEFAULT_PORT = 8000


def serving_id(model: str) -> str:
    """What vLLM should load for a registry alias, local path or Hugging Face id."""
    from slmconvert.models.registry import resolve_model

    resolved = resolve_model(model)
    if resolved.kind == "builtin" and resolved.spec and resolved.spec.hf_id:
        return resolved.spec.hf_id
    return resolved.ref


def adapter_name(cluster_id: int) -> str:
    return f"cluster-{cluster_id}"


def vllm_commands(servers: dict[str, list[tuple[str, str, int]]]) -> list[str]:
    """`vllm serve BASE --enable-lora --lora-modules name=path ...` per base model (ports from 8000)."""
    commands = []
    for port, (base, adapters) in enumerate(sorted(servers.items()), start=DEFAULT_PORT):
        modules = " ".join(shlex.quote(f"{name}={path}") for name, path, _ in adapters)
        rank = max([16] + [r for _, _, r in adapters])
        commands.append(
            f"vllm serve {shlex.quote(base)} --port {port} --enable-lora --max-loras {max(1, len(adapters))} "
            f"--max-lora-rank {rank} --lora-modules {modules}"
        )
    return commands


def export_bundle(iterate: Artifact, out: Path, include_unpromoted: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Write the bundle into `out`; returns what was exported (also saved as out/bundle.json)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise UsageError(f"{out} exists and is not empty", hint="choose another --out or pass --force to replace it")
        shutil.rmtree(out)
    source = iterate.path / "router"
    config = RouterConfig.load(source)
    (out / "adapters").mkdir(parents=True, exist_ok=True)
    servers: dict[str, list[tuple[str, str, int]]] = {}
    exported = []
    for route in config.routes:
        adapter = resolve_from_router(source, route.adapter)
        if adapter is None or route.model is None or not (route.promoted or include_unpromoted):
            route.adapter = None if not route.promoted else route.adapter
            continue
        name = adapter_name(route.cluster_id)
        shutil.copytree(adapter, out / "adapters" / name)
        route.adapter = f"../adapters/{name}"
        rank = int(read_json(adapter / "adapter_config.json").get("r", 16))
        base = serving_id(route.model)
        if route.promoted:
            servers.setdefault(base, []).append((name, f"./adapters/{name}", rank))
        exported.append({"cluster_id": route.cluster_id, "name": name, "base_model": base, "model": route.model,
                         "promoted": route.promoted, "rank": rank,
                         "files": {p.name: sha256_file(p) for p in sorted((out / "adapters" / name).iterdir()) if p.is_file()}})
    shutil.copytree(source / "seed", out / "router" / "seed")
    config.save(out / "router")
    commands = vllm_commands(servers)
    summary = {
        "schema": BUNDLE_SCHEMA,
        "iterate_version": iterate.version,
        "lineage": config.lineage,
        "adapters": exported,
        "vllm_commands": commands,
        "router": "router/",
    }
    atomic_write_json(out / "bundle.json", summary)
    atomic_write_text(out / "serve.sh", "#!/bin/sh\n# Start one vLLM server per base model (run from this directory).\n"
                      + ("\n".join(f"{c} &" for c in commands) + "\nwait\n" if commands else "echo 'no promoted clusters'\n"))
    (out / "serve.sh").chmod(0o755)
    atomic_write_text(out / "README.md", _readme(summary))
    return summary


def _readme(summary: dict[str, Any]) -> str:
    lines = [
        f"# slmconvert serving bundle (iterate {summary['iterate_version']})",
        "",
        "- `adapters/cluster-<id>/`: PEFT LoRA adapters of the promoted clusters (vLLM loads them as LoRA modules).",
        "- `router/`: `router.json` (routes, escalation rules, calibrated thresholds) and `seed/` (cluster",
        "  assignment arrays); load it with `slmconvert.router.Router.load('router')`.",
        "- `serve.sh`: the vLLM launch command(s) below.",
        "",
        "Send a call to the model named after its cluster (e.g. `\"model\": \"cluster-3\"`) when the router",
        "says `route == \"slm\"`; everything else, and every escalated answer, goes to the LLM.",
        "",
        "```sh",
        *(summary["vllm_commands"] or ["# no promoted clusters: every call stays on the LLM"]),
        "```",
        "",
    ]
    return "\n".join(lines)

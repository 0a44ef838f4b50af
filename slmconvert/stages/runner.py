"""Runs one stage: resolve inputs, skip if unchanged, build in a temp dir, write the manifest, publish."""

from __future__ import annotations

import datetime as dt
import importlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console

from slmconvert import __version__
from slmconvert.errors import UsageError
from slmconvert.params import StageParams
from slmconvert.stages.base import StageContext, StageResult
from slmconvert.stages.lineage import resolve_inputs
from slmconvert.util.device import env_info, pick_device
from slmconvert.util.jsonio import (
    atomic_write_text,
    pretty_json,
    read_json,
    sha256_file,
    sha256_json,
)
from slmconvert.util.memory import PeakSampler
from slmconvert.util.source import package_digest
from slmconvert.workspace import MANIFEST, STAGES, Artifact, Workspace, new_version_id

MANIFEST_SCHEMA = "slmconvert.manifest/1"
SUMMARY_FILE = "summary.json"
# Fields that legitimately differ between two runs over the same inputs.
TIME_FIELDS = ("created_at", "version", "timing", "environment")


@dataclass
class StageOutcome:
    """A stage run's artifact, its summary, and whether an existing version was reused."""

    artifact: Artifact
    summary: dict[str, Any]
    skipped: bool
    peak_rss_mb: float | None = None  # of the process that ran the stage, during the run (None: reused)


def load_stage(name: str) -> ModuleType:
    """The module slmconvert.stages.<name> (NAME, UPSTREAM, Params, run, render)."""
    if name not in STAGES:
        raise UsageError(f"unknown stage {name!r}", hint=f"stages: {', '.join(STAGES)}")
    return importlib.import_module(f"slmconvert.stages.{name}")


def parse_pins(pins: list[str] | None) -> dict[str, str]:
    """`--input STAGE@VERSION` options as {stage: version}."""
    parsed: dict[str, str] = {}
    for pin in pins or []:
        stage, sep, version = pin.partition("@")
        if not sep or stage not in STAGES or not version:
            raise UsageError(f"--input {pin!r} is not STAGE@VERSION", hint=f"stages: {', '.join(STAGES)}")
        parsed[stage] = version
    return parsed


def _jsonable(value: Any) -> Any:
    """Stage extras as fingerprintable JSON: artifacts by identity, paths as strings."""
    if isinstance(value, Artifact):
        return {"stage": value.stage, "version": value.version, "manifest": value.manifest_hash}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def fingerprint_extra(stage: ModuleType, extra: dict[str, Any]) -> Any:
    """A stage's extra inputs as they enter its fingerprint (through its own hook when it has one)."""
    hook = getattr(stage, "fingerprint_extra", None)
    return _jsonable(hook(extra) if hook else extra)


def run_device(params: StageParams) -> str | None:
    """The device a stage with a `device` param resolves to here (an adapter trained under a CPU budget
    is not the one a GPU run would build); None for stages that run no model."""
    preferred = getattr(params, "device", None)
    return pick_device(preferred) if preferred is not None else None


def fingerprint(stage_name: str, params: StageParams, inputs: dict[str, Artifact], extra_fp: Any) -> str:
    """What identifies a stage run: the code that runs, params, device, upstream manifests, extra inputs."""
    return sha256_json(
        {
            "stage": stage_name,
            "slmconvert_version": __version__,
            "code": package_digest(),
            "device": run_device(params),
            "params": params.model_dump(mode="json"),
            "inputs": {k: v.manifest_hash for k, v in sorted(inputs.items())},
            "extra": extra_fp,
        }
    )


def _outputs(out_dir: Path) -> list[dict[str, Any]]:
    files = sorted(p for p in out_dir.rglob("*") if p.is_file() and p.name != MANIFEST)
    return [
        {"path": p.relative_to(out_dir).as_posix(), "sha256": sha256_file(p), "bytes": p.stat().st_size}
        for p in files
    ]


def build_manifest(
    stage: str,
    version: str,
    params: StageParams,
    inputs: dict[str, Artifact],
    extra_fingerprint: Any,
    fingerprint: str,
    out_dir: Path,
    result: StageResult,
    seconds: float,
    peak_rss_mb: float | None = None,
) -> dict[str, Any]:
    """The canonical manifest of a finished version (ARCHITECTURE.md, 'Workspace and artifacts')."""
    params_dict = params.model_dump(mode="json")
    return {
        "schema": MANIFEST_SCHEMA,
        "stage": stage,
        "version": version,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "slmconvert_version": __version__,
        "code": package_digest(),
        "device": run_device(params),
        "params": params_dict,
        "params_hash": sha256_json(params_dict),
        "inputs": {
            name: {"stage": a.stage, "version": a.version, "manifest_hash": a.manifest_hash}
            for name, a in sorted(inputs.items())
        },
        "extra_inputs": extra_fingerprint,
        "fingerprint": fingerprint,
        "outputs": _outputs(out_dir),
        "metrics": result.metrics,
        "timing": {"seconds": round(seconds, 3), "peak_rss_mb": peak_rss_mb},
        "environment": env_info(),
    }


def execute(
    stage_name: str,
    workspace: Workspace,
    params: StageParams,
    pins: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    force: bool = False,
    console: Console | None = None,
    quiet: bool = False,
    verbose: bool = False,
    role_inputs: dict[str, Artifact] | None = None,
) -> StageOutcome:
    """Run a stage (or reuse an identical earlier version) under the workspace lock.

    `role_inputs` are artifacts a run reads besides its upstreams, by role (e.g. collect's
    `append_from`, cluster's `extend_from`): they join `inputs`, the fingerprint and the manifest.
    `extra` carries plain values only (paths, cluster ids, candidate names).
    """
    stage = load_stage(stage_name)
    console = console or Console(stderr=True)
    extra = extra or {}
    pins = pins or {}
    clashing = sorted(set(role_inputs or {}) & set(STAGES))
    if clashing:
        raise UsageError(f"input role(s) {', '.join(clashing)} are stage names", hint="name roles by what they do")
    with workspace.lock(f"slmconvert {stage_name}"):
        inputs = {up: r.artifact for up, r in resolve_inputs(workspace, stage_name, stage.UPSTREAM, pins).items()}
        inputs.update(role_inputs or {})
        inputs.update(derived_inputs(stage, workspace, inputs))
        extra_fp = fingerprint_extra(stage, extra)
        run_fingerprint = fingerprint(stage_name, params, inputs, extra_fp)
        if not force:
            existing = workspace.find_by_fingerprint(stage_name, run_fingerprint)
            if existing is not None:
                if not quiet:
                    console.print(f"[dim]{stage_name}: unchanged, skipping (reusing {existing.ref})[/dim]")
                if workspace.latest_version(stage_name) != existing.version:
                    workspace.set_latest(stage_name, existing.version)
                summary_path = existing.path / SUMMARY_FILE
                summary = read_json(summary_path) if summary_path.is_file() else {}
                _after_publish(stage, workspace, existing, params, inputs)
                return StageOutcome(existing, summary, skipped=True)
        version = new_version_id()
        temp_dir = workspace.new_temp_dir(stage_name, version)
        try:
            ctx = StageContext(workspace, temp_dir, params, inputs, extra, console, quiet, verbose, version)
            started = time.perf_counter()
            with PeakSampler() as memory:
                result = stage.run(ctx)
            seconds = time.perf_counter() - started
            peak = round(memory.peak_mb, 1) if memory.peak_mb is not None else None
            atomic_write_text(temp_dir / SUMMARY_FILE, pretty_json(result.summary))
            manifest = build_manifest(
                stage_name, version, params, inputs, extra_fp, run_fingerprint, temp_dir, result, seconds, peak
            )
            atomic_write_text(temp_dir / MANIFEST, pretty_json(manifest))
            _fsync_dir(temp_dir)
            artifact = workspace.publish(stage_name, version, temp_dir)
        except BaseException:
            _remove_tree(temp_dir)
            raise
        _after_publish(stage, workspace, artifact, params, inputs)
        return StageOutcome(artifact, result.summary, skipped=False, peak_rss_mb=peak)


def derived_inputs(stage: ModuleType, workspace: Workspace, inputs: dict[str, Artifact]) -> dict[str, Artifact]:
    """Role inputs a stage finds itself from its resolved inputs (its optional `derived_inputs` hook;
    iterate: the earlier iteration whose history it extends); part of the fingerprint, so whatever
    predicts a fingerprint (run-all's --dry-run) adds them too."""
    hook = getattr(stage, "derived_inputs", None)
    found = hook(workspace, inputs) if hook is not None else {}
    clashing = sorted(set(found) & (set(inputs) | set(STAGES)))
    if clashing:
        raise ValueError(f"derived input role(s) {', '.join(clashing)} clash with other inputs")
    return found


def _after_publish(
    stage: ModuleType, workspace: Workspace, artifact: Artifact, params: StageParams, inputs: dict[str, Artifact]
) -> None:
    """A stage's optional `after_publish` hook (e.g. curate's drop_raw retention), run under the lock."""
    hook = getattr(stage, "after_publish", None)
    if hook is not None:
        hook(workspace, artifact, params, inputs)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)

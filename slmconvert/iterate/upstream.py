"""Reading what the earlier stages published (cluster, select, finetune, curate), in one place, so the
rest of iterate works on plain, documented shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slmconvert.errors import MissingArtifactError
from slmconvert.util.jsonio import read_json
from slmconvert.util.tables import iter_table
from slmconvert.workspace import Artifact

SEED_DIR_NAMES = ("router_seed", "seed")
MAP_NAMES = ("map.png", "cluster_map.png")


@dataclass
class ClusterInfo:
    """One cluster as iterate needs it (from clusters.json)."""

    cluster_id: int
    label: str
    output_type: str
    size: int
    share_calls: float | None
    candidate: bool
    why_not: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def _cluster_list(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict):
        data = data.get("clusters", [])
    return [c for c in data if isinstance(c, dict)]


def load_clusters(cluster: Artifact) -> list[ClusterInfo]:
    """clusters.json entries, sorted by id (noise is not a cluster)."""
    out = []
    for c in _cluster_list(read_json(cluster.file("clusters.json"))):
        cid = int(c.get("id", c.get("cluster_id", -1)))
        if cid < 0:
            continue
        why = c.get("why_not")
        why_text = "; ".join(why) if isinstance(why, list) else why
        out.append(ClusterInfo(
            cluster_id=cid, label=str(c.get("label", cid)), output_type=str(c.get("output_type", "text")),
            size=int(c.get("size", 0)), share_calls=c.get("share_calls"),
            candidate=bool(c.get("candidate", False)), why_not=why_text or None, raw=c,
        ))
    return sorted(out, key=lambda c: c.cluster_id)


def load_splits(cluster: Artifact) -> dict[str, tuple[int, str]]:
    """call_id -> (cluster_id, split) from splits.parquet."""
    return {
        str(r["call_id"]): (int(r["cluster_id"]), str(r["split"]))
        for r in iter_table(cluster.file("splits.parquet"), columns=["call_id", "cluster_id", "split"])
    }


def load_assignments(cluster: Artifact) -> dict[str, int]:
    """call_id -> cluster_id (-1 = noise) for every clustered (kept) call."""
    return {
        str(r["call_id"]): int(r["cluster_id"])
        for r in iter_table(cluster.file("assignments.parquet"), columns=["call_id", "cluster_id"])
    }


def seed_dir(cluster: Artifact) -> Path:
    """The router seed directory written by the cluster stage."""
    for name in SEED_DIR_NAMES:
        if (cluster.path / name / "config.json").is_file():
            return cluster.path / name
    raise MissingArtifactError(f"{cluster.ref} has no router seed ({' or '.join(SEED_DIR_NAMES)}/)",
                               hint="rerun `slmconvert cluster --force`")


def cluster_map(cluster: Artifact) -> bytes | None:
    """The 2-D cluster map PNG, when the cluster stage drew one."""
    for name in MAP_NAMES:
        if (cluster.path / name).is_file():
            return (cluster.path / name).read_bytes()
    return None


def load_curated(curate: Artifact, call_ids: set[str] | None = None) -> list[dict[str, Any]]:
    """Curated rows (all statuses), optionally only those whose call_id is in `call_ids`."""
    rows = []
    for row in iter_table(curate.file("curated.parquet")):
        if call_ids is None or row.get("call_id") in call_ids:
            rows.append(row)
    return rows


def traffic_rows(curate: Artifact) -> list[dict[str, Any]]:
    """The columns economics needs, for every curated row."""
    return list(iter_table(curate.file("curated.parquet"),
                           columns=["call_id", "status", "usage", "cost_usd", "latency_ms"]))


@dataclass
class Specialist:
    """A fine-tuned adapter for one cluster, with the base model and prompt format it was trained with."""

    cluster_id: int
    model: str
    adapter: Path
    prompt_format: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    finetune_version: str = ""


def _first_file(directory: Path, names: tuple[str, ...]) -> Path | None:
    return next((directory / n for n in names if (directory / n).is_file()), None)


def load_specialists(finetune: Artifact, models: dict[int, str] | None = None) -> dict[int, Specialist]:
    """Adapters in a finetune version: `<cluster_id>/adapter/` plus its prompt format and metrics.

    `models`: base model per cluster from select, used when the finetune metrics name none.
    """
    models = models or {}
    out: dict[int, Specialist] = {}
    for child in sorted(finetune.path.iterdir()):
        if not child.is_dir() or not child.name.lstrip("-").isdigit():
            continue
        adapter = child / "adapter"
        if not (adapter / "adapter_config.json").is_file():
            continue
        metrics_path = _first_file(child, ("metrics.json",))
        metrics = read_json(metrics_path) if metrics_path else {}
        fmt_path = _first_file(child, ("prompt_format.json",)) or _first_file(finetune.path, ("prompt_format.json",))
        fmt = read_json(fmt_path) if fmt_path else {}
        if isinstance(fmt, dict) and str(child.name) in fmt and isinstance(fmt[child.name], dict):
            fmt = fmt[child.name]
        base = metrics.get("base_model")
        if isinstance(base, dict):
            base = base.get("name")
        model = (base or metrics.get("model") or models.get(int(child.name))
                 or read_json(adapter / "adapter_config.json").get("base_model_name_or_path"))
        out[int(child.name)] = Specialist(int(child.name), str(model), adapter, fmt or {}, metrics,
                                          finetune.version)
    return out


def finetune_skips(finetune: Artifact) -> dict[int, str]:
    """Why finetune left clusters untrained (finetune.json "skipped"), by cluster id."""
    index = finetune.path / "finetune.json"
    if not index.is_file():
        return {}
    return {int(s["cluster_id"]): str(s.get("reason") or "") for s in read_json(index).get("skipped") or []}

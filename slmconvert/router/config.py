"""The router's saved form: router.json (routes, escalation rules, thresholds) plus the cluster
stage's router seed copied beside it (JSON + safetensors; nothing pickled).

Adapter paths are stored relative to the router directory, so the same file works inside the
workspace (pointing into finetune/<version>/) and inside an exported bundle (pointing into
adapters/).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from slmconvert.errors import MissingArtifactError
from slmconvert.util.jsonio import atomic_write_json, read_json

ROUTER_SCHEMA = "slmconvert.router/1"
CONFIG_FILE = "router.json"
SEED_DIR = "seed"


@dataclass
class ClusterRoute:
    """How one cluster is served: by its SLM (base model + adapter) or by the LLM, and why."""

    cluster_id: int
    label: str
    promoted: bool
    reason: str
    output_type: str = "text"
    model: str | None = None  # base model name (alias, HF id or path) the adapter was trained on
    adapter: str | None = None  # relative to the router directory (or absolute)
    prompt_format: dict[str, Any] = field(default_factory=dict)
    max_new_tokens: int = 256
    confidence_threshold: float | None = None  # None: no confidence escalation for this cluster
    primary_metric: str | None = None
    confidence_measure: str | None = None  # the signal iterate chose for this cluster (None: the rules' measure)
    agreement_metric: str | None = None  # what replay counts as agreement (None: primary_metric)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterRoute:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class EscalationRules:
    """Which serve-time checks send an SLM answer back to the LLM."""

    parse_error: bool = True
    unknown_tool: bool = True
    schema_error: bool = True
    confidence_measure: str = "tool_span_mean_logprob"


@dataclass
class RouterConfig:
    """Everything `Router.load` needs besides the seed arrays."""

    routes: list[ClusterRoute]
    escalation: EscalationRules = field(default_factory=EscalationRules)
    baseline_ood_share: float | None = None
    lineage: dict[str, str] = field(default_factory=dict)
    schema: str = ROUTER_SCHEMA

    def route_for(self, cluster_id: int) -> ClusterRoute | None:
        return next((r for r in self.routes if r.cluster_id == cluster_id), None)

    @property
    def promoted(self) -> list[ClusterRoute]:
        return [r for r in self.routes if r.promoted]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "escalation": asdict(self.escalation),
            "baseline_ood_share": self.baseline_ood_share,
            "lineage": dict(sorted(self.lineage.items())),
            "seed": SEED_DIR,
            "routes": [asdict(r) for r in sorted(self.routes, key=lambda r: r.cluster_id)],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RouterConfig:
        if data.get("schema") != ROUTER_SCHEMA:
            raise MissingArtifactError(
                f"unsupported router schema {data.get('schema')!r} (expected {ROUTER_SCHEMA})",
                hint="rebuild the router with `slmconvert iterate --force`",
            )
        return cls(
            routes=[ClusterRoute.from_dict(r) for r in data.get("routes", [])],
            escalation=EscalationRules(**data.get("escalation", {})),
            baseline_ood_share=data.get("baseline_ood_share"),
            lineage=dict(data.get("lineage", {})),
        )

    def save(self, directory: Path, seed_dir: Path | None = None) -> None:
        """Write router.json (and copy the seed from `seed_dir` when given)."""
        directory.mkdir(parents=True, exist_ok=True)
        if seed_dir is not None:
            target = directory / SEED_DIR
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(seed_dir, target)
        atomic_write_json(directory / CONFIG_FILE, self.to_dict())

    @classmethod
    def load(cls, directory: Path) -> RouterConfig:
        path = Path(directory) / CONFIG_FILE
        if not path.is_file():
            raise MissingArtifactError(
                f"{directory} is not a router directory (no {CONFIG_FILE})",
                hint="point at <workdir>/iterate/<version>/router (or run `slmconvert iterate`)",
            )
        return cls.from_dict(read_json(path))


def relative_to_router(router_dir: Path, target: Path) -> str:
    """A path stored in router.json: relative to the router directory."""
    return os.path.relpath(Path(target).absolute(), Path(router_dir).absolute())


def resolve_from_router(router_dir: Path, stored: str | None) -> Path | None:
    """The absolute path of a stored (relative or absolute) path."""
    if stored is None:
        return None
    path = Path(stored)
    return path if path.is_absolute() else (Path(router_dir) / path).resolve()

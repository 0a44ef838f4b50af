"""finetune's output: `finetune.json` (what was trained and skipped) and per trained cluster
`<cluster_id>/adapter/` (PEFT), `metrics.json`, `prompt_format.json` and the model card `README.md`;
written by finetune/outputs.py and stages/finetune.py, read here by iterate, export and serve."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slmconvert.util.jsonio import read_json
from slmconvert.workspace import Artifact

INDEX_FILE = "finetune.json"
ADAPTER_DIR = "adapter"
METRICS_FILE = "metrics.json"
PROMPT_FORMAT_FILE = "prompt_format.json"
CARD_FILE = "README.md"
# The `model` of a call answered by one of our specialists (serve logs it; curate keeps it out of training).
SLM_MODEL_PREFIX = "slmconvert/"


@dataclass
class Specialist:
    """A fine-tuned adapter for one cluster, with the base model and prompt format it was trained with."""

    cluster_id: int
    model: str
    adapter: Path
    prompt_format: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    finetune_version: str = ""


def load_specialists(finetune: Artifact) -> dict[int, Specialist]:
    """The trained clusters of a finetune version, by cluster id."""
    out: dict[int, Specialist] = {}
    for child in sorted(finetune.path.iterdir()):
        if not child.is_dir() or not child.name.lstrip("-").isdigit():
            continue
        adapter = child / ADAPTER_DIR
        if not (adapter / "adapter_config.json").is_file():
            continue
        metrics = read_json(child / METRICS_FILE)
        fmt = read_json(child / PROMPT_FORMAT_FILE)
        out[int(child.name)] = Specialist(int(child.name), str(metrics["base_model"]["name"]), adapter, fmt,
                                          metrics, finetune.version)
    return out


def finetune_skips(finetune: Artifact) -> dict[int, str]:
    """Why finetune left clusters untrained (the index's "skipped"), by cluster id."""
    index = read_json(finetune.file(INDEX_FILE))
    return {int(s["cluster_id"]): str(s.get("reason") or "") for s in index.get("skipped") or []}

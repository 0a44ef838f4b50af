"""One small end-to-end workspace (sample-log slice + tiny in-process model), built once per module."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slmconvert.cli.app import app

# Small and fast: a tiny model as the only candidate, tiny training and evaluation budgets, and a
# promotion target of 0 so that the router really serves (and escalates) something.
FAST_SETS = [
    "cluster.min_cluster_size=8", "cluster.min_examples=12",
    "select.sample_size=3", "select.single_call_latency=false", "select.text_cosine=false", "select.max_new_tokens=8",
    "finetune.max_steps=2", "finetune.max_train_examples=8", "finetune.validation_examples=2",
    "finetune.baseline='off'", "finetune.max_new_tokens=8",
    "iterate.promotion_target=0.0", "iterate.max_new_tokens=8", "iterate.max_test_calls=6",
    "iterate.max_base_calls=2", "iterate.max_calibration_calls=3", "iterate.max_drift_calls=3",
    # a tiny model agrees with nothing and rarely says anything: keep its answers whole at target 0
    "iterate.threshold_levels=[0.0]", "iterate.escalate_on_parse_error=false",
]


def sets_args(extra: list[str] | None = None) -> list[str]:
    args = []
    for item in FAST_SETS + (extra or []):
        args += ["--set", item]
    return args


def invoke(args: list[str]) -> tuple[int, dict | None, str]:
    """Run the CLI; returns (exit code, parsed --json stdout or None, stderr)."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    payload = None
    if "--json" in args and result.exit_code == 0:
        payload = json.loads(result.stdout)
    return result.exit_code, payload, result.stderr


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    """run-all on a week of logs, ready for further commands in the tests."""
    from sample_logs.generate import generate
    from slmconvert.models.tiny import create_tiny_model

    root = tmp_path_factory.mktemp("e2e")
    with pytest.MonkeyPatch.context() as mp:
        for name in ("HOME", "XDG_CACHE_HOME", "SLMCONVERT_CACHE_DIR"):
            (root / name.lower()).mkdir()
            mp.setenv(name, str(root / name.lower()))
        week1 = generate(root / "week1", seed=21, n_calls=120, compress=False, formats=("openai_chat",),
                         with_malformed=False, days=7)
        generate(root / "week2", seed=22, n_calls=16, compress=False, formats=("openai_chat",),
                 with_malformed=False, days=7, start=date(2026, 11, 9))
        tiny = create_tiny_model(root / "tiny")
        logs = sorted(str(p) for p in (root / "week1").glob("flywheel_*.jsonl"))
        work = root / "work"
        code, summary, err = invoke(["run-all", *logs, "--workdir", work, "--candidate", tiny, "--json",
                                     *sets_args()])
        assert code == 0, err[-3000:]
    return {"root": root, "work": work, "tiny": tiny, "logs": logs, "summary": summary, "truth": week1,
            "week2": sorted(str(p) for p in (root / "week2").glob("flywheel_*.jsonl"))}


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run faster single-threaded on a shared 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def files_of(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

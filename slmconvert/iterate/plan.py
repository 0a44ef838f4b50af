"""iterate's side of the wall-clock budget: the evidence finetune's budget plan reserved per cluster
(finetune.json `budget.entries`), and the time kept for the router, replay and report.

The specialists' samples are the reserved ones, evaluated in full; the base-model baseline runs
with what is left of the deadline after the reserve.
"""

from __future__ import annotations

from typing import Any

from slmconvert.util.budget import Deadline
from slmconvert.util.jsonio import read_json
from slmconvert.workspace import Artifact

PLANNED_COVERAGE = 0.75  # share of calls a specialist is expected to keep at its threshold (sizes the test sample)
PLANNED_AGREEMENT = 0.97  # agreement of the kept calls the test sample is sized for: at the 0.90 target a sample
# sized for a perfect specialist (47 calls, 35 kept) fails on its first miss; this one (95 calls, 71 kept) still
# passes with 2 misses. Early stopping ends a hopeless specialist's sample sooner.
MIN_CALIBRATION_CALLS = 64  # validation calls reserved to choose a confidence signal and threshold (AUROC, levels):
# a threshold is set by the most confident miss of this sample, so a small one sets it by chance. Measured on the
# support agent's first decision (one-core run-all, Intel Xeon with AMX): thresholds from 32 calls kept 69 test calls
# with 2 misses (lower bound below 0.90), from all 65 they kept 68 with 1 miss (0.906). 32 more calls cost ~20 s there.
CHUNK_BATCHES = 3  # batches' worth of test calls generated between two checks of the early stop (a generation run):
# the generator orders a run's calls by prompt and answer length, so alike rows decode together (in seeded batches
# of 16 the support agent's specialist answered its test sample at half its validation speed)
RESERVE_SHARE = 0.05  # of what is left: router build, replay, economics and report
RESERVE_MIN = 20.0  # seconds
POOLS = {"test": "test_calls", "calibration": "validation_calls"}


def budget_of(finetune: Artifact) -> dict[str, Any]:
    """finetune.json's `budget` section ({} for versions built before the budget plan)."""
    index = finetune.path / "finetune.json"
    return (read_json(index).get("budget") or {}) if index.is_file() else {}


def planned_evidence(finetune: Artifact) -> dict[int, dict[str, Any]]:
    """The plan entries of the clusters finetune trained, by cluster id."""
    entries = budget_of(finetune).get("entries") or []
    return {int(e["cluster_id"]): e for e in entries if e.get("trained")}


def least_calls(pool: str, target: float) -> int:
    """The evidence a promotion decision at `target` needs in `pool`, whatever finetune planned for."""
    from slmconvert.iterate.evidence import planned_test_calls

    if pool == "calibration":
        return MIN_CALIBRATION_CALLS
    return planned_test_calls(target, PLANNED_COVERAGE, PLANNED_AGREEMENT) or 0


def sample_size(planned: dict[int, dict[str, Any]], cluster_id: int, pool: str, cap: int, least: int = 0) -> int:
    """Calls of `pool` ("test" or "calibration") to evaluate for a cluster: what the plan reserved for
    it, at least `least` (a later, stricter target needs more than was planned), within the cap; the
    cap when there is no plan (an older finetune version, or an untrained cluster)."""
    entry = planned.get(cluster_id)
    if entry is None or entry.get(POOLS[pool]) is None:
        return cap
    return min(cap, max(least, int(entry[POOLS[pool]])))


def after_evidence_reserve(deadline: Deadline) -> float:
    """Seconds kept back from the base-model baseline for what follows it."""
    return max(RESERVE_MIN, RESERVE_SHARE * deadline.left())


DRIFT_SHARE = 0.10  # of the budget: the weekly drift replay of new calls through the promoted routes


def drift_calls(entry: dict[str, Any], cap: int, seconds: float) -> int:
    """New calls of a promoted cluster to replay in `seconds`, at the generation speed the previous
    iteration measured for its specialist (evaluation.json timing); the cap when unknown."""
    timing = ((entry.get("specialist") or {}).get("timing") or {})
    rate = timing.get("calls_per_second")
    return cap if not rate else max(1, min(cap, int(seconds * float(rate))))

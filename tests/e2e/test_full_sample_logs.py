"""The acceptance run: run-all on the shipped sample logs with the default config (real SmolLM2).

Minutes long, marked `acceptance` (run with `pytest -m acceptance`); speed is printed, not asserted. It checks that the
open-ended drafting task stays on the LLM, that whatever is promoted is a narrow task, and that the
report and router are written; the numbers are printed for the closing note.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from slmconvert.util.jsonio import read_json
from slmconvert.util.tables import iter_table
from slmconvert.workspace import Workspace
from tests.e2e.conftest import invoke

SAMPLE_LOGS = Path(__file__).resolve().parents[2] / "sample_logs"
OPEN_ENDED = {"drafting"}


def _task_of_clusters(ws: Workspace) -> dict[int, str]:
    """Majority generator task per cluster (_truth.jsonl joined on source file and line)."""
    truth = {}
    for line in (SAMPLE_LOGS / "_truth.jsonl").read_text().splitlines():
        row = json.loads(line)
        truth[(Path(row["file"]).name, int(row["line"]))] = row.get("task")
        if row.get("output_file"):
            truth[(Path(row["output_file"]).name, int(row["output_line"]))] = row.get("task")
    task_of_call = {}
    for row in iter_table(ws.artifact("collect").file("calls.parquet"), columns=["call_id", "source"]):
        source = row["source"] or {}
        task_of_call[row["call_id"]] = truth.get((Path(str(source.get("file"))).name, int(source.get("line") or 0)))
    votes: dict[int, Counter] = {}
    for row in iter_table(ws.artifact("cluster").file("assignments.parquet")):
        if row["cluster_id"] >= 0 and task_of_call.get(row["call_id"]):
            votes.setdefault(int(row["cluster_id"]), Counter())[task_of_call[row["call_id"]]] += 1
    return {cid: counter.most_common(1)[0][0] for cid, counter in votes.items()}


@pytest.mark.acceptance
def test_run_all_on_the_shipped_sample_logs(tmp_path):
    logs = sorted(str(p) for p in SAMPLE_LOGS.glob("*.jsonl.gz")) + [str(SAMPLE_LOGS / "malformed.jsonl")]
    started = time.perf_counter()
    code, summary, err = invoke(["run-all", *logs, "--workdir", tmp_path / "work", "--json"])
    seconds = time.perf_counter() - started
    assert code == 0, err[-3000:]
    ws = Workspace(tmp_path / "work")
    evaluation = read_json(ws.artifact("iterate").file("evaluation.json"))
    tasks = _task_of_clusters(ws)
    print(json.dumps({"seconds": round(seconds, 1), "summary": summary,
                      "clusters": [{"id": c["cluster_id"], "task": tasks.get(c["cluster_id"]),
                                    "promoted": c["promotion"]["promoted"], "reason": c["promotion"]["reason"]}
                                   for c in evaluation["clusters"]]}, indent=1))
    for c in evaluation["clusters"]:
        if tasks.get(c["cluster_id"]) in OPEN_ENDED:
            assert not c["promotion"]["promoted"], f"open-ended cluster {c['cluster_id']} was promoted"
    assert summary["clusters_found"] >= 6
    assert (Path(summary["report"])).is_file()

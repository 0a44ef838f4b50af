"""Acceptance (issue 12): no canary in any file downstream of collect, in any cache, log or console line.

One test per canary kind, so a failure names the kind; its message lists, per leak, the log
format and field the canary was put in, the input file and line, and the artifact (Parquet
column, SQLite table, console stream) it was found in.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.hostile.canaries import KINDS, Canary, Placement
from tests.hostile.conftest import downstream_texts
from tests.hostile.scan import Leak, NeedleIndex, file_views, find_leaks

SHOWN = 40
VERSION = re.compile(r"/\d{8}T\d{6}Z-[0-9a-f]+/")


def _report(leaks: list[Leak], full: str = "") -> str:
    lines = sorted({VERSION.sub("/<version>/", leak.line()) for leak in leaks})
    fields = Counter(f"{p.fmt} · {p.field}" for leak in {id(x.canary): x for x in leaks}.values()
                     for p in leak.canary.placements)
    head = [f"{len({id(x.canary) for x in leaks})} canaries leaked; by format · field: "
            + ", ".join(f"{k} ×{n}" for k, n in fields.most_common())]
    more = [f"... and {len(lines) - SHOWN} more{full}"] if len(lines) > SHOWN else []
    return "\n".join(head + lines[:SHOWN] + more)


def _complete(hostile) -> None:
    failed = [c for c in hostile.commands if c.returncode != 0]
    assert not failed and hostile.version_dir("cluster") is not None, "pipeline did not complete: " + "; ".join(
        f"{c.name} exit {c.returncode}: {c.stderr[-1500:]}" for c in failed)


def test_pipeline_completes_on_hostile_logs(hostile):
    """collect, curate, cluster and status all finish (exit 0) on the hostile inputs."""
    print(", ".join(f"{c.name} {c.seconds} s" for c in hostile.commands))
    _complete(hostile)


@pytest.mark.parametrize("kind", KINDS)
def test_no_canary_downstream_of_collect(hostile, leaks, kind):
    _complete(hostile)
    found = [leak for leak in leaks if leak.canary.kind == kind]
    assert not found, _report(found, f" (all leaks: {hostile.root / 'leaks.txt'})")


def test_canaries_reach_collect(hostile):
    """The suite is not vacuous: canaries of every kind and every format do reach calls.parquet."""
    _complete(hostile)
    calls = hostile.version_dir("collect") / "calls.parquet"
    index = NeedleIndex(c.value for c in hostile.inputs.canaries)
    present: set[str] = set()
    for _, text in file_views(calls):
        present |= index.find(text)
    reached = [c for c in hostile.inputs.canaries if c.value in present]
    kinds = {c.kind for c in reached}
    formats = {p.fmt for c in reached for p in c.placements}
    assert kinds == set(KINDS), f"no canary of kind {sorted(set(KINDS) - kinds)} reached calls.parquet"
    wanted = {p.fmt for c in hostile.inputs.canaries for p in c.placements}
    assert formats == wanted, f"no canary of format {sorted(wanted - formats)} reached calls.parquet"
    assert len(reached) > len(hostile.inputs.canaries) // 2, f"only {len(reached)} canaries reached calls.parquet"


def test_sample_slice_pii_not_downstream(hostile):
    """The sample logs' own recorded PII and secrets (ground truth of their generator) are scrubbed too."""
    _complete(hostile)
    canaries = [Canary(f"sample {kind}", value, (value,), "", "", [Placement("sample slice", kind)])
                for kind, value in hostile.inputs.sample_values if len(value) >= 8]
    found = find_leaks(canaries, downstream_texts(hostile))
    assert not found, _report(found)

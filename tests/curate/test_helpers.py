"""Helper processes share the analysis of texts: the same spans as one process, nothing lost when a
helper fails, counters and failures carried back."""

from __future__ import annotations

import random
from concurrent.futures.process import BrokenProcessPool

from slmconvert.curate import helpers as helpers_module
from slmconvert.curate.analyzer import PiiAnalyzer
from slmconvert.curate.helpers import SHARE_BATCH, AnalysisHelpers, analysis_processes
from slmconvert.curate.params import CurateParams

FIRST = ["Maria", "John", "Aiko", "Pedro", "Fatima", "Liam", "Chen", "Olga"]
LAST = ["Garcia", "Smith", "Tanaka", "Silva", "Khan", "Murphy", "Wei", "Ivanova"]


def texts(count: int, seed: int = 7) -> list[tuple[str, bool]]:
    """Distinct texts with names, e-mails, phones and plain ids; every third without NER."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        shape = i % 4
        if shape == 0:
            text = f"Hi, this is {first} {last}, order SR-{i:05d} never arrived."
        elif shape == 1:
            text = f"Reach me at {first.lower()}.{last.lower()}{i}@mail-box.org or 415-555-{1000 + i:04d}."
        elif shape == 2:
            text = f"status=shipped sku=A{i:06d} qty={rng.randint(1, 99)}"
        else:
            text = f"Dear {first}, ticket {i} is closed. Regards, {last} Support"
        out.append((text, i % 3 != 0))
    return out


def test_default_processes_follow_the_cores(monkeypatch):
    monkeypatch.setattr("slmconvert.util.device.physical_cores", lambda: 2)
    assert analysis_processes(CurateParams()) == 2
    monkeypatch.setattr("slmconvert.util.device.physical_cores", lambda: 64)
    assert analysis_processes(CurateParams()) == helpers_module.MAX_AUTO_PROCESSES
    assert analysis_processes(CurateParams(n_process=1)) == 1


def test_a_helper_finds_what_one_process_finds(analyzer, params):
    units = texts(5 * SHARE_BATCH)
    alone = PiiAnalyzer(params, engine=analyzer.engine)
    expected = alone.analyze(units)
    with AnalysisHelpers(params, 1) as helpers:
        helpers._ready[0].result(timeout=120)  # loaded: the helper takes its share from the start
        shared = PiiAnalyzer(params, engine=analyzer.engine, helpers=helpers)
        got = shared.analyze(units)
        worked = helpers.analysed
    assert got == expected
    assert any(spans for spans in got.values())
    assert worked > 0  # the helper analysed some of them
    for name in ("ner", "regex_only", "texts"):
        assert shared.stats[name] == alone.stats[name]


class _DeadPool:
    def submit(self, *args, **kwargs):
        raise BrokenProcessPool("helper died")

    def shutdown(self, **kwargs):
        pass


def _ready_helpers(pool) -> AnalysisHelpers:
    """AnalysisHelpers over one stand-in pool, already loaded."""
    helpers = AnalysisHelpers.__new__(AnalysisHelpers)
    ready = helpers_module.Future()
    ready.set_result(True)
    helpers._pools, helpers._ready, helpers._broken, helpers.analysed = [pool], [ready], set(), 0
    return helpers


def test_a_failed_helper_hands_its_batches_back(analyzer, params):
    units = texts(4 * SHARE_BATCH, seed=3)
    expected = PiiAnalyzer(params, engine=analyzer.engine).analyze(units)
    helpers = _ready_helpers(_DeadPool())
    got = PiiAnalyzer(params, engine=analyzer.engine, helpers=helpers).analyze(units)
    assert got == expected
    assert helpers._broken == {0}


def test_a_helpers_failure_is_kept_for_the_audit(analyzer, params):
    failure = "KeyError in _spans (analyzer.py:1): boom"
    units = texts(6 * SHARE_BATCH, seed=5)

    class _Pool(_DeadPool):
        def submit(self, fn, batch):
            done = helpers_module.Future()
            done.set_result(([None] * len(batch), helpers_module.Counter(errors=len(batch)), failure))
            return done

    helpers = _ready_helpers(_Pool())
    shared = PiiAnalyzer(params, engine=analyzer.engine, helpers=helpers)
    got = shared.analyze(units)
    failed = [unit for unit, spans in got.items() if spans is None]
    assert failed and len(failed) == shared.stats["errors"]  # fail closed: those records are filtered
    assert str(shared.first_error) == failure

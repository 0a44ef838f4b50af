"""util.memory: freed heap pages go back to the OS when trimmed (glibc keeps them otherwise)."""

from __future__ import annotations

import os
import time

import pytest
import torch

from slmconvert.util import memory

MB = 2**20


@pytest.mark.skipif(memory._libc() is None, reason="glibc only")
def test_trimming_returns_the_pages_of_freed_tensors():
    # a freed 32 MB tensor raises glibc's mmap threshold: later tensors below it come from the heap
    big = torch.ones(32 * MB, dtype=torch.uint8)
    del big
    blocks = [torch.ones(MB + i * 4096, dtype=torch.uint8) for i in range(200)]
    top = blocks.pop()  # still alive at the top of the heap, so the heap cannot shrink on its own
    del blocks
    before = memory.rss_mb()
    assert memory.trim_heap()
    assert before - memory.rss_mb() > 100, "the ~200 MB freed below a live block should leave RSS"
    del top


def test_the_trimmer_waits_for_the_heap_to_outgrow_its_slack(monkeypatch):
    trims = []
    monkeypatch.setattr(memory, "trim_heap", lambda: trims.append(1) or True)
    readings = iter([1000, 1500, 2100, 1100, 1900, 2200, 2150])  # floor, then one reading per call (+ after a trim)
    trimmer = memory.HeapTrimmer(slack_mb=1000, rss=lambda: next(readings))
    assert [trimmer() for _ in range(4)] == [False, True, False, True]  # 1500 < 2000; 2100 >= 2000 -> floor 1100;
    assert len(trims) == 2 and trimmer.floor == 2150  # 1900 < 2100; 2200 >= 2100 -> floor 2150


def test_resident_memory_is_read_from_the_os():
    assert 10 < memory.rss_mb() < 100_000


def test_the_sampler_keeps_the_highest_reading_inside_its_block():
    readings = iter([900.0, 1000.0])
    with memory.PeakSampler(every=0.01, rss=lambda: next(readings, 950.0)) as sampler:
        time.sleep(0.05)
    assert sampler.peak_mb == 1000.0
    with memory.PeakSampler(rss=lambda: 0.0) as unknown:  # no /proc: no number rather than a wrong one
        pass
    assert unknown.peak_mb is None


def test_a_stage_run_records_the_peak_memory_of_its_process(tmp_path, monkeypatch):
    from slmconvert.stages import runner
    from slmconvert.workspace import Workspace
    from tests.foundation import toy_stage

    def holding_300_mb(ctx, run=toy_stage.run):
        block = torch.ones(300 * MB, dtype=torch.uint8)
        time.sleep(0.3)  # a few samples long
        del block
        return run(ctx)

    monkeypatch.setattr(runner, "load_stage", lambda name: toy_stage)
    monkeypatch.setattr(toy_stage, "run", holding_300_mb)
    ws = Workspace(tmp_path / "ws")
    before = memory.rss_mb()
    outcome = runner.execute("collect", ws, toy_stage.ToyParams(), extra={"text": "a"}, quiet=True)
    if before > 0:
        assert outcome.peak_rss_mb - before > 250  # the 300 MB block, freed before the stage returned
        assert outcome.artifact.manifest["timing"]["peak_rss_mb"] == outcome.peak_rss_mb
    again = runner.execute("collect", ws, toy_stage.ToyParams(), extra={"text": "a"}, quiet=True)
    assert again.skipped and again.peak_rss_mb is None


def test_the_onednn_cache_is_bounded_unless_the_user_set_a_capacity(monkeypatch):
    for name in memory.ONEDNN_CACHE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert memory.bound_onednn_cache() is True
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == memory.ONEDNN_CACHE_CAPACITY
    monkeypatch.delenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY")
    monkeypatch.setenv("DNNL_PRIMITIVE_CACHE_CAPACITY", "4096")  # oneDNN's older name counts too
    assert memory.bound_onednn_cache() is False and "ONEDNN_PRIMITIVE_CACHE_CAPACITY" not in os.environ


def test_every_cli_command_bounds_the_cache_before_torch_computes(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from slmconvert.cli.app import app

    for name in memory.ONEDNN_CACHE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert CliRunner().invoke(app, ["status", "--workdir", str(tmp_path / "w"), "--json"]).exit_code == 0
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == memory.ONEDNN_CACHE_CAPACITY


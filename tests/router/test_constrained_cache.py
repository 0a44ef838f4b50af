"""Answers decoded under tool-call constraints and free answers are cached apart (a cache made
with one setting is not replayed for the other)."""

from __future__ import annotations

from slmconvert.models.loading import inference_dtype
from slmconvert.models.prompt import PromptFormat
from slmconvert.router.generator import CachedGenerator, PeftGenerator
from tests.router.fakes import FakeGenerator, call, tool_text


def test_constrained_and_free_answers_do_not_share_cache_entries(tmp_path):
    records = [call("a")]
    script = {"a": (tool_text("lookup_order", '{"order_id": "A-17"}'), -0.1)}
    free, constrained = FakeGenerator(script), FakeGenerator(script)
    constrained.cache_tag = "constrained"
    for inner in (free, constrained, free):
        CachedGenerator(inner, tmp_path).generate("m", None, PromptFormat(), records, 16)
    assert len(free.requests) == 1 and len(constrained.requests) == 1  # the third run was a cache hit


def test_peft_generator_tags_its_cache_by_decoding_mode_and_precision(monkeypatch):
    from slmconvert.router import generator

    precision = inference_dtype("cpu")
    assert PeftGenerator("cpu", constrain_tool_calls=False).cache_tag == f"dtype={precision}"
    assert PeftGenerator("cpu", constrain_tool_calls=True).cache_tag == f"constrained,dtype={precision}"
    monkeypatch.setattr(generator, "inference_dtype", lambda device: "float32")  # a CPU without native bf16
    assert PeftGenerator("cpu", constrain_tool_calls=False).cache_tag == "dtype=float32"

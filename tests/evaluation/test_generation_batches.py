"""Generation batches: length-sorted, at most batch_size rows, fewer where long prompts would hold too
much attention memory."""

from __future__ import annotations

from slmconvert.evaluation.generation import _attention_rows, length_batches


def test_long_prompts_get_fewer_rows_and_every_prompt_one_batch():
    widths = [6000, 2500, 1200, 900, 300, 200, 100, 50, 40, 30]
    order = sorted(range(len(widths)), key=lambda i: -widths[i])
    rows_for = lambda width: 4_000_000 // (width * width)  # noqa: E731
    batches = length_batches(order, widths, 4, rows_for)
    assert [i for b in batches for i in b] == order  # each prompt once, in order
    assert batches[0] == [0] and batches[1] == [1]  # too wide for two rows: alone (never zero rows)
    assert all(len(b) <= 4 for b in batches) and len(batches[-1]) <= 4
    assert all(len(b) <= max(1, rows_for(widths[b[0]])) for b in batches)


def test_attention_rows_follow_the_models_heads():
    class Config:
        num_attention_heads = 8

    class Model:
        config = Config()

    rows = _attention_rows(Model())
    assert rows(100) > rows(1000) >= 1 > rows(20_000)
    Config.num_attention_heads = 32
    assert _attention_rows(Model())(1000) < rows(1000)

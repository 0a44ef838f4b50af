"""Generation batches: length-sorted, at most batch_size rows, fewer where long prompts would hold too
much attention memory."""

from __future__ import annotations

from slmconvert.evaluation.generation import (
    PADDED_PROMPT_LIMIT,
    _attention_rows,
    batch_order,
    length_batches,
)


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


def test_a_batch_in_any_order_is_sized_by_its_widest_prompt():
    widths = [100, 1500, 100, 100, 100]  # the wide prompt is not first (batches ordered by answer size)
    rows_for = lambda width: 4_000_000 // (width * width)  # noqa: E731  (1500 -> 1 row, 100 -> 400)
    batches = length_batches(list(range(5)), widths, 4, rows_for)
    assert batches == [[0], [1], [2, 3, 4]]
    assert all(len(b) <= max(1, rows_for(max(widths[i] for i in b))) for b in batches)


def test_a_long_prompt_does_not_pad_a_batch_of_short_ones():
    """One 820-token multi-turn prompt among 75-token ones: padded to it, a batch of 16 prefilled and attended
    to 11x its own tokens; it now goes with at most the rows that keep the padding within the limit."""
    prompts = [75] * 15 + [820] + [70] * 8
    answers = [160] * len(prompts)
    order = batch_order(prompts, answers)
    assert order[0] == 15  # the costliest row first
    widths = [p + 128 for p in prompts]
    batches = length_batches(order, widths, 16, lambda width: 10**6, prompts)
    assert sorted(i for b in batches for i in b) == list(range(len(prompts)))
    for batch in batches:
        padded = len(batch) * max(prompts[i] for i in batch)
        assert len(batch) == 1 or padded <= PADDED_PROMPT_LIMIT * sum(prompts[i] for i in batch)
    assert next(len(b) for b in batches if 15 in b) == 1  # 820 tokens beside one 75-token row: 1.8x
    assert max(len(b) for b in batches) == 16 and len(batches) <= 3
    assert length_batches(order, widths, 16, lambda width: 10**6)[0][:2] == [15, order[1]]  # without the limit


def test_rows_are_ordered_by_prompt_and_expected_answer_together():
    prompts, answers = [100, 100, 400, 100], [40, 800, 40, 0]  # answers in characters
    order = batch_order(prompts, answers)
    assert order[0] == 1 and order[-1] == 3  # a 200-token answer outweighs a 300-token longer prompt
    assert batch_order(prompts) == [2, 0, 1, 3]  # without answers: by prompt length


def test_alike_answers_share_a_batch(tiny_loaded):
    """Prompts expecting short answers decode together, not beside a long one (identical outputs), in whole
    batches."""
    from slmconvert.evaluation.generation import generate

    model, tokenizer = tiny_loaded.model, tiny_loaded.tokenizer
    prompts = [f"question {i}" for i in range(6)]
    sizes = [5, 500, 5, 500, 5, 500]
    plain = generate(model, tokenizer, prompts, max_new_tokens=4, batch_size=3, warmup=False, continuous=False)
    sorted_run = generate(model, tokenizer, prompts, max_new_tokens=4, batch_size=3, warmup=False, answer_sizes=sizes,
                          continuous=False)
    assert [r.text for r in plain.results] == [r.text for r in sorted_run.results]
    batch_of = {}
    for i, result in enumerate(sorted_run.results):
        batch_of.setdefault(result.batch_seconds, []).append(i)
    assert sorted(map(sorted, batch_of.values())) == [[0, 2, 4], [1, 3, 5]]

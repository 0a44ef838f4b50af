"""Data preparation: completion-only labels token by token, length limits, context distillation."""

from __future__ import annotations

import pytest

from slmconvert.finetune import data as fdata
from slmconvert.models import load_tokenizer
from slmconvert.models.prompt import PromptFormat, render_record_completion, render_record_prompt
from tests.finetune.conftest import SYSTEM, cluster_records, task_record


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    return load_tokenizer(str(tiny_model))


def test_labels_mask_exactly_the_prompt_token_by_token(tokenizer):
    fmt = PromptFormat("canonical")
    record = task_record(3)
    prepared = fdata.prepare_records([record], tokenizer, fmt, max_length=None)
    example = prepared.examples[0]
    prompt_text = render_record_prompt(record, tokenizer, fmt)
    completion_text = render_record_completion(record, tokenizer, fmt)
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(completion_text, add_special_tokens=False)["input_ids"]
    assert example.input_ids == prompt_ids + completion_ids
    assert len(example.labels) == len(example.input_ids)
    for position, (token, label) in enumerate(zip(example.input_ids, example.labels, strict=True)):
        if position < len(prompt_ids):
            assert label == fdata.IGNORE_INDEX, f"prompt token {position} carries loss"
        else:
            assert label == token, f"completion token {position} is masked"
    # the loss-bearing tokens decode to exactly the completion, ending with the end-of-turn marker
    loss_ids = [t for t, lab in zip(example.input_ids, example.labels, strict=True) if lab != fdata.IGNORE_INDEX]
    assert tokenizer.decode(loss_ids) == completion_text
    assert completion_text.endswith("<|im_end|>") and "lookup_order" in completion_text
    assert "<|im_start|>assistant" in tokenizer.decode(example.input_ids[: example.prompt_tokens])


def test_trl_keeps_our_labels_through_dataset_preparation_and_collation(tokenizer, tiny_model, tmp_path):
    """SFTTrainer must neither re-mask nor truncate the pre-tokenized examples."""
    import datasets
    from transformers import AutoModelForCausalLM
    from trl import SFTTrainer

    from slmconvert.finetune.budget import make_plan
    from slmconvert.finetune.trainer import sft_config
    from tests.finetune.conftest import fast_params

    fmt = PromptFormat("canonical")
    prepared = fdata.prepare_records([task_record(i) for i in range(4)], tokenizer, fmt, max_length=None)
    plan = make_plan(fast_params(), device="cpu", n_params=None, n_train=4, mean_length=40.0, max_length=256,
                     completion_max=30, varlen_attention=False)
    args = sft_config(plan, tmp_path / "run", validate=False)
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model), args=args, processing_class=tokenizer,
        train_dataset=datasets.Dataset.from_list([e.to_row() for e in prepared.examples]),
    )
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    for row, example in enumerate(prepared.examples):
        n = len(example.input_ids)
        assert batch["input_ids"][row, :n].tolist() == example.input_ids
        assert batch["labels"][row, :n].tolist() == example.labels
        assert (batch["labels"][row, n:] == fdata.IGNORE_INDEX).all()
        assert batch["attention_mask"][row].sum().item() == n


def test_over_long_prompts_lose_their_middle_and_completions_are_never_cut():
    prompt, completion = list(range(100)), list(range(1000, 1020))
    example = fdata.build_example(prompt, completion, max_length=60)
    assert example is not None and example.truncated
    assert len(example.input_ids) == 60
    assert example.input_ids[-20:] == completion  # completion intact
    kept_prompt = example.input_ids[:40]
    assert kept_prompt[:10] == prompt[:10] and kept_prompt[-30:] == prompt[-30:]  # head and tail survive
    assert fdata.build_example(prompt, list(range(50)), max_length=60) is None  # completion alone does not fit
    assert not fdata.build_example(prompt[:10], completion, max_length=60).truncated


def test_prepare_counts_dropped_and_truncated_examples():
    prompts = [list(range(10)), list(range(80)), list(range(10))]
    completions = [list(range(5)), list(range(5)), list(range(70))]
    out = fdata.prepare([{}, {}, {}], prompts, completions, max_length=64)
    assert (len(out.examples), out.truncated, out.dropped) == (2, 1, 1)
    assert out.loss_tokens == 10


def test_max_length_follows_the_length_distribution():
    prompts = [[0] * n for n in range(10, 110)]
    completions = [[0] * 20] * 100
    limit = fdata.choose_max_length(prompts, completions, percentile=90.0, context_length=None)
    assert limit % 8 == 0 and 115 <= limit <= 128  # p90 of 30..129 is ~119
    assert fdata.choose_max_length(prompts, completions, 100.0, context_length=64) == 64


def test_context_distillation_only_when_identical_across_the_cluster():
    records = cluster_records(n_train=6).train
    assert fdata.distillation_flags(records, "auto") == (True, True)
    assert fdata.distillation_flags(records, "off") == (False, False)
    varied = [*records, {**records[0], "messages": [{"role": "system", "content": SYSTEM + " Be brief."},
                                                  *records[0]["messages"][1:]]}]
    assert fdata.distillation_flags(varied, "auto") == (False, True)
    no_tools = [{**r, "tools": []} for r in records[:2]] + [records[2]]
    assert fdata.distillation_flags(no_tools, "auto") == (True, False)
    bare = [{"messages": [{"role": "user", "content": "hi"}], "tools": []}] * 3
    assert fdata.distillation_flags(bare, "auto") == (False, False)  # nothing shared to drop


def test_shared_system_lines_are_those_most_calls_have():
    def record(date, extra=""):
        return {"messages": [{"role": "system", "content": f"{SYSTEM}\nToday is {date}.{extra}"}]}

    records = [record(f"2026-11-{d:02d}") for d in range(1, 10)] + [record("2026-12-01", "\nVIP customer.")]
    shared = fdata.shared_system_lines(records)
    from slmconvert.models.prompt import line_hash

    assert line_hash(SYSTEM.splitlines()[0]) in shared
    assert not {line_hash("Today is 2026-11-01."), line_hash("VIP customer.")} & set(shared)
    assert fdata.shared_system_lines(records, min_share=1.0) == (line_hash(SYSTEM),)
    assert fdata.shared_system_lines([]) == ()


def test_shared_sentences_of_a_varying_line_are_dropped_too(tokenizer):
    """A line that holds a date differs in every call, yet most of its sentences are shared: those are
    learnt, the date's sentence is kept (sample logs' support agent: 181 -> 141 tokens per example)."""
    from slmconvert.models.prompt import PromptFormat, line_hash, render_prompt, sentence_hash

    def record(day, channel="web chat"):
        line = f"You are Riley, the assistant of Acme. Today is 2026-11-{day:02d}. The customer uses {channel}."
        return {"messages": [{"role": "system", "content": f"{line}\nBe polite."}, {"role": "user", "content": "hi"}]}

    records = [record(d) for d in range(1, 9)] + [record(9, "the app"), record(10, "the app")]
    shared = set(fdata.shared_system_lines(records))
    assert shared == {line_hash("Be polite."), sentence_hash("You are Riley, the assistant of Acme."),
                      sentence_hash("The customer uses web chat.")}
    prompt = render_prompt(records[9]["messages"], [], tokenizer, PromptFormat(drop_system_lines=tuple(shared)))
    assert "Today is 2026-11-10. The customer uses the app." in prompt and "Riley" not in prompt
    assert "polite" not in prompt


def test_distilled_prompts_are_shorter_and_drop_the_shared_parts(tokenizer):
    record = task_record(5)
    full = render_record_prompt(record, tokenizer, PromptFormat("canonical"))
    distilled = render_record_prompt(record, tokenizer, PromptFormat("canonical", drop_system=True, drop_tools=True))
    assert SYSTEM in full and "lookup_order" in full
    assert SYSTEM not in distilled and "lookup_order" not in distilled
    assert record["messages"][1]["content"] in distilled
    assert len(tokenizer(distilled)["input_ids"]) < len(tokenizer(full)["input_ids"])


def test_data_hash_changes_with_data_and_format(tokenizer):
    fmt = PromptFormat("canonical")
    a = {"train": fdata.prepare_records([task_record(1)], tokenizer, fmt, None)}
    b = {"train": fdata.prepare_records([task_record(2)], tokenizer, fmt, None)}
    assert fdata.data_hash(a, fmt) == fdata.data_hash(a, fmt)
    assert fdata.data_hash(a, fmt) != fdata.data_hash(b, fmt)
    assert fdata.data_hash(a, fmt) != fdata.data_hash(a, PromptFormat("canonical", drop_system=True))


def test_validation_sample_starts_with_the_calls_select_measured():
    from slmconvert.finetune.run import _validation_sample

    records = [{"call_id": f"c{i:02d}"} for i in range(20)]
    chosen = _validation_sample(records, ["c07", "c03", "zz"], limit=5, seed=0)
    ids = [r["call_id"] for r in chosen]
    assert len(ids) == 5 and {"c03", "c07"} <= set(ids) and ids == sorted(ids)
    assert _validation_sample(records, [], limit=5, seed=0) == _validation_sample(records, [], limit=5, seed=0)
    assert len(_validation_sample(records, [f"c{i:02d}" for i in range(20)], limit=3, seed=0)) == 3


def test_validation_prompts_are_the_trained_prompts(tokenizer):
    fmt = PromptFormat("canonical")
    records = [task_record(i) for i in range(3)]
    full = fdata.prepare_records(records, tokenizer, fmt, max_length=None)
    assert fdata.prompt_texts(full, tokenizer, fmt) == [render_record_prompt(r, tokenizer, fmt) for r in records]
    limit = full.examples[0].completion_tokens + 20
    cut = fdata.prepare_records(records[:1], tokenizer, fmt, max_length=limit)
    assert cut.truncated == 1
    text = fdata.prompt_texts(cut, tokenizer, fmt)[0]
    assert tokenizer(text, add_special_tokens=False)["input_ids"] == cut.examples[0].input_ids[:20]
    assert text.endswith("<|im_start|>assistant\n")

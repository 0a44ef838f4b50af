"""A multi-step conversation trains once: earlier steps become labelled turns of the longest call that
contains them (same tokens and targets, fewer tokens per pass)."""

from __future__ import annotations

import pytest

from slmconvert.finetune import data as fdata
from slmconvert.finetune.data import IGNORE_INDEX
from slmconvert.models.prompt import PromptFormat
from tests.finetune.conftest import task_record


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from slmconvert.models import load_tokenizer

    return load_tokenizer(str(tiny_model))


def _steps(i: int) -> list[dict]:
    """Three logged calls of one conversation: lookup, then a reply after the tool result, then a follow-up."""
    first = task_record(i)
    order = first["output"]["tool_calls"][0]["function"]["arguments"]["order_id"]
    result = {"role": "tool", "tool_call_id": f"call_{i}", "content": f'{{"order_id": "{order}", "status": "shipped"}}'}
    second = {**first, "call_id": f"{first['call_id']}-2", "messages": [*first["messages"], first["output"], result],
              "output": {"role": "assistant", "content": f"Order {order} has shipped."}}
    third = {**first, "call_id": f"{first['call_id']}-3",
             "messages": [*second["messages"], second["output"], {"role": "user", "content": "thanks! when?"}],
             "output": {"role": "assistant", "content": "It should arrive within 3 days."}}
    return [first, second, third]


def _labelled(example) -> list[int]:
    return [t for t in example.labels if t != IGNORE_INDEX]


def test_earlier_steps_become_labelled_turns_of_the_last_one(tokenizer):
    records = _steps(1) + _steps(2) + [task_record(50)]
    plain = fdata.prepare_records(records, tokenizer, PromptFormat(), None)
    merged = fdata.merge_turns(plain)
    assert merged.merged == 4 and len(merged.examples) == 3  # two conversations of 3 steps + a lone call
    assert [r["call_id"] for r in merged.records] == [records[2]["call_id"], records[5]["call_id"], records[6]["call_id"]]
    assert merged.total_tokens < plain.total_tokens
    assert merged.loss_tokens == plain.loss_tokens  # every logged turn is still a target, once
    by_id = {r["call_id"]: e for r, e in zip(plain.records, plain.examples, strict=True)}
    last = merged.examples[0]
    expected = [t for step in records[:3] for t in _labelled(by_id[step["call_id"]])]
    assert _labelled(last) == expected  # the three completions, in conversation order
    assert last.input_ids == by_id[records[2]["call_id"]].input_ids  # same tokens as the last call alone


def test_cut_examples_and_unrelated_calls_do_not_merge(tokenizer):
    records = _steps(3)
    plain = fdata.prepare_records(records, tokenizer, PromptFormat(), None)
    longest = len(plain.examples[2].input_ids)
    cut = fdata.prepare_records(records, tokenizer, PromptFormat(), longest - 4)  # only the last step is cut
    assert cut.truncated == 1
    merged = fdata.merge_turns(cut)
    # step 1 merges into step 2; nothing merges into the cut step 3, which keeps only its own target
    assert merged.merged == 1 and [e.truncated for e in merged.examples] == [False, True]
    assert _labelled(merged.examples[1]) == _labelled(cut.examples[2])
    alone = fdata.prepare_records([task_record(i) for i in range(6)], tokenizer, PromptFormat(), None)
    assert fdata.merge_turns(alone) is alone

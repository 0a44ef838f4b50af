"""From curated prompt/completion records to token ids with completion-only labels.

Prompt and completion are rendered with the shared prompt format (models.prompt) and tokenized
separately, exactly as generation sees them (the prompt alone, then the completion's tokens), so
the label mask is the completion by construction. Over-long examples lose the middle of their
prompt (the template head and the latest turn survive); the completion is never cut: an example
whose completion alone does not fit is dropped and counted.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slmconvert.artifacts.curated import conversation
from slmconvert.models.prompt import (
    PromptFormat,
    line_hash,
    render_record_completion,
    render_record_prompt,
    sentence_hash,
    sentences,
)
from slmconvert.util.jsonio import canonical_json, sha256_json

IGNORE_INDEX = -100
MIN_PROMPT_TOKENS = 16  # room kept for the generation prompt and the latest turn when cutting
HEAD_SHARE = 0.25  # share of a cut prompt's budget kept from its start (template + system head)
SHARED_LINE_SHARE = 0.8  # a system-prompt line in this share of a cluster's calls is learnt, not shown
SHARED_TOOLS_SHARE = 0.95  # tool schemas identical in this share of a cluster's calls are learnt, not shown


@dataclass
class Example:
    """One training example: token ids and labels (IGNORE_INDEX on prompt tokens)."""

    input_ids: list[int]
    labels: list[int]
    prompt_tokens: int
    completion_tokens: int
    truncated: bool = False

    def to_row(self) -> dict[str, Any]:
        return {"input_ids": self.input_ids, "labels": self.labels, "length": len(self.input_ids)}


@dataclass
class PreparedSet:
    """A split's usable examples plus what happened to the rest."""

    examples: list[Example]
    records: list[dict[str, Any]]  # the source record of each example, same order
    dropped: int = 0
    truncated: int = 0
    merged: int = 0  # examples trained as a labelled turn inside a longer example of the same conversation

    @property
    def loss_tokens(self) -> int:
        return sum(e.completion_tokens for e in self.examples)

    @property
    def total_tokens(self) -> int:
        return sum(len(e.input_ids) for e in self.examples)

    @property
    def mean_length(self) -> float:
        """Mean tokens per example (prompt + completion); 0 when there are none."""
        return self.total_tokens / len(self.examples) if self.examples else 0.0


@dataclass
class LengthStats:
    """Token-length distribution of the rendered training examples (before cutting)."""

    count: int
    prompt_p50: float
    prompt_max: int
    completion_p50: float
    completion_max: int
    total_p50: float
    total_p98: float
    total_max: int
    completion_mean: float = 0.0
    prompt_mean: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "extra"} | self.extra


def system_text(record: dict[str, Any]) -> str:
    """The concatenated system/developer messages of a record's prompt."""
    parts = []
    for message in conversation(record):
        if message.get("role") in ("system", "developer"):
            content = message.get("content")
            parts.append(content if isinstance(content, str) else canonical_json(content))
    return "\n\n".join(parts)


def tools_key(record: dict[str, Any]) -> str:
    """What drop_tools removes from a prompt: the tool schemas and the response-format instruction."""
    return canonical_json([record.get("tools") or [], record.get("response_format")])


def distillation_flags(records: list[dict[str, Any]], mode: str) -> tuple[bool, bool]:
    """(drop_system, drop_tools): drop the system prompt when present and identical in every record;
    the tool schemas when present and identical in SHARED_TOOLS_SHARE of them. Many tool schemas
    are most of a prompt (sample logs: ~3.2k of ~3.4k tokens), cut from every example at max_length
    yet shown in full at serve time; a schema drift in a few calls must not keep them in.
    Constrained decoding (models.constrain) still binds each call to its own request's schemas."""
    if mode == "off" or not records:
        return False, False
    systems = {system_text(r) for r in records}
    drop_system = len(systems) == 1 and systems != {""}
    key, count = dominant_tools(records)
    drop_tools = key != tools_key({}) and count >= SHARED_TOOLS_SHARE * len(records)
    return drop_system, drop_tools


def dominant_tools(records: list[dict[str, Any]]) -> tuple[str, int]:
    """The most common `tools_key` among records and how many records have it."""
    counts = Counter(tools_key(r) for r in records)
    return counts.most_common(1)[0] if counts else (tools_key({}), 0)


def shared_system_lines(records: list[dict[str, Any]], min_share: float = SHARED_LINE_SHARE) -> tuple[str, ...]:
    """Hashes of the system-prompt lines, and of the sentences of the other lines, found in at least
    min_share of the records: what a specialist learns when whole system prompts differ only in a few
    lines or sentences (a date, a channel: "You are Riley, ... app. Today is Monday, 2026-11-02." keeps
    only the date's sentence)."""
    if not records:
        return ()
    lines: Counter[str] = Counter()
    pieces: Counter[str] = Counter()
    line_pieces: dict[str, set[str]] = {}
    for record in records:
        found = {line_hash(line): line for line in system_text(record).splitlines() if line.strip()}
        for key, line in found.items():
            if key not in line_pieces:
                line_pieces[key] = {sentence_hash(s) for s in sentences(line)}
        lines.update(found.keys())
        pieces.update(set().union(*(line_pieces[key] for key in found)))
    needed = min_share * len(records)
    dropped = {key for key, n in lines.items() if n >= needed}
    shared = {h for key in lines.keys() - dropped for h in line_pieces[key] if pieces[h] >= needed}
    return tuple(sorted(dropped | shared))


def distilled_format(records: list[dict[str, Any]], fmt: PromptFormat, mode: str = "auto") -> PromptFormat:
    """`fmt` without the context a specialist of these records learns (context distillation, `mode`
    auto or off): the shared system prompt and tool schemas (distillation_flags), else the system-prompt
    lines and sentences most of them share (shared_system_lines). finetune trains with it and select
    prices a cluster's training and evidence with it."""
    drop_system, drop_tools = distillation_flags(records, mode)
    shared_lines = shared_system_lines(records) if mode != "off" and not drop_system else ()
    return dataclasses.replace(fmt, drop_system=drop_system, drop_tools=drop_tools, drop_system_lines=shared_lines)


def distilled_context(records: list[dict[str, Any]], fmt: PromptFormat) -> dict[str, Any]:
    """Hashes of the prompt parts a distilled specialist has learnt (to spot drift at serve time)."""
    first = records[0] if records else {}
    out: dict[str, Any] = {"drop_system": fmt.drop_system, "drop_tools": fmt.drop_tools}
    if fmt.drop_system:
        out["system_sha256"] = sha256_json(system_text(first))
    if fmt.drop_system_lines:
        out["system_lines_dropped"] = len(fmt.drop_system_lines)
    if fmt.drop_tools:
        out["tools_sha256"] = sha256_json(dominant_tools(records)[0])
    return out


def encode(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    """Token ids of rendered texts (the template already put in every special token)."""
    if not texts:
        return []
    return tokenizer(texts, add_special_tokens=False)["input_ids"]


def render_pairs(records: list[dict[str, Any]], tokenizer: Any, fmt: PromptFormat) -> tuple[list[str], list[str]]:
    """Rendered prompt and completion text of each record."""
    prompts = [render_record_prompt(r, tokenizer, fmt) for r in records]
    completions = [render_record_completion(r, tokenizer, fmt) for r in records]
    return prompts, completions


def length_stats(prompt_ids: list[list[int]], completion_ids: list[list[int]]) -> LengthStats:
    """Percentiles of prompt, completion and total token lengths."""
    p = np.array([len(x) for x in prompt_ids] or [0])
    c = np.array([len(x) for x in completion_ids] or [0])
    t = p + c
    return LengthStats(
        count=len(prompt_ids),
        prompt_p50=float(np.percentile(p, 50)), prompt_max=int(p.max()),
        completion_p50=float(np.percentile(c, 50)), completion_max=int(c.max()),
        total_p50=float(np.percentile(t, 50)), total_p98=float(np.percentile(t, 98)), total_max=int(t.max()),
        completion_mean=float(c.mean()), prompt_mean=float(p.mean()),
    )


def choose_max_length(
    prompt_ids: list[list[int]], completion_ids: list[list[int]], percentile: float, context_length: int | None
) -> int:
    """Token limit covering `percentile` of the examples (multiple of 8), never above the context."""
    totals = [len(p) + len(c) for p, c in zip(prompt_ids, completion_ids, strict=True)] or [MIN_PROMPT_TOKENS * 2]
    limit = int(math.ceil(float(np.percentile(totals, percentile)) / 8.0) * 8)
    limit = max(limit, 2 * MIN_PROMPT_TOKENS)
    return min(limit, context_length) if context_length else limit


def cut_prompt(prompt: list[int], budget: int) -> list[int]:
    """Keep the prompt's head and tail within `budget` tokens, dropping the middle."""
    if len(prompt) <= budget:
        return prompt
    head = int(budget * HEAD_SHARE)
    return prompt[:head] + prompt[len(prompt) - (budget - head):]


def build_example(prompt: list[int], completion: list[int], max_length: int | None) -> Example | None:
    """Concatenate prompt and completion with completion-only labels; None if the completion cannot fit."""
    truncated = False
    if max_length is not None and len(prompt) + len(completion) > max_length:
        budget = max_length - len(completion)
        if budget < min(MIN_PROMPT_TOKENS, len(prompt)):
            return None
        prompt, truncated = cut_prompt(prompt, budget), True
    return Example(
        input_ids=list(prompt) + list(completion),
        labels=[IGNORE_INDEX] * len(prompt) + list(completion),
        prompt_tokens=len(prompt),
        completion_tokens=len(completion),
        truncated=truncated,
    )


def prepare(
    records: list[dict[str, Any]],
    prompt_ids: list[list[int]],
    completion_ids: list[list[int]],
    max_length: int | None,
) -> PreparedSet:
    """Examples for already-encoded records; drops those whose completion alone exceeds the limit."""
    out = PreparedSet(examples=[], records=[])
    for record, prompt, completion in zip(records, prompt_ids, completion_ids, strict=True):
        example = build_example(prompt, completion, max_length) if completion else None
        if example is None:
            out.dropped += 1
            continue
        out.truncated += int(example.truncated)
        out.examples.append(example)
        out.records.append(record)
    return out


def merge_turns(prepared: PreparedSet) -> PreparedSet:
    """Train each conversation once with a loss on every logged turn it contains.

    An agent logs one call per step, and each step's prompt repeats the earlier steps: call A's prompt
    plus completion is the head of a later call B's prompt. Such an A is not trained on its own: its
    completion becomes a labelled span inside the longest example that contains it (same tokens, same
    targets, one forward pass). On multi-step tool agents this cut one pass over the examples by 30-40%
    of its tokens. Only whole (uncut) examples merge; labels only come from examples of this set.
    """
    examples = prepared.examples
    whole: dict[tuple[int, int], list[int]] = {}  # (length, hash of all its tokens) -> uncut examples
    for i, example in enumerate(examples):
        if not example.truncated:
            whole.setdefault((len(example.input_ids), _prefix_hashes(example.input_ids)[-1]), []).append(i)
    lengths = sorted({length for length, _ in whole})
    host: dict[int, int] = {}  # merged example -> the longest example holding it
    for j in sorted(range(len(examples)), key=lambda k: -len(examples[k].input_ids)):
        outer = examples[j]
        if outer.truncated or j in host:
            continue
        hashes = _prefix_hashes(outer.input_ids[:outer.prompt_tokens])
        for length in lengths:
            if length > outer.prompt_tokens:
                break
            for i in whole.get((length, hashes[length]), []):
                if i not in host and i != j and examples[i].input_ids == outer.input_ids[:length]:
                    host[i] = j
    if not host:
        return prepared
    labels = {j: list(examples[j].labels) for j in set(host.values())}
    extra: Counter[int] = Counter()
    for i, j in host.items():
        inner = examples[i]
        span = slice(inner.prompt_tokens, len(inner.input_ids))
        if all(label == IGNORE_INDEX for label in labels[j][span]):  # a duplicate call's turn counts once
            extra[j] += inner.completion_tokens
        labels[j][span] = inner.input_ids[span]
    out = PreparedSet(examples=[], records=[], dropped=prepared.dropped, truncated=prepared.truncated,
                      merged=prepared.merged + len(host))
    for k, (example, record) in enumerate(zip(examples, prepared.records, strict=True)):
        if k in host:
            continue
        if k in labels:
            example = Example(example.input_ids, labels[k], example.prompt_tokens,
                              example.completion_tokens + extra[k], example.truncated)
        out.examples.append(example)
        out.records.append(record)
    return out


def _prefix_hashes(ids: list[int]) -> list[int]:
    """Polynomial hash of every prefix of `ids` (index k: the first k tokens)."""
    out, value = [0], 0
    for token in ids:
        value = (value * 1_000_003 + token + 1) % (2**61 - 1)
        out.append(value)
    return out


def prepare_records(
    records: list[dict[str, Any]], tokenizer: Any, fmt: PromptFormat, max_length: int | None
) -> PreparedSet:
    """Render, encode and build the examples of some records in one go."""
    prompts, completions = render_pairs(records, tokenizer, fmt)
    return prepare(records, encode(tokenizer, prompts), encode(tokenizer, completions), max_length)


def prompt_texts(prepared: PreparedSet, tokenizer: Any, fmt: PromptFormat) -> list[str]:
    """The prompt of each example as text, exactly as trained: rendered, or decoded from the cut
    token ids when the prompt lost its middle."""
    return [
        tokenizer.decode(example.input_ids[: example.prompt_tokens], skip_special_tokens=False)
        if example.truncated else render_record_prompt(record, tokenizer, fmt)
        for example, record in zip(prepared.examples, prepared.records, strict=True)
    ]


def data_hash(prepared: dict[str, PreparedSet], fmt: PromptFormat) -> str:
    """Content hash of the exact token sequences trained and validated on (plus the prompt format)."""
    return sha256_json(
        {
            "format": fmt.to_dict(),
            "sets": {
                name: [[e.input_ids, e.prompt_tokens] for e in part.examples] for name, part in sorted(prepared.items())
            },
        }
    )

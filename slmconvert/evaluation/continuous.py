"""Continuous batching: greedy decoding in a fixed number of slots, each refilled as soon as its row ends.

A batch decoded as a whole runs until its longest answer ends, and its rows pad each other to the
widest prompt (measured on the sample logs' first tool-call decision, SmolLM2-135M, 2 EPYC cores: 95
test calls in 14 batches ran 893 decoding steps for 4,370 answer tokens, 57 s). Here up to `slots`
rows decode together; when one ends (a stop token, or its token budget), it leaves and the next
prompt is prefilled and joins at once. A decoding step on a CPU costs little more for 16 rows than for
one (it reads every weight either way: 63 ms against 42 there), so keeping the slots full is what makes
it fast: that cluster's 165 validation and test calls took 70 s in slots against 106 s in whole batches
(`benchmarks/continuous_generation.py`); answers of a few tokens gain nothing (the intent classifier:
11.5 s against 10.9).

Each row keeps its own positions. The key/value cache holds the rows right-aligned: a row that
joins with a shorter prompt than the others' history has masked columns to its left, and columns
no row needs any more are dropped. Rows are prefilled as `generation.generate` prefills a batch (a
shared prompt head computed once, then [head][padding][own tokens]), so each row's answer is the
one it gets alone, up to float rounding.

Only caches whose layers are all plain `DynamicLayer`s (full attention) can be rearranged this way;
`decode` raises `Unsupported` before producing anything otherwise (e.g. sliding-window layers), and
the caller decodes whole batches.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from slmconvert.evaluation.generation import last_position_forward, length_batches

JOIN_SHARE = 4  # rows join in groups of a quarter of the slots (see SlotDecoder.join_at)
WIDTH_RATIO = 2.0  # a prompt shorter than 1/WIDTH_RATIO of its class's longest (and by WIDTH_SLACK tokens
WIDTH_SLACK = 256  # or more) starts a new class: below that, the columns it would attend for nothing cost
# less than a decoding step's weight reads (SmolLM2-135M, 16 rows, 2 EPYC cores: 63 ms a step at 80 columns,
# 103 ms at 600)


class Unsupported(Exception):
    """The model's key/value cache cannot be rearranged row by row."""


@dataclass
class Row:
    """One prompt's decoding: the tokens it took (stop token included) and when it joined and left."""

    index: int
    position: int  # the position of its next token
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    matcher: Any = None
    started: float = 0.0
    seconds: float = 0.0
    stopped: bool = False


@dataclass
class Prefill:
    """How prompts are prefilled: their token ids, the shared head (ids and its one-row cache), and the
    most rows a prefill of a given width may hold (the attention-score budget)."""

    encoded: Sequence[list[int]]
    head: list[int]
    head_cache: Any
    rows_for: Callable[[int], int]


class SlotDecoder:
    """Decodes prompts in `slots` rows that are refilled as they end (see the module docstring).

    grammars: per prompt index, its grammar (None = free); `grammar` is the GrammarProcessor whose
    `matcher(...)` makes each row's matcher (models.constrain).
    """

    def __init__(self, model: Any, prefill: Prefill, *, slots: int, max_new_tokens: int, stops: Sequence[int],
                 pad_id: int, grammar: Any = None, grammars: Sequence[str | None] | None = None,
                 logprobs: bool = False) -> None:
        self.model = model
        self.prefill = prefill
        self.slots = max(1, slots)
        self.max_new_tokens = max_new_tokens
        self.stops = set(stops)
        self.pad_id = pad_id
        self.grammar = grammar
        self.grammars = grammars
        self.logprobs = logprobs
        self.device = next(model.parameters()).device
        self.rows: list[Row] = []
        self.cache: Any = None
        self.mask: Any = None  # (rows, columns) 1 where a row attends
        self.logits: Any = None  # (rows, vocabulary) at each row's last position
        # rows join once this many slots are free: a prefill reads every weight as a decoding step does,
        # and a step costs about the same with a few rows fewer, so joining in groups is cheaper
        self.join_at = max(1, self.slots // JOIN_SHARE)

    def decode(self, order: Sequence[int], on_done: Callable[[Row], None] | None = None,
               between: Callable[[], None] | None = None) -> None:
        """Decode every prompt in `order` (prefilled in that order). on_done: called with each row as it
        ends. between: called before each prefill (e.g. a thread governor)."""
        import torch

        pending = deque(order)
        with torch.inference_mode():
            while pending or self.rows:
                free = self.slots - len(self.rows)
                if pending and (free >= min(self.join_at, len(pending)) or not self.rows):
                    if between is not None:
                        between()
                    self._join([pending.popleft() for _ in range(min(free, len(pending)))])
                ended = self._choose()
                for row in ended:
                    if on_done is not None:
                        on_done(row)
                self._leave(ended)
                if self.rows:
                    self._step()

    # -- rows joining: prefill, then the cache and mask widened to hold them right-aligned

    def _join(self, indices: list[int]) -> None:
        """Prefill `indices` and add them as rows: in groups of alike prompt lengths within the attention
        budget, as whole batches are (`generation.length_batches`)."""
        lengths = {i: len(self.prefill.encoded[i]) for i in indices}
        order = sorted(indices, key=lambda i: -lengths[i])
        sizes = [lengths.get(i, 0) for i in range(max(indices) + 1)]
        for group in length_batches(order, sizes, len(order), self.prefill.rows_for, sizes):
            self._prefill_group(group)

    def _prefill_group(self, indices: list[int]) -> None:
        import torch

        head = self.prefill.head
        suffixes = [list(self.prefill.encoded[i][len(head):]) for i in indices]
        width = max(len(s) for s in suffixes)
        ids = torch.tensor([[self.pad_id] * (width - len(s)) + s for s in suffixes], device=self.device)
        mask = torch.tensor([[1] * len(head) + [0] * (width - len(s)) + [1] * len(s) for s in suffixes],
                            device=self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, len(head):]
        started = time.perf_counter()  # a row's latency includes its prefill
        kwargs: dict[str, Any] = {}
        if self.prefill.head_cache is not None:
            cache = _copy_cache(self.prefill.head_cache)
            cache.batch_repeat_interleave(len(indices))
            kwargs["cache"] = cache
        out = last_position_forward(self.model, input_ids=ids, attention_mask=mask, position_ids=positions,
                                    use_cache=True, **kwargs)
        cache = out.get("cache") if hasattr(out, "get") else None
        _plain_layers(cache)
        rows = [Row(index=i, position=int(m.sum()), started=started) for i, m in zip(indices, mask, strict=True)]
        for row in rows:
            if self.grammar is not None and self.grammars is not None:
                row.matcher = self.grammar.matcher(self.grammars[row.index])
        self._append(cache, mask, out.logits[:, -1, :].float(), rows)

    def _append(self, cache: Any, mask: Any, logits: Any, rows: list[Row]) -> None:
        import torch

        if self.cache is None:
            self.cache, self.mask, self.logits, self.rows = cache, mask, logits, rows
            return
        have, new = self.mask.shape[1], mask.shape[1]
        width = max(have, new)
        for old, added in zip(_plain_layers(self.cache), _plain_layers(cache), strict=True):
            old.keys = torch.cat([_pad_left(old.keys, width - have), _pad_left(added.keys, width - new)], dim=0)
            old.values = torch.cat([_pad_left(old.values, width - have), _pad_left(added.values, width - new)], dim=0)
        self.mask = torch.cat([_pad_left(self.mask, width - have), _pad_left(mask, width - new)], dim=0)
        self.logits = torch.cat([self.logits, logits], dim=0)
        self.rows = self.rows + rows

    # -- one token per row, then rows that ended leave

    def _choose(self) -> list[Row]:
        """Each row takes its greedy next token (within its grammar); returns the rows that ended."""
        import torch

        from slmconvert.models.constrain import consume, restrict

        scores = self.logits
        if self.grammar is not None:
            restrict(scores, [row.matcher for row in self.rows])
        chosen = scores.argmax(dim=-1)
        best = torch.log_softmax(scores, dim=-1).max(dim=-1).values.tolist() if self.logprobs else None
        ended = []
        now = time.perf_counter()
        for k, (row, token) in enumerate(zip(self.rows, chosen.tolist(), strict=True)):
            row.tokens.append(token)
            if best is not None:
                row.logprobs.append(best[k])
            if self.grammar is not None:
                consume(row.matcher, token)
            row.stopped = token in self.stops
            if row.stopped or len(row.tokens) >= self.max_new_tokens:
                row.seconds = now - row.started
                ended.append(row)
        return ended

    def _leave(self, ended: list[Row]) -> None:
        import torch

        if not ended:
            return
        gone = {id(row) for row in ended}
        keep = [k for k, row in enumerate(self.rows) if id(row) not in gone]
        self.rows = [self.rows[k] for k in keep]
        if not keep:
            self.cache = self.mask = self.logits = None
            return
        index = torch.tensor(keep, device=self.device)
        mask = self.mask[index]
        used = mask.any(dim=0).nonzero()
        first = int(used[0]) if used.numel() else mask.shape[1]
        for layer in _plain_layers(self.cache):
            layer.keys = layer.keys[index, :, first:]
            layer.values = layer.values[index, :, first:]
        self.mask = mask[:, first:]
        self.logits = self.logits[index]

    def _step(self) -> None:
        """One decoding step of every row."""
        import torch

        ids = torch.tensor([[row.tokens[-1]] for row in self.rows], device=self.device)
        positions = torch.tensor([[row.position] for row in self.rows], device=self.device)
        self.mask = torch.cat([self.mask, torch.ones_like(self.mask[:, :1])], dim=1)
        out = last_position_forward(self.model, input_ids=ids, attention_mask=self.mask, position_ids=positions,
                                    cache=self.cache, use_cache=True)
        self.cache = out.get("cache") if hasattr(out, "get") else self.cache
        self.logits = out.logits[:, -1, :].float()
        for row in self.rows:
            row.position += 1


def slots_supported(model: Any) -> bool:
    """Whether `model`'s key/value cache can be rearranged row by row (a two-token forward's is inspected)."""
    import torch

    with torch.inference_mode():
        ids = torch.tensor([[1, 2]], device=next(model.parameters()).device)
        out = last_position_forward(model, input_ids=ids, use_cache=True)
    try:
        _plain_layers(out.get("cache") if hasattr(out, "get") else None)
    except Unsupported:
        return False
    return True


def width_classes(order: Sequence[int], lengths: Sequence[int], ratio: float = WIDTH_RATIO,
                  slack: int = WIDTH_SLACK) -> list[list[int]]:
    """`order` split into classes of alike prompt length (see WIDTH_RATIO), longest class first, each in
    `order`'s order: rows share the cache's width, so a short prompt beside a long one pays for the long
    one's columns at every step."""
    classes: list[list[int]] = []
    floor = None
    for index in sorted(order, key=lambda i: -lengths[i]):
        if floor is None or lengths[index] < floor:
            classes.append([])
            floor = min(lengths[index] / ratio, lengths[index] - slack)
        classes[-1].append(index)
    rank = {index: k for k, index in enumerate(order)}
    return [sorted(members, key=rank.__getitem__) for members in classes]


def _plain_layers(cache: Any) -> list[Any]:
    """The cache's layers, if each is a plain full-attention DynamicLayer; else Unsupported."""
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    if not layers or any(type(layer) is not DynamicLayer for layer in layers):
        raise Unsupported(f"cache {type(cache).__name__} has layers other than plain DynamicLayers")
    return list(layers)


def _copy_cache(cache: Any) -> Any:
    """A cache with the same tensors (not copied: repeat_interleave makes new ones) in new layer objects."""
    import copy

    fresh = copy.copy(cache)
    fresh.layers = [copy.copy(layer) for layer in cache.layers]
    return fresh


def _pad_left(tensor: Any, columns: int) -> Any:
    """`columns` zero columns before dimension -2 (keys, values) or the last one (masks)."""
    import torch

    if columns <= 0:
        return tensor
    if tensor.dim() == 2:
        return torch.cat([tensor.new_zeros(tensor.shape[0], columns), tensor], dim=1)
    shape = list(tensor.shape)
    shape[-2] = columns
    return torch.cat([tensor.new_zeros(shape), tensor], dim=-2)

"""Batched greedy generation with honest timing: the engine of evaluation, select and replay.

Where the model's cache allows it, prompts decode in `batch_size` slots refilled as rows end
(`evaluation.continuous`, continuous batching); otherwise, or with `continuous=False`, in whole batches:

Prompts are tokenized without added special tokens (rendered prompts already carry them),
ordered by prompt and expected answer length so each batch pads little, batched up to `batch_size`
rows and fewer where long prompts would hold more than ATTENTION_BUDGET_BYTES of attention scores or
pad the batch past PADDED_PROMPT_LIMIT, left-padded, decoded greedily until an end-of-turn or EOS
token, and returned in the caller's order. A short warm-up call runs first and is not
timed; `wall_seconds` is wall clock over all batches (CUDA synchronised), shared-prefix
computation included.

Shared prefix: the prompts of one batch usually share a long head (template, system prompt,
tool schemas). Its KV cache is computed once per batch and copied to every row; rows are laid
out as [prefix][padding][own suffix] with the padding masked out, so positions (taken from the
attention mask) and outputs are those of each prompt alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slmconvert.models.chat import stop_token_ids
from slmconvert.models.prompt import CHARS_PER_TOKEN
from slmconvert.util.threads import ThreadGovernor

MIN_SHARED_PREFIX = 32  # tokens; below this a cache copy costs more than it saves
ATTENTION_BUDGET_BYTES = 512 * 2**20  # the attention scores a batch may hold at once: a masked prefill
# materialises rows x heads x width^2 of them on a CPU (measured: 16 support-agent prompts of up to 5,700 tokens
# in one batch peaked at 5.7 GB RSS and ran 2.3x slower than in batches within this budget, 1.6 GB)
DECODE_PREFILL_RATIO = 6.0  # a decoded token costs a row about as much as this many prefilled prompt tokens
# (SmolLM2-135M, batch 16, bf16, AMD EPYC 2 cores: prefill 2,790 tok/s, decode 446 tok/s)
PADDED_PROMPT_LIMIT = 1.5  # a batch's prompts padded to its widest may hold at most this many times their own
# tokens: a batch of 16 support-agent calls with one 820-token multi-turn prompt beside 75-token ones took 23 s
# (one core), its short rows 3 s; the padded rows are prefilled and attended to at every decoding step


@dataclass
class GenerationResult:
    """One prompt's output. `token_logprobs` (when asked for) are the log-probabilities of the
    generated tokens, stop token included, under the model's unprocessed distribution."""

    text: str
    prompt_tokens: int
    new_tokens: int
    stopped: bool  # ended on a stop token (False: hit max_new_tokens)
    truncated_prompt: bool
    batch_seconds: float  # wall time of the batch that produced it (continuous batching: of the whole run)
    token_ids: list[int]
    token_logprobs: list[float] | None = None
    latency_seconds: float | None = None  # from its prefill to its last token, where not the batch's wall

    @property
    def latency(self) -> float:
        """The seconds its caller waited for it: its batch's, or its own row's under continuous batching."""
        return self.latency_seconds if self.latency_seconds is not None else self.batch_seconds


@dataclass
class GenerationRun:
    """All results (in prompt order) plus the timing of the whole run."""

    results: list[GenerationResult]
    wall_seconds: float
    warmup_seconds: float
    batch_size: int

    @property
    def calls_per_second(self) -> float:
        return len(self.results) / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def tokens_per_second(self) -> float:
        tokens = sum(r.new_tokens for r in self.results)
        return tokens / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def timing(self) -> dict[str, Any]:
        """JSON-able timing summary."""
        latencies = sorted(r.latency for r in self.results)
        return {
            "calls": len(self.results),
            "batch_size": self.batch_size,
            "wall_seconds": round(self.wall_seconds, 4),
            "warmup_seconds": round(self.warmup_seconds, 4),
            "calls_per_second": round(self.calls_per_second, 4),
            "tokens_per_second": round(self.tokens_per_second, 2),
            "seconds_per_call": round(self.wall_seconds / len(self.results), 4) if self.results else None,
            "batch_latency_p50_seconds": round(latencies[len(latencies) // 2], 4) if latencies else None,
            "new_tokens": sum(r.new_tokens for r in self.results),
            "stopped_share": round(sum(r.stopped for r in self.results) / len(self.results), 4) if self.results else None,
        }


class _LogprobRecorder:
    """Logits processor that records the log-probability of the greedy choice at each step."""

    def __init__(self) -> None:
        self.steps: list[Any] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        self.steps.append(torch.log_softmax(scores.float(), dim=-1).max(dim=-1).values.cpu())
        return scores


def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 128,
    batch_size: int = 8,
    max_prompt_tokens: int | None = None,
    logprobs: bool = False,
    warmup: bool = True,
    progress: Callable[[int], None] | None = None,
    stop_ids: Sequence[int] | None = None,
    share_prefix: bool = True,
    grammars: Sequence[str | None] | None = None,
    governor: ThreadGovernor | None = None,
    answer_sizes: Sequence[int] | None = None,
    continuous: bool = True,
) -> GenerationRun:
    """Greedy-decode every prompt in batches; results come back in prompt order.

    max_prompt_tokens: longer prompts keep their last tokens (the end holds the question and the
    generation prompt) and are flagged `truncated_prompt`; default = context length - max_new_tokens.
    progress: called with the number of prompts finished after each batch (e.g. a rich advance).
    share_prefix: compute each batch's common token prefix once (see module docstring).
    grammars: per prompt, a grammar its output must follow (models.constrain; None = free); log-probs
    are then those of the constrained distribution.
    governor: sizes the CPU thread pool before each batch (util.threads); a caller that generates in
    many small calls passes its own, so the measurement spans them (default: one for this call).
    answer_sizes: per prompt, the expected size of its answer in characters (e.g. the LLM's logged
    answer in an evaluation): rows alike in prompt and answer length share a batch (`batch_order`;
    default: batches by prompt length only).
    continuous: decode in `batch_size` slots refilled as rows end (`evaluation.continuous`) where the
    model's cache allows it; else, or with False, in whole batches.
    """
    import torch
    from transformers import GenerationConfig, LogitsProcessorList

    stops = list(stop_ids) if stop_ids is not None else stop_token_ids(tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
    limit = max(1, max_prompt_tokens or _context_length(model, default=4096) - max_new_tokens)
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    truncated = [len(ids) > limit for ids in encoded]
    encoded = [ids[-limit:] if len(ids) > limit else ids for ids in encoded]
    lengths = [len(ids) for ids in encoded]
    order = batch_order(lengths, answer_sizes)
    device = next(model.parameters()).device
    config = GenerationConfig(
        max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
        eos_token_id=stops, pad_token_id=pad_id,
    )

    def run_batch(batch: list[list[int]], recorder: _LogprobRecorder | None, cfg: Any,
                  rules: list[str | None] | None = None) -> Any:
        prefix = _prefix_cache(model, batch, device) if share_prefix else None
        shared = prefix[0] if prefix is not None else []
        rows = [ids[len(shared):] for ids in batch]
        width = max(len(ids) for ids in rows)
        input_ids = torch.tensor([shared + [pad_id] * (width - len(ids)) + ids for ids in rows], device=device)
        mask = torch.tensor([[1] * len(shared) + [0] * (width - len(ids)) + [1] * len(ids) for ids in rows], device=device)
        kwargs: dict[str, Any] = {}
        if prefix is not None:
            cache = prefix[1]
            cache.batch_repeat_interleave(len(rows))
            kwargs["cache"] = cache
        steps = [p for p in (_grammar_processor(tokenizer, rules, model, stops), recorder) if p is not None]
        processors = LogitsProcessorList(steps) if steps else None
        with torch.inference_mode():
            out = model.generate(
                input_ids=input_ids, attention_mask=mask, generation_config=cfg, logits_processor=processors, **kwargs
            )
        return out[:, len(shared) + width:].tolist()

    warmup_seconds = 0.0
    if warmup and encoded:
        started = time.perf_counter()
        shortest = min(encoded, key=len)
        run_batch([shortest], None, GenerationConfig(**{**config.to_dict(), "max_new_tokens": 2}))
        _sync(device)
        warmup_seconds = time.perf_counter() - started

    if device.type != "cpu":
        governor = None
    elif governor is None:
        governor = ThreadGovernor()
    results: list[GenerationResult | None] = [None] * len(encoded)
    wall = 0.0
    try:
        if continuous and encoded:
            from slmconvert.evaluation.continuous import Unsupported

            try:
                wall = _decode_in_slots(model, tokenizer, encoded, order, results, truncated, max_new_tokens,
                                        batch_size, stops, pad_id, grammars, logprobs, share_prefix, progress,
                                        governor)
                return GenerationRun([r for r in results if r is not None], wall, warmup_seconds, batch_size)
            except Unsupported:
                pass
        for indices in length_batches(order, [n + max_new_tokens for n in lengths], batch_size,
                                      _attention_rows(model), lengths):
            if governor is not None:
                governor.adjust()
            recorder = _LogprobRecorder() if logprobs else None
            _sync(device)
            started = time.perf_counter()
            rules = [grammars[i] for i in indices] if grammars is not None else None
            generated = run_batch([encoded[i] for i in indices], recorder, config, rules)
            _sync(device)
            elapsed = time.perf_counter() - started
            wall += elapsed
            step_logprobs = torch.stack(recorder.steps, dim=1).tolist() if recorder and recorder.steps else None
            for row, index in enumerate(indices):
                ids = generated[row]
                end = next((k for k, t in enumerate(ids) if t in stops), None)
                kept = ids[: end + 1] if end is not None else ids
                text_ids = kept[:-1] if end is not None else kept
                results[index] = GenerationResult(
                    text=tokenizer.decode(text_ids, skip_special_tokens=False),
                    prompt_tokens=len(encoded[index]),
                    new_tokens=len(kept),
                    stopped=end is not None,
                    truncated_prompt=truncated[index],
                    batch_seconds=elapsed,
                    token_ids=kept,
                    token_logprobs=step_logprobs[row][: len(kept)] if step_logprobs else None,
                )
            if progress is not None:
                progress(len(indices))
    finally:
        if governor is not None:
            governor.restore()
    return GenerationRun([r for r in results if r is not None], wall, warmup_seconds, batch_size)


def _decode_in_slots(model: Any, tokenizer: Any, encoded: list[list[int]], order: list[int],
                     results: list[GenerationResult | None], truncated: list[bool], max_new_tokens: int,
                     slots: int, stops: list[int], pad_id: int, grammars: Sequence[str | None] | None,
                     logprobs: bool, share_prefix: bool, progress: Callable[[int], None] | None,
                     governor: ThreadGovernor | None) -> float:
    """`generate`'s continuous-batching path: fills `results`, returns the wall seconds."""
    from slmconvert.evaluation.continuous import Prefill, SlotDecoder, width_classes

    device = next(model.parameters()).device
    head = _prefix_cache(model, encoded, device) if share_prefix else None
    prefill = Prefill(encoded, head[0] if head else [], head[1] if head else None, _attention_rows(model))
    decoder = SlotDecoder(model, prefill, slots=slots, max_new_tokens=max_new_tokens, stops=stops, pad_id=pad_id,
                          grammar=_grammar_processor(tokenizer, list(grammars) if grammars else None, model, stops),
                          grammars=grammars, logprobs=logprobs)
    _sync(device)
    started = time.perf_counter()

    def done(row: Any) -> None:
        text_ids = row.tokens[:-1] if row.stopped else row.tokens
        results[row.index] = GenerationResult(
            text=tokenizer.decode(text_ids, skip_special_tokens=False), prompt_tokens=len(encoded[row.index]),
            new_tokens=len(row.tokens), stopped=row.stopped, truncated_prompt=truncated[row.index],
            batch_seconds=0.0, token_ids=list(row.tokens), token_logprobs=list(row.logprobs) if logprobs else None,
            latency_seconds=row.seconds)
        if progress is not None:
            progress(1)

    for members in width_classes(order, [len(ids) for ids in encoded]):
        decoder.decode(members, done, governor.adjust if governor is not None else None)
    _sync(device)
    wall = time.perf_counter() - started
    for result in results:
        if result is not None:
            result.batch_seconds = wall
    return wall


def batch_order(prompt_tokens: Sequence[int], answer_sizes: Sequence[int] | None = None) -> list[int]:
    """Prompt indices, costliest first, so that each batch holds alike rows: a batch prefills every row
    to its widest prompt and decodes until its longest answer ends. A row costs its prompt plus its
    expected answer (characters) at DECODE_PREFILL_RATIO prompt tokens per answer token."""
    sizes = list(answer_sizes) if answer_sizes is not None else [0] * len(prompt_tokens)

    def cost(i: int) -> float:
        return prompt_tokens[i] + DECODE_PREFILL_RATIO * sizes[i] / CHARS_PER_TOKEN

    return sorted(range(len(prompt_tokens)), key=lambda i: (-cost(i), -prompt_tokens[i]))


def length_batches(order: Sequence[int], widths: Sequence[int], batch_size: int,
                   rows_for: Callable[[int], int], prompt_tokens: Sequence[int] | None = None) -> list[list[int]]:
    """`order` cut into consecutive batches of at most `batch_size` rows, at most `rows_for(width)`
    rows where the batch's widest prompt is `width` tokens, and (given `prompt_tokens`) no more rows
    than keep the padded prompt within PADDED_PROMPT_LIMIT x the batch's own prompt tokens."""
    batches: list[list[int]] = []
    start = 0
    while start < len(order):
        rows, widest = 1, widths[order[start]]
        own = prompt_tokens[order[start]] if prompt_tokens is not None else 0
        longest = own
        while start + rows < len(order) and rows < batch_size:
            row = order[start + rows]
            wider = max(widest, widths[row])
            if rows + 1 > rows_for(wider):
                break
            if prompt_tokens is not None:
                longer = max(longest, prompt_tokens[row])
                if (rows + 1) * longer > PADDED_PROMPT_LIMIT * (own + prompt_tokens[row]):
                    break
                own, longest = own + prompt_tokens[row], longer
            rows, widest = rows + 1, wider
        batches.append(list(order[start:start + rows]))
        start += rows
    return batches


def _attention_rows(model: Any) -> Callable[[int], int]:
    """Rows whose masked prefill at a width stays within ATTENTION_BUDGET_BYTES (fp32 scores, all heads)."""
    from slmconvert.models.loading import attention_shape

    heads, _ = attention_shape(getattr(model, "config", None))
    return lambda width: ATTENTION_BUDGET_BYTES // max(1, heads * 4 * width * width)


def _grammar_processor(tokenizer: Any, rules: list[str | None] | None, model: Any, stops: list[int]) -> Any:
    """A constraint for the batch's rows (models.constrain), or None when no row has a grammar."""
    if not rules or not any(rules):
        return None
    from slmconvert.models.constrain import GrammarProcessor

    return GrammarProcessor(tokenizer, rules, model.get_output_embeddings().weight.shape[0], stops)


def shared_prefix_length(encoded: Sequence[Sequence[int]]) -> int:
    """Tokens every prompt starts with, leaving each prompt at least one token of its own."""
    if len(encoded) < 2:
        return 0
    limit = min(len(ids) for ids in encoded) - 1
    first = encoded[0]
    length = 0
    while length < limit and all(ids[length] == first[length] for ids in encoded):
        length += 1
    return length


def _prefix_cache(model: Any, encoded: Sequence[list[int]], device: Any) -> tuple[list[int], Any] | None:
    """(prefix ids, its KV cache) when the batch's prompts share a long enough head, else None."""
    import torch

    length = shared_prefix_length(encoded)
    if length < MIN_SHARED_PREFIX:
        return None
    prefix = list(encoded[0][:length])
    with torch.inference_mode():  # only the cache is wanted: no vocabulary projection of every prefix position
        out = last_position_forward(model, input_ids=torch.tensor([prefix], device=device), use_cache=True)
    cache = out.get("cache") if hasattr(out, "get") else None
    if cache is None or not hasattr(cache, "batch_repeat_interleave"):
        return None
    return prefix, cache


def last_position_forward(model: Any, **inputs: Any) -> Any:
    """A forward pass that projects the vocabulary at the last position only, as generation's prefill
    does (all of them where the architecture has no `logits_to_keep`)."""
    try:
        return model(**inputs, logits_to_keep=1)
    except TypeError:
        return model(**inputs)


def _context_length(model: Any, default: int) -> int:
    config = getattr(model, "config", None)
    config = getattr(config, "text_config", None) or config
    for key in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return default


def _sync(device: Any) -> None:
    if getattr(device, "type", "cpu") == "cuda":
        import torch

        torch.cuda.synchronize(device)

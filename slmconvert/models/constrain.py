"""Constrained decoding of tool calls against the request's own tools (llguidance).

A specialist's reply is either plain text or one or more canonical tool-call blocks. With a
constraint, a block can only name a tool the request offers and its arguments must match that
tool's JSON Schema, so every tool call the SLM emits parses and validates; text replies stay free.
Distilled specialists no longer see the tool schemas in their prompt: the grammar is where the
request's schemas still bind them.

The block text comes from `toolspec.format_tool_call` (one format, one parser): the grammar is its
text around a JSON-Schema-constrained `arguments` value, with the same separators.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from slmconvert.models.toolspec import format_tool_call, tool_function

_ARGS_MARK = "__slm_arguments__"
# json.dumps defaults, as format_tool_call writes them (whitespace inside strings stays free)
_JSON_OPTIONS = {"item_separator": ", ", "key_separator": ": ", "whitespace_flexible": False, "lenient": True}


def available() -> bool:
    """True when llguidance is importable (constraints are skipped, not failed, without it)."""
    try:
        import llguidance  # noqa: F401
    except ImportError:
        return False
    return True


def tool_call_grammar(tools: Sequence[dict[str, Any]], allow_text: bool = True) -> str | None:
    """A Lark grammar (llguidance dialect): tool-call blocks (newline-separated) naming one of
    `tools` with schema-valid arguments, optionally after one line of text; or (allow_text) free
    text that neither opens with `<` nor holds a `<tool_call>` tag. None without tools."""
    alternatives = []
    for tool in tools:
        fn = tool_function(tool)
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            continue
        head, tail = format_tool_call(name, _ARGS_MARK).split(json.dumps(_ARGS_MARK), 1)  # type: ignore[arg-type]
        schema = json.dumps({**argument_schema(fn.get("parameters")), "x-guidance": _JSON_OPTIONS}, ensure_ascii=False)
        alternatives.append(f"{json.dumps(head)} %json {schema} {json.dumps(tail)}")
    if not alternatives:
        return None
    rules = "\n    | ".join(alternatives)
    head_rules = _TEXT_RULES if allow_text else "start: calls\n"
    return head_rules + 'calls: call ("\\n" call)*\n' + f"call: {rules}\n"


# Text replies never hold a tool-call tag; text before calls is one line, ended lazily at its newline.
_TEXT_RULES = (
    "start: TEXT | preface? calls\n"
    "TEXT: /[^<\\s][\\s\\S]*/ & ~/[\\s\\S]*<tool_call>[\\s\\S]*/\n"
    "preface[lazy]: /[^<\\s][^\\n]*\\n/ & ~/[\\s\\S]*<tool_call>[\\s\\S]*/\n"
)


def argument_schema(parameters: Any) -> dict[str, Any]:
    """A tool's parameter schema with unknown top-level keys ruled out (unless it allows them)."""
    schema = dict(parameters) if isinstance(parameters, dict) else {}
    schema.setdefault("type", "object")
    if schema.get("type") == "object":
        schema.setdefault("properties", {})
        schema.setdefault("additionalProperties", False)
    return schema


@lru_cache(maxsize=8)
def _ll_tokenizer(tokenizer_json: str, vocab_size: int, stops: tuple[int, ...]) -> Any:
    import llguidance

    return llguidance.LLTokenizer(tokenizer_json, n_vocab=vocab_size, eos_token=list(stops))


def ll_tokenizer(tokenizer: Any, vocab_size: int, stops: Sequence[int]) -> Any:
    """llguidance's view of a fast HF tokenizer (built once per tokenizer, ~1 s)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ValueError("constrained decoding needs a fast (tokenizers) tokenizer")
    return _ll_tokenizer(backend.to_str(), vocab_size, tuple(stops))


class GrammarProcessor:
    """A transformers logits processor: row i may only continue its grammar (None = free).

    A row whose grammar has ended (stop token taken) or failed is left unconstrained; generation
    stops it on its own. Call it once per decoding step, the first time with the prompt alone.
    """

    def __init__(self, tokenizer: Any, grammars: Sequence[str | None], vocab_size: int, stops: Sequence[int]) -> None:
        self.vocab_size = vocab_size
        self._tokenizer = ll_tokenizer(tokenizer, vocab_size, stops) if any(grammars) else None
        self.matchers = [self.matcher(g) for g in grammars]
        self._started = False
        self.forced_steps = 0  # rows x steps where the grammar allowed a single token

    def matcher(self, grammar: str | None) -> Any:
        """A fresh matcher for one row's grammar (None: the row is free)."""
        if not grammar:
            return None
        import llguidance

        return _pristine(llguidance, self._tokenizer, grammar).deep_copy()

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self._started:
            for matcher, token in zip(self.matchers, input_ids[:, -1].tolist(), strict=True):
                consume(matcher, int(token))
        self._started = True
        self.forced_steps += restrict(scores, self.matchers)
        return scores


def consume(matcher: Any, token: int) -> None:
    """Advance a row's matcher past the token it took (no-op for a free or finished row)."""
    if _active(matcher):
        matcher.consume_token(token)


def restrict(scores: Any, matchers: Sequence[Any]) -> int:
    """Mask, in place, the scores of each row (scores[i] <-> matchers[i]) to what its grammar allows;
    returns how many rows were left a single token."""
    import torch

    rows = [i for i, m in enumerate(matchers) if _active(m)]
    if not rows:
        return 0
    words = (scores.shape[-1] + 31) // 32
    bitmask = torch.full((len(rows), words), -1, dtype=torch.int32)
    for k, row in enumerate(rows):
        words_of_row = torch.frombuffer(bytearray(matchers[row].compute_bitmask()), dtype=torch.int32)
        width = min(words, words_of_row.numel())  # the tokenizer may count more ids than the logits
        bitmask[k, :width] = words_of_row[:width]
    allowed = unpack_bitmask(bitmask, scores.shape[-1]).to(scores.device)
    index = torch.tensor(rows, device=scores.device)
    scores[index] = scores[index].masked_fill(~allowed, float("-inf"))
    return int((allowed.sum(dim=-1) == 1).sum())


def _active(matcher: Any) -> bool:
    return matcher is not None and not matcher.is_stopped() and not matcher.is_error()


_PRISTINE: dict[tuple[int, str], tuple[Any, Any]] = {}
_PRISTINE_MAX = 64


def _pristine(llguidance: Any, ll_tok: Any, grammar: str) -> Any:
    """A fresh matcher per (tokenizer, grammar), compiled once (~40-80 ms for 34 tools); callers
    take a deep copy (microseconds)."""
    key = (id(ll_tok), grammar)
    held = _PRISTINE.get(key)
    if held is None or held[0] is not ll_tok:  # the tokenizer object itself, not a reused id
        matcher = llguidance.LLMatcher(ll_tok, grammar, log_level=0)
        if matcher.is_error():
            raise ValueError(f"invalid tool-call grammar: {matcher.get_error()}")
        if len(_PRISTINE) >= _PRISTINE_MAX:
            _PRISTINE.pop(next(iter(_PRISTINE)))
        held = _PRISTINE[key] = (ll_tok, matcher)
    return held[1]


def unpack_bitmask(bitmask: Any, vocab_size: int) -> Any:
    """(rows, ceil(V/32)) int32 bit words -> (rows, V) bool of allowed tokens (bit j of word w = token 32w+j)."""
    import torch

    shifts = torch.arange(32, dtype=torch.int32)
    bits = (bitmask.unsqueeze(-1) >> shifts) & 1
    return bits.reshape(bitmask.shape[0], -1)[:, :vocab_size].bool()


def record_grammar(record: dict[str, Any]) -> str | None:
    """The tool-call grammar of a call record (its own `tools`), None when it offers none."""
    tools = record.get("tools") or []
    return _cached_grammar(json.dumps(list(tools), sort_keys=True, ensure_ascii=False)) if tools else None


@lru_cache(maxsize=64)
def _cached_grammar(tools_json: str) -> str | None:
    return tool_call_grammar(json.loads(tools_json))

"""SLM generation for the router and the evaluation: base model + LoRA adapter, batched, with
token log-probabilities. One base model is loaded once and serves every adapter trained on it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from slmconvert.models.constrain import available as constrain_available
from slmconvert.models.constrain import record_grammar
from slmconvert.models.loading import inference_dtype
from slmconvert.models.prompt import PromptFormat, assistant_text, render_record_prompt
from slmconvert.router.confidence import token_end_offsets


@dataclass
class Generation:
    """One generated answer with what escalation and economics need."""

    text: str
    logprobs: list[float] | None
    ends: list[int] | None  # character end offset of each generated token
    prompt_tokens: int
    new_tokens: int
    seconds: float  # wall time of the batch that produced it (continuous batching: of the whole run)
    batch_size: int = 1
    batch_id: str = ""  # generations from one batch share it (to sum wall time per batch)
    cached: bool = False
    latency_seconds: float | None = None  # its own wait where it was not the batch's (continuous batching)

    @property
    def latency(self) -> float:
        """The seconds its caller waited for it."""
        return self.latency_seconds if self.latency_seconds is not None else self.seconds

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Generation:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class Generator(Protocol):
    """Produces SLM answers for calls of one cluster (tests inject fakes)."""

    def generate(
        self,
        model: str,
        adapter: Path | None,
        fmt: PromptFormat,
        records: Sequence[dict[str, Any]],
        max_new_tokens: int,
        progress: Callable[[int], None] | None = None,
    ) -> list[Generation]: ...


def base_format(fmt: PromptFormat) -> PromptFormat:
    """The prompt format a base model gets zero-shot: same style, nothing distilled away."""
    return dataclasses.replace(fmt, drop_system=False, drop_tools=False, drop_system_lines=())


def logged_answer_size(record: dict[str, Any]) -> int:
    """Characters of the LLM's logged answer (0 for a live request): how long the SLM's answer is
    likely to be, so that evaluation batches alike answers together (a batch decodes to its longest)."""
    output = record.get("output")
    return len(assistant_text(output)) if isinstance(output, dict) else 0


def decoding_tag(device: str, constrain_tool_calls: bool) -> str:
    """How answers are decoded (tool calls constrained, where llguidance is installed, or not; the
    precision): part of the generation cache's key."""
    constrained = constrain_tool_calls and constrain_available()
    return ",".join((["constrained"] if constrained else []) + [f"dtype={inference_dtype(device)}"])


class PeftGenerator:
    """Generation with real models: `load_model` + PEFT adapters, via the evaluation harness's
    batched `generate` (greedy, left-padded, honest timing)."""

    def __init__(self, device: str = "auto", batch_size: int = 8, logprobs: bool = True,
                 constrain_tool_calls: bool = True, merge_adapters: bool = False) -> None:
        self.device = device
        self.batch_size = batch_size
        self.logprobs = logprobs
        # merge_adapters: generate with a copy of the base that has the adapter's weights merged in (no
        # per-layer LoRA matmuls and casts: 1.6-2x on CPU); one merged copy is kept at a time, so it
        # suits evaluation (one cluster after another) rather than a router interleaving clusters
        self.merge_adapters = merge_adapters
        self._merged: tuple[str, Any] | None = None  # (adapter key, merged model)
        # tool calls decoded against each request's own tools (models.constrain), when installed
        self.constrain_tool_calls = constrain_tool_calls and constrain_available()
        # how the answers were decoded, for the generation cache: constrained or not, and the precision
        self.cache_tag = decoding_tag(device, self.constrain_tool_calls)
        self._models: dict[str, Any] = {}  # base model name -> LoadedModel
        self._adapters: dict[str, dict[str, str]] = {}  # base model name -> adapter path -> name
        self.load_seconds = 0.0
        self._runs = 0
        self._governor: Any = None  # one CPU thread governor across calls (iterate generates 16 calls a time)

    def _loaded(self, model: str) -> Any:
        if model not in self._models:
            from slmconvert.models import load_model
            from slmconvert.util.device import configure_threads

            configure_threads()  # no more intra-op threads than physical cores
            loaded = load_model(model, device=self.device)
            self.load_seconds += loaded.load_seconds
            self._models[model] = loaded
            self._adapters[model] = {}
        return self._models[model]

    def _select(self, model: str, adapter: Path | None) -> tuple[Any, Any]:
        """(model ready to generate, tokenizer) with `adapter` active, or the plain base model."""
        loaded = self._loaded(model)
        net = loaded.model
        names = self._adapters[model]
        if adapter is None:
            return net, loaded.tokenizer
        key = str(Path(adapter).resolve())
        if self.merge_adapters:
            return self._merged_model(net, key), loaded.tokenizer
        if key not in names:
            from peft import PeftModel

            name = f"a{len(names)}"
            if not names:
                net = PeftModel.from_pretrained(net, key, adapter_name=name, is_trainable=False)
                net.eval()
                loaded.model = net
            else:
                net.load_adapter(key, adapter_name=name, is_trainable=False)
            names[key] = name
        net.set_adapter(names[key])
        return net, loaded.tokenizer

    def _merged_model(self, base: Any, key: str) -> Any:
        """The base with adapter `key` merged into a copy of its weights (the base stays untouched:
        merging into shared low-precision weights and back would not restore them exactly)."""
        if self._merged is None or self._merged[0] != key:
            import copy

            from peft import PeftModel

            self._merged = None  # free the previous copy before making the next
            merged = PeftModel.from_pretrained(copy.deepcopy(base), key, is_trainable=False).merge_and_unload()
            self._merged = (key, merged.eval())
        return self._merged[1]

    def generate(
        self,
        model: str,
        adapter: Path | None,
        fmt: PromptFormat,
        records: Sequence[dict[str, Any]],
        max_new_tokens: int,
        progress: Callable[[int], None] | None = None,
    ) -> list[Generation]:
        """Answers for `records` (curated or normalised call records), in order."""
        from slmconvert.evaluation.generation import generate
        from slmconvert.util.threads import ThreadGovernor

        if not records:
            return []
        net, tokenizer = self._select(model, adapter)
        prompts = [render_record_prompt(r, tokenizer, fmt) for r in records]
        base_only = adapter is None and hasattr(net, "disable_adapter") and self._adapters.get(model)
        with net.disable_adapter() if base_only else contextlib.nullcontext():
            grammars = [record_grammar(r) for r in records] if self.constrain_tool_calls else None
            self._governor = self._governor or ThreadGovernor()
            run = generate(net, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=self.batch_size,
                           logprobs=self.logprobs, progress=progress, grammars=grammars, governor=self._governor,
                           answer_sizes=[logged_answer_size(r) for r in records])
        self._runs += 1
        out = []
        for result in run.results:
            out.append(Generation(
                text=result.text,
                logprobs=result.token_logprobs,
                ends=token_end_offsets(tokenizer, result.token_ids) if result.token_logprobs else None,
                prompt_tokens=result.prompt_tokens,
                new_tokens=result.new_tokens,
                seconds=result.batch_seconds,
                batch_size=min(self.batch_size, len(records)),
                batch_id=f"{os.getpid()}:{id(self)}:{self._runs}:{result.batch_seconds!r}",
                latency_seconds=result.latency_seconds,
            ))
        return out


def adapter_fingerprint(adapter: Path | None) -> str:
    """Content hash of an adapter directory (None: the base model)."""
    if adapter is None:
        return "base"
    from slmconvert.util.jsonio import sha256_file, sha256_json

    files = sorted(p for p in Path(adapter).rglob("*") if p.is_file())
    return sha256_json([[p.relative_to(adapter).as_posix(), sha256_file(p)] for p in files])


class CachedGenerator:
    """Remembers answers per (model, adapter content, format, call, token budget): replay reuses the
    evaluation's outputs, and with `cache_dir` a later version reuses them for unchanged adapters."""

    def __init__(self, inner: Generator, cache_dir: Path | None = None) -> None:
        self.inner = inner
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._memo: dict[str, Generation] = {}
        self._adapters: dict[str, str] = {}
        self.hits = 0
        self.generated = 0

    def close(self) -> None:
        """Let the inner generator's kept workers go (engine workers; nothing for one in this process)."""
        getattr(self.inner, "close", lambda: None)()

    def _key(self, model: str, adapter: Path | None, fmt: PromptFormat, call_id: str, max_new_tokens: int) -> str:
        from slmconvert.util.jsonio import sha256_json

        name = str(adapter)
        if name not in self._adapters:
            self._adapters[name] = adapter_fingerprint(adapter)
        parts = [model, self._adapters[name], fmt.to_dict(), call_id, max_new_tokens]
        tag = getattr(self.inner, "cache_tag", "")  # how the inner generator decodes (e.g. constrained)
        return sha256_json([*parts, tag] if tag else parts).split(":")[1]

    def _lookup(self, key: str) -> Generation | None:
        if key in self._memo:
            return self._memo[key]
        if self.cache_dir is not None:
            path = self.cache_dir / key[:2] / f"{key}.json"
            if path.is_file():
                from slmconvert.util.jsonio import read_json

                generation = Generation.from_dict({**read_json(path), "cached": True})
                self._memo[key] = generation
                return generation
        return None

    def _store(self, key: str, generation: Generation) -> None:
        self._memo[key] = generation
        if self.cache_dir is not None:
            from slmconvert.util.jsonio import atomic_write_json

            atomic_write_json(self.cache_dir / key[:2] / f"{key}.json", generation.to_dict())

    def generate(
        self,
        model: str,
        adapter: Path | None,
        fmt: PromptFormat,
        records: Sequence[dict[str, Any]],
        max_new_tokens: int,
        progress: Callable[[int], None] | None = None,
    ) -> list[Generation]:
        keys = [self._key(model, adapter, fmt, str(r["call_id"]), max_new_tokens) if r.get("call_id") else None
                for r in records]
        found = {i: g for i, k in enumerate(keys) if k is not None and (g := self._lookup(k)) is not None}
        missing = [i for i in range(len(records)) if i not in found]
        self.hits += len(found)
        if found and progress is not None:
            progress(len(found))
        if missing:
            made = self.inner.generate(model, adapter, fmt, [records[i] for i in missing], max_new_tokens, progress)
            self.generated += len(made)
            for i, generation in zip(missing, made, strict=True):
                found[i] = generation
                if keys[i] is not None:
                    self._store(keys[i], generation)
        return [found[i] for i in range(len(records))]

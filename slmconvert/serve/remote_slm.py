"""SLM answers from an OpenAI-compatible completions server (the `vllm serve ... --enable-lora`
command `slmconvert export` prints), each adapter addressed by its LoRA name (`cluster-<id>`).

The prompt is rendered here with the adapter's prompt format and the base model's tokenizer, so
the server sees exactly the text the adapter was trained on; token log-probabilities come back
for the confidence check.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from slmconvert.models.prompt import PromptFormat, render_record_prompt
from slmconvert.router.export import adapter_name
from slmconvert.router.generator import Generation
from slmconvert.router.router import Router


class RemoteSlmGenerator:
    """The router's Generator protocol over HTTP (`POST {base_url}/completions`, greedy)."""

    def __init__(self, base_url: str, key: Callable[[], str | None] = lambda: None, timeout_s: float = 30.0,
                 tokenizer: Callable[[str], Any] | None = None, transport: httpx.BaseTransport | None = None) -> None:
        self.url = base_url.rstrip("/") + "/completions"
        self.key = key
        self.client = httpx.Client(timeout=timeout_s, transport=transport)
        self._tokenizer_of = tokenizer or _load_tokenizer
        self._tokenizers: dict[str, Any] = {}
        self.names: dict[str, str] = {}  # resolved adapter path -> LoRA name on the server

    def register(self, router: Router) -> None:
        """Learn the LoRA names of a router's promoted adapters (names only accumulate: in-flight
        requests of the previous router still resolve)."""
        for route in router.config.promoted:
            path = router.adapter_path(route)
            if path is not None:
                self.names[str(Path(path).resolve())] = adapter_name(route.cluster_id)

    def _tokenizer(self, model: str) -> Any:
        if model not in self._tokenizers:
            self._tokenizers[model] = self._tokenizer_of(model)
        return self._tokenizers[model]

    def _served_name(self, model: str, adapter: Path | None) -> str:
        if adapter is None:
            from slmconvert.router.export import serving_id

            return serving_id(model)
        name = self.names.get(str(Path(adapter).resolve()))
        if name is None:
            raise LookupError(f"no LoRA name known for adapter {adapter}")
        return name

    def generate(self, model: str, adapter: Path | None, fmt: PromptFormat, records: Sequence[dict[str, Any]],
                 max_new_tokens: int, progress: Callable[[int], None] | None = None) -> list[Generation]:
        if not records:
            return []
        tokenizer = self._tokenizer(model)
        prompts = [render_record_prompt(r, tokenizer, fmt) for r in records]
        headers = {"authorization": f"Bearer {k}"} if (k := self.key()) else {}
        started = time.perf_counter()
        response = self.client.post(self.url, headers=headers, json={
            "model": self._served_name(model, adapter), "prompt": prompts, "max_tokens": max_new_tokens,
            "temperature": 0, "logprobs": 1, "skip_special_tokens": False,
        })
        response.raise_for_status()
        seconds = time.perf_counter() - started
        body = response.json()
        choices = sorted(body["choices"], key=lambda c: c.get("index", 0))
        total_prompt = (body.get("usage") or {}).get("prompt_tokens") or 0
        total_new = (body.get("usage") or {}).get("completion_tokens") or 0
        out = []
        for choice in choices:
            text = choice.get("text") or ""
            tokens, logprobs = _token_logprobs(choice.get("logprobs"))
            ends = _ends(tokens) if tokens else None
            out.append(Generation(text=text, logprobs=logprobs, ends=ends,
                                  prompt_tokens=int(total_prompt / max(1, len(prompts))),
                                  new_tokens=len(tokens) if tokens else int(total_new / len(choices)),
                                  seconds=seconds,
                                  batch_size=len(records), batch_id=str(body.get("id", ""))))
        if progress is not None:
            progress(len(records))
        return out


def _token_logprobs(logprobs: dict[str, Any] | None) -> tuple[list[str], list[float] | None]:
    if not logprobs:
        return [], None
    tokens = [str(t) for t in logprobs.get("tokens") or []]
    values = [float(v) if v is not None else float("nan") for v in logprobs.get("token_logprobs") or []]
    return tokens, values or None


def _ends(tokens: Sequence[str]) -> list[int]:
    """Character end offset of each token in the generated text."""
    ends, position = [], 0
    for token in tokens:
        position += len(token)
        ends.append(position)
    return ends


def _load_tokenizer(model: str) -> Any:
    from slmconvert.models.loading import load_tokenizer

    return load_tokenizer(model)

"""SLM generation on an engine (engine=ray): a cluster's calls are answered by a pool of workers, each
loading the base model and adapter once, instead of by this process.

The answers are those PeftGenerator gives in this process (each worker runs one): greedy decoding of
each prompt alone, so neither the split into batches nor the worker changes a text. An answer's
`seconds` is the wall time of its worker's batch; summed per batch (iterate's timing) it is worker
time, not the wall time of the parallel run. Workers read the adapter from its path: on a Ray
cluster of several nodes, the workspace must sit on a filesystem every node mounts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from slmconvert.engine.base import Engine, WorkerPool
from slmconvert.models.prompt import PromptFormat
from slmconvert.router.generator import Generation, PeftGenerator, decoding_tag


class GenerateBatch:
    """What an engine worker runs: one PeftGenerator, built once, answering batches of one cluster's calls."""

    def __init__(self, settings: dict[str, Any], model: str, adapter: str | None, fmt: dict[str, Any],
                 max_new_tokens: int) -> None:
        self.generator = PeftGenerator(**settings)
        self.model, self.max_new_tokens = model, max_new_tokens
        self.adapter = Path(adapter) if adapter is not None else None
        self.fmt = PromptFormat.from_dict(fmt)

    def __call__(self, records: list[dict[str, Any]]) -> list[Generation]:
        return self.generator.generate(self.model, self.adapter, self.fmt, records, self.max_new_tokens)


class EngineGenerator:
    """A Generator whose answers come from `engine` workers, `calls_per_worker_batch` calls at a time.

    `settings` are PeftGenerator's keyword arguments; every worker builds its generator from them.
    The workers of the latest (model, adapter, format, token limit) are kept: iterate asks for a
    cluster's test sample a chunk at a time, and each worker loads the model and adapter once."""

    def __init__(self, engine: Engine, settings: dict[str, Any], calls_per_worker_batch: int) -> None:
        self.engine = engine
        self.settings = dict(settings)
        self.calls_per_worker_batch = calls_per_worker_batch
        # the workers decode as this process's PeftGenerator would, so cached answers stay interchangeable
        self.cache_tag = decoding_tag(settings["device"], settings["constrain_tool_calls"])
        self._kept: tuple[tuple, WorkerPool] | None = None

    def generate(
        self,
        model: str,
        adapter: Path | None,
        fmt: PromptFormat,
        records: Sequence[dict[str, Any]],
        max_new_tokens: int,
        progress: Callable[[int], None] | None = None,
    ) -> list[Generation]:
        """Answers for `records`, in order."""
        if not records:
            return []
        args = (self.settings, model, None if adapter is None else str(adapter), fmt.to_dict(), max_new_tokens)
        out: list[Generation] = []
        for answers in self._pool(args).map(list(records), self.calls_per_worker_batch):
            out += answers
            if progress is not None:
                progress(len(answers))
        return out

    def _pool(self, args: tuple) -> WorkerPool:
        """The workers for these GenerateBatch arguments: the kept ones, or new ones (the old closed)."""
        key = (args[1], args[2], json.dumps(args[3], sort_keys=True), args[4])
        if self._kept is None or self._kept[0] != key:
            self.close()
            self._kept = (key, self.engine.pool(GenerateBatch, args, gpu=self.settings["device"] != "cpu"))
        return self._kept[1]

    def close(self) -> None:
        """Let the kept workers go."""
        if self._kept is not None:
            self._kept[1].close()
            self._kept = None


def evaluation_generator(params: Any, device: str, log: Callable[[str], None] | None = None) -> Any:
    """The generator iterate evaluates and replays with (IterateParams): a PeftGenerator on `device` in
    this process, or with engine=ray one on each Ray worker (on a GPU each where the cluster has them),
    a batch of calls per worker at a time."""
    from slmconvert.engine.base import make_engine

    settings = {"device": device, "batch_size": params.batch_size,
                "constrain_tool_calls": params.constrain_tool_calls, "merge_adapters": True}
    engine = make_engine(params, log)
    if engine.is_local:
        return PeftGenerator(**settings)
    # the workers' device (a GPU each where the Ray cluster has them), not this process's
    return EngineGenerator(engine, {**settings, "device": engine.device(params.device)}, params.batch_size)

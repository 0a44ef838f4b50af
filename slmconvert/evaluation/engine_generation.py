"""Generation of rendered prompts on an engine (engine=ray): select's zero-shot measurements spread
over workers, each loading the candidate model once.

Every prompt is decoded greedily and alone (see evaluation.generation), so the answers are those the
model gives in this process. A run's `wall_seconds` is the workers' generation time spent on its
prompts (each worker call's time shared among its prompts): worker time, warm-up excluded, not the
wall time of the parallel run.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from slmconvert.engine.base import Engine
from slmconvert.evaluation.generation import GenerationResult, GenerationRun, generate

Work = tuple[list[str], int]  # prompts and their max_new_tokens


class GeneratePrompts:
    """What an engine worker runs: the model loaded once; each call answers (prompt, max_new_tokens)
    items and returns (result, this item's share of the call's generation seconds)."""

    def __init__(self, model: Any, load: dict[str, Any], batch_size: int) -> None:
        from slmconvert.models.loading import load_model
        from slmconvert.util.device import configure_threads

        configure_threads()
        self.loaded = load_model(model, **load)
        self.batch_size = batch_size
        self.warm = False

    def __call__(self, items: list[tuple[str, int]]) -> list[tuple[GenerationResult, float]]:
        out: list[Any] = [None] * len(items)
        for budget in sorted({m for _, m in items}):
            rows = [i for i, (_, m) in enumerate(items) if m == budget]
            run = generate(self.loaded.model, self.loaded.tokenizer, [items[i][0] for i in rows],
                           max_new_tokens=budget, batch_size=self.batch_size, warmup=not self.warm)
            self.warm = True
            for i, result in zip(rows, run.results, strict=True):
                out[i] = (result, run.wall_seconds / len(rows))
        return out


def generate_on_engine(engine: Engine, model: Any, load: dict[str, Any], work: dict[Hashable, Work],
                       batch_size: int, progress: Callable[[int], None] | None = None) -> dict[Hashable, GenerationRun]:
    """Each key's prompts answered by `engine` workers building `load_model(model, **load)` (a GPU
    each where the cluster has them, unless load's device is cpu): one GenerationRun per key, results
    in prompt order. All keys go in one map, so one pool of workers (one model load each) serves them."""
    items = [(prompt, budget) for prompts, budget in work.values() for prompt in prompts]
    answered: list[tuple[GenerationResult, float]] = []
    gpu = load.get("device") != "cpu"
    for batch in engine.map_items(GeneratePrompts, items, batch_size, (model, load, batch_size), gpu=gpu):
        answered += batch
        if progress is not None:
            progress(len(batch))
    runs: dict[Hashable, GenerationRun] = {}
    start = 0
    for key, (prompts, _) in work.items():
        part = answered[start:start + len(prompts)]
        start += len(prompts)
        runs[key] = GenerationRun([r for r, _ in part], sum(s for _, s in part), 0.0, batch_size)
    return runs

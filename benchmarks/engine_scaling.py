"""Per-worker throughput of each distributed step, 1 vs 2 workers (the scaling ratio).

Steps: curate's scrubbing (engine=ray over a calls.parquet), cluster's embedding (engine=ray over
distinct signature texts), iterate's generation (the default SLM answering calls, engine=ray), and
data-parallel LoRA steps of the finetune stage's trainer (1 vs 2 processes, gloo). Each rate is the
steady one: items after the first result batch over the time from the first batch to the last, so
actor start-up (Ray, spaCy, the embedding model) is left out (it is reported apart). The in-process
local engine is measured the same way for reference.

    python benchmarks/engine_scaling.py --json out.json
    python benchmarks/engine_scaling.py --curate 320 --embed 1024 --generate 32 --skip-finetune

On a shared 2-core machine the numbers are a lower bound and the 2-worker ratio is capped by the
cores: say so wherever they are quoted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from slmconvert.cluster.embed import embed_unique  # noqa: E402
from slmconvert.cluster.synthetic import synthetic_calls as cluster_calls  # noqa: E402
from slmconvert.curate.params import CurateParams  # noqa: E402
from slmconvert.curate.pipeline import Curator  # noqa: E402
from slmconvert.curate.synthetic import synthetic_calls as curate_calls  # noqa: E402
from slmconvert.engine.base import Engine, EngineSpec  # noqa: E402
from slmconvert.models.embedder import SentenceEmbedder  # noqa: E402
from slmconvert.util.tables import iter_table, write_table  # noqa: E402

KEY = bytes(range(32))


class Clock:
    """Arrival times of result batches: the steady rate is the items after the first batch over the
    time from the first batch to the last (worker start-up, spaCy and model loads, are left out)."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, int]] = []

    def __call__(self, n: int) -> None:
        self.marks.append((time.perf_counter(), n))

    def report(self, started: float) -> dict:
        (first, n_first), (last, _) = self.marks[0], self.marks[-1]
        items = sum(n for _, n in self.marks)
        return {"items": items, "seconds_total": round(last - started, 2), "first_batch_after": round(first - started, 2),
                "items_per_second": round((items - n_first) / max(last - first, 1e-9), 1)}


def curate_rate(path: Path, n: int, engine: str, workers: int | None) -> dict:
    params = CurateParams(engine=engine, ray_workers=workers, span_store=False, chunk_records=16)
    curator = Curator(params, KEY)
    clock, started = Clock(), time.perf_counter()
    rows = sum(1 for _ in curator.curate(iter_table(path), clock, total=n, source=path))
    assert rows == n
    return clock.report(started)


def embed_rate(texts: list[str], engine: Engine) -> dict:
    clock, started = Clock(), time.perf_counter()
    embed_unique(texts, SentenceEmbedder(), advance=clock, engine=engine)
    return clock.report(started)


def generate_rate(calls: list[dict], engine: Engine) -> dict:
    """The first default candidate (zero-shot) answering calls, as iterate's generator does."""
    from slmconvert.iterate.params import IterateParams
    from slmconvert.models.prompt import PromptFormat
    from slmconvert.models.registry import DEFAULT_CANDIDATES
    from slmconvert.router.engine_generator import evaluation_generator

    params = IterateParams(engine=engine.spec.name, ray_workers=engine.spec.workers, batch_size=8)
    generator = evaluation_generator(params, "cpu")
    clock, started = Clock(), time.perf_counter()
    generator.generate(DEFAULT_CANDIDATES[0], None, PromptFormat(), calls, 24, clock)
    return clock.report(started)


def finetune_rates(steps: int) -> dict:
    """The finetune stage's own trainer on a tiny model: one process, then two data-parallel (gloo)."""
    from rich.console import Console

    from slmconvert.finetune.params import FinetuneParams
    from slmconvert.finetune.records import ClusterRecords
    from slmconvert.finetune.run import ClusterJob, train_cluster
    from slmconvert.models.tiny import create_tiny_model

    records = [{"call_id": f"sha256:{i:05d}", "status": "kept",
                "messages": [{"role": "user", "content": f"Where is my order A-{i}?"}],
                "output": {"role": "assistant", "content": f"lookup_order A-{i}"}} for i in range(256)]
    params = FinetuneParams(max_steps=steps, batch_size=16, precision="fp32", early_stopping_patience=0,
                            learning_rate=1e-3, baseline="off")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = create_tiny_model(Path(tmp) / "tiny", hidden_size=128)
        for world in (1, 2):
            job = ClusterJob(0, str(model), ClusterRecords(0, train=records, validation=[]), output_type="text",
                             prompt_style="canonical")
            started = time.perf_counter()
            metrics = train_cluster(job, params, device="cpu", cache_root=Path(tmp) / f"cache{world}",
                                    out_dir=Path(tmp) / f"out{world}", console=Console(quiet=True), quiet=True,
                                    world_size=world)
            seconds = time.perf_counter() - started
            out[f"{world}_processes"] = {"seconds": round(seconds, 2),
                                         "examples_per_second": round(steps * 16 / seconds, 1),
                                         "train_tokens_per_second": metrics["training"]["tokens_per_second"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curate", type=int, default=640, help="calls to scrub")
    parser.add_argument("--embed", type=int, default=2048, help="distinct texts to embed")
    parser.add_argument("--generate", type=int, default=48, help="calls to answer with the default SLM (0: skip)")
    parser.add_argument("--finetune-steps", type=int, default=12)
    parser.add_argument("--skip-finetune", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import ray

    # 3 logical CPUs on the 2-core machine: 2 actors plus one CPU for Ray Data's Parquet reads.
    ray.init(num_cpus=3, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    results: dict = {"cpu_count": os.cpu_count(), "caveat": "shared machine; 2 physical cores"}
    with tempfile.TemporaryDirectory() as tmp:
        calls = Path(tmp) / "calls.parquet"
        # distinct conversations: few repeated texts, so the analyzer's cache does not flatter the rate
        write_table(calls, [c for seed in range(args.curate // 30 + 1) for c in curate_calls(10, seed=seed)][:args.curate])
        results["curate"] = {"local": curate_rate(calls, args.curate, "local", None)}
        for workers in (1, 2):
            results["curate"][f"ray_{workers}"] = curate_rate(calls, args.curate, "ray", workers)
    texts = sorted({m["content"] for r in cluster_calls(8000, seed=7, vocabulary=60) for m in r["messages"]
                    if m.get("content")})[:args.embed]
    results["embed"] = {"local": embed_rate(texts, Engine())}
    for workers in (1, 2):
        results["embed"][f"ray_{workers}"] = embed_rate(texts, Engine(EngineSpec("ray", workers=workers)))
    steps = ["curate", "embed"]
    if args.generate:
        calls = cluster_calls(args.generate, seed=11)
        results["generate"] = {"local": generate_rate(calls, Engine())}
        for workers in (1, 2):
            results["generate"][f"ray_{workers}"] = generate_rate(calls, Engine(EngineSpec("ray", workers=workers)))
        steps.append("generate")
    ray.shutdown()
    for step in steps:
        one, two = results[step]["ray_1"]["items_per_second"], results[step]["ray_2"]["items_per_second"]
        results[step]["scaling_2_vs_1"] = round(two / one, 2) if one else None
    if not args.skip_finetune:
        results["finetune_data_parallel"] = finetune_rates(args.finetune_steps)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()

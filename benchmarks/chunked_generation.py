"""iterate's chunked generation on Ray: a kept actor pool against a new pool per chunk (the naive peer).

iterate answers a cluster's test sample a chunk at a time, so that a decided cluster stops early.
This answers the same calls with the default SLM (zero-shot) in `--chunks` sequential chunks,
first through `EngineGenerator` (one kept pool: each actor loads the model once), then through a
fresh Ray Data actor pool per chunk (what iterate did before: a model load per actor per chunk),
and reports both wall times and their ratio. Same answers either way (checked).

    python benchmarks/chunked_generation.py --calls 48 --chunks 6 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from slmconvert.cluster.synthetic import synthetic_calls  # noqa: E402
from slmconvert.engine.base import Engine, EngineSpec, chunks  # noqa: E402
from slmconvert.models.prompt import PromptFormat  # noqa: E402
from slmconvert.models.registry import DEFAULT_CANDIDATES  # noqa: E402
from slmconvert.router.engine_generator import EngineGenerator, GenerateBatch  # noqa: E402

MAX_NEW_TOKENS = 24


def kept_pool(engine: Engine, settings: dict, calls: list[dict], per_chunk: int, batch: int) -> tuple[float, list]:
    generator = EngineGenerator(engine, settings, batch)
    started, texts = time.perf_counter(), []
    for chunk in chunks(calls, per_chunk):
        texts += [g.text for g in generator.generate(DEFAULT_CANDIDATES[0], None, PromptFormat(), chunk, MAX_NEW_TOKENS)]
    generator.close()
    return time.perf_counter() - started, texts


def pool_per_chunk(engine: Engine, settings: dict, calls: list[dict], per_chunk: int, batch: int) -> tuple[float, list]:
    args = (settings, DEFAULT_CANDIDATES[0], None, PromptFormat().to_dict(), MAX_NEW_TOKENS)
    started, texts = time.perf_counter(), []
    for chunk in chunks(calls, per_chunk):
        for answers in engine.map_items(GenerateBatch, chunk, batch, args):
            texts += [g.text for g in answers]
    return time.perf_counter() - started, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=48)
    parser.add_argument("--chunks", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4, help="calls per worker batch")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import ray

    ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    engine = Engine(EngineSpec("ray", workers=args.workers))
    settings = {"device": "cpu", "batch_size": args.batch, "constrain_tool_calls": False, "merge_adapters": True}
    calls = synthetic_calls(args.calls, seed=11)
    per_chunk = -(-len(calls) // args.chunks)
    naive_seconds, naive = pool_per_chunk(engine, settings, calls, per_chunk, args.batch)
    kept_seconds, kept = kept_pool(engine, settings, calls, per_chunk, args.batch)
    ray.shutdown()
    if kept != naive:
        raise SystemExit("the kept pool answered differently from a pool per chunk")
    results = {"cpu_count": os.cpu_count(), "calls": len(calls), "chunks": args.chunks, "workers": args.workers,
               "pool_per_chunk_seconds": round(naive_seconds, 2), "kept_pool_seconds": round(kept_seconds, 2),
               "speedup": round(naive_seconds / kept_seconds, 2)}
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()

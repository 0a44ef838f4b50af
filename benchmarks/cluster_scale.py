"""Cluster-step scale benchmark: 10k and 100k synthetic calls with many shared signatures.

Seconds per part (signature, embed, reduce, cluster, label, split) of slmconvert's cluster step,
cold (empty embedding cache) and warm (a rerun: the weekly case), against the naive peer -- embed
every call's raw request with all-MiniLM-L6-v2 and run HDBSCAN on the raw 384-d vectors --
measured in the same run on a subsample (the naive way is too slow for the full set), with
slmconvert on that same subsample for a like-for-like comparison. Quality is the adjusted Rand
index against the generator's tasks (agent-step granularity).

    python benchmarks/cluster_scale.py                 # 10k and 100k
    python benchmarks/cluster_scale.py --sizes 10000 --naive-sample 500 --json out.json
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

import numpy as np  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from slmconvert.cluster.hdb import default_min_cluster_size  # noqa: E402
from slmconvert.cluster.params import ClusterParams  # noqa: E402
from slmconvert.cluster.pipeline import discover_tasks  # noqa: E402
from slmconvert.cluster.signature import content_text, tool_names  # noqa: E402
from slmconvert.cluster.synthetic import agent_task, synthetic_calls  # noqa: E402
from slmconvert.models.embedder import SentenceEmbedder  # noqa: E402


def raw_request(record: dict) -> str:
    """What a naive pipeline embeds: the whole request as text, unmasked."""
    tools = ", ".join(tool_names(record.get("tools")))
    turns = " \n".join(f"{m.get('role')}: {content_text(m.get('content'))}" for m in record["messages"])
    return f"tools: {tools}\n{turns}" if tools else turns


def naive_peer(records: list[dict]) -> dict:
    """Embed every call (model default 256 tokens), HDBSCAN on raw 384-d vectors."""
    import hdbscan

    embedder = SentenceEmbedder(max_seq_length=256)
    embedder.encode(["warm-up"])
    started = time.perf_counter()
    vectors = embedder.encode([raw_request(r) for r in records])
    embed_s = time.perf_counter() - started
    started = time.perf_counter()
    labels = hdbscan.HDBSCAN(min_cluster_size=default_min_cluster_size(len(records))).fit(vectors).labels_
    cluster_s = time.perf_counter() - started
    truth = [agent_task(r) for r in records]
    return {"calls": len(records), "embed_s": round(embed_s, 2), "cluster_s": round(cluster_s, 2),
            "total_s": round(embed_s + cluster_s, 2), "ari": round(adjusted_rand_score(truth, labels), 4),
            "noise_share": round(float(np.mean(labels < 0)), 4)}


def ours(records: list[dict], cache: Path, embedder: SentenceEmbedder) -> dict:
    """slmconvert's cluster step (no map), timed part by part."""
    started = time.perf_counter()
    run = discover_tasks(records, ClusterParams(), embedder=embedder, cache_root=cache)
    total = time.perf_counter() - started
    truth = [agent_task(r) for r in records]
    return {"calls": len(records), "distinct_signatures": len(run.sigs), "distinct_contexts": len(run.sigs.contexts),
            "distinct_requests": len(run.sigs.requests), "cache_hits": run.cache_hits,
            "parts_s": run.timings, "total_s": round(total, 2), "clusters": len(run.clusters),
            "noise_share": run.totals["noise_share"], "ari": round(adjusted_rand_score(truth, run.call_labels), 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--naive-sample", type=int, default=1000, help="calls the naive peer embeds")
    parser.add_argument("--noise", type=float, default=0.01, help="share of one-off calls")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    import torch

    results = {"threads": torch.get_num_threads(), "cpus": os.cpu_count(), "runs": []}
    embedder = SentenceEmbedder()
    embedder.encode(["warm-up"])
    for n in args.sizes:
        records = synthetic_calls(n, seed=0, noise=args.noise)
        with tempfile.TemporaryDirectory() as tmp:
            cold = ours(records, Path(tmp) / "cache", embedder)
            warm = ours(records, Path(tmp) / "cache", embedder)
        sample = [records[i] for i in np.random.default_rng(0).choice(n, size=min(args.naive_sample, n), replace=False)]
        with tempfile.TemporaryDirectory() as tmp:
            ours_sample = ours(sample, Path(tmp) / "cache", embedder)
        naive = naive_peer(sample)
        per_call = naive["embed_s"] / naive["calls"]
        row = {"calls": n, "ours_cold": cold, "ours_warm": warm, "subsample": {"ours": ours_sample, "naive": naive},
               "naive_embed_s_extrapolated": round(per_call * n, 1)}
        results["runs"].append(row)
        print(f"\n== {n:,} calls ({cold['distinct_signatures']:,} distinct signatures: "
              f"{cold['distinct_contexts']:,} contexts, {cold['distinct_requests']:,} requests)")
        print("  ours, cold cache: " + ", ".join(f"{k} {v:.1f}s" for k, v in cold["parts_s"].items())
              + f" = {cold['total_s']:.1f}s; {cold['clusters']} clusters, noise {cold['noise_share']:.1%}, "
              f"ARI {cold['ari']:.3f}")
        print("  ours, warm cache: " + ", ".join(f"{k} {v:.1f}s" for k, v in warm["parts_s"].items())
              + f" = {warm['total_s']:.1f}s")
        print(f"  subsample of {naive['calls']:,}: ours {ours_sample['total_s']:.1f}s (ARI {ours_sample['ari']:.3f}) "
              f"vs naive {naive['total_s']:.1f}s (embed {naive['embed_s']:.1f}s + HDBSCAN 384-d "
              f"{naive['cluster_s']:.1f}s; ARI {naive['ari']:.3f}, noise {naive['noise_share']:.1%})")
        print(f"  naive embedding of all {n:,} calls would take ~{row['naive_embed_s_extrapolated']:,.0f}s "
              f"(linear extrapolation; HDBSCAN on 384-d grows faster than linearly)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

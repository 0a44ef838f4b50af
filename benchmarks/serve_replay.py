"""Acceptance check for `slmconvert serve`: replay an iterate version's held-out calls through the
gateway and compare, call by call, with iterate's offline replay (predictions.parquet): the same
assigned cluster, the same route, the same escalation (reason), hence the same escalation rate.

The calls go over HTTP as the OpenAI requests the agent sent (curated, so already scrubbed); the
SLM answers come from the same generation cache iterate filled (keyed by the original call id),
so a difference can only come from the serve path itself. Without a cache entry the model runs.

    python benchmarks/serve_replay.py --workdir work            # after `slmconvert run-all sample_logs --workdir work`
    python benchmarks/serve_replay.py --workdir work --limit 200 --device cpu --json parity.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import httpx  # noqa: E402
import orjson  # noqa: E402

from benchmarks.serve_overhead import request_body  # noqa: E402
from slmconvert.artifacts.curated import conversation, load_curated  # noqa: E402
from slmconvert.router.config import RouterConfig  # noqa: E402
from slmconvert.router.generator import CachedGenerator, Generator, PeftGenerator  # noqa: E402
from slmconvert.serve import ServeSettings, build_gateway, server  # noqa: E402
from slmconvert.serve.routers import RouterLoader, load_router  # noqa: E402
from slmconvert.util.tables import iter_table  # noqa: E402
from slmconvert.workspace import Workspace  # noqa: E402
from tests.serve.harness import FakeLLM, ThreadServer, free_port  # noqa: E402


def prompt_key(record: dict[str, Any]) -> str:
    """Identity of a call's prompt, the same for a curated row and the record serve builds from its request."""
    payload = [conversation(record), record.get("tools") or [], record.get("response_format")]
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


class OriginalIds:
    """Gives each served record its curated call id back, so a CachedGenerator finds iterate's answers."""

    def __init__(self, inner: Generator, ids: dict[str, str]) -> None:
        self.inner = inner
        self.ids = ids

    def generate(self, model, adapter, fmt, records, max_new_tokens, progress=None):
        renamed = [{**r, "call_id": self.ids.get(prompt_key(r), r["call_id"])} for r in records]
        return self.inner.generate(model, adapter, fmt, renamed, max_new_tokens, progress)


def replay_through_serve(workdir: Path, generator: Generator | None = None, loader: RouterLoader = load_router,
                         limit: int | None = None, device: str = "auto") -> dict[str, Any]:
    """Send iterate's held-out calls through an in-process gateway; count disagreements with its predictions."""
    workspace = Workspace(workdir)
    iterate = workspace.artifact("iterate")
    predictions = list(iter_table(iterate.file("predictions.parquet")))[:limit]
    config = RouterConfig.load(iterate.path / "router")
    curate = workspace.artifact("curate", config.lineage.get("curate"))
    records = {r["call_id"]: r for r in load_curated(curate, {p["call_id"] for p in predictions})}
    inner = generator or PeftGenerator(device)
    cached = CachedGenerator(inner, workspace.cache_dir("iterate-generations"))
    wrapped = OriginalIds(cached, {prompt_key(r): cid for cid, r in records.items()})
    llm, llm_port, port = FakeLLM(), free_port(), free_port()
    upstream = llm.server(llm_port).start()
    settings = ServeSettings(workdir=workdir, llm_base_url=f"http://127.0.0.1:{llm_port}/v1", port=port,
                             router_dir=iterate.path / "router", log_traffic=False, slm_timeout_s=3600)
    gate = ThreadServer(server(build_gateway(settings, loader=loader, generator=wrapped))).start()
    rows = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=3600) as client:
            for prediction in predictions:
                record = records.get(prediction["call_id"])
                if record is None:
                    continue
                headers = client.post("/v1/chat/completions", json=request_body(record)).headers
                escalation = headers["x-slmconvert-escalation"]
                decided = "slm" if headers["x-slmconvert-route"] == "slm" or escalation != "none" else "llm"
                rows.append({"call_id": prediction["call_id"],
                             "offline": (int(prediction["assigned_cluster"]), prediction["route"],
                                         prediction.get("escalation") or "none"),
                             "serve": (int(headers["x-slmconvert-cluster"]), decided, escalation)})
    finally:
        gate.stop()
        upstream.stop()
    return summarize(rows, cached)


def summarize(rows: list[dict[str, Any]], cached: CachedGenerator) -> dict[str, Any]:
    def rate(side: str) -> float | None:
        slm = [r[side] for r in rows if r[side][1] == "slm"]
        return sum(s[2] != "none" for s in slm) / len(slm) if slm else None

    differ = Counter()
    for row in rows:
        for name, a, b in zip(("cluster", "route", "escalation"), row["offline"], row["serve"], strict=True):
            differ[name] += a != b
    return {
        "calls": len(rows), "cluster_differs": differ["cluster"], "route_differs": differ["route"],
        "escalation_differs": differ["escalation"],
        "offline_routes": dict(Counter(r["offline"][1] for r in rows)),
        "serve_routes": dict(Counter(r["serve"][1] for r in rows)),
        "offline_escalation_rate": rate("offline"), "serve_escalation_rate": rate("serve"),
        "offline_escalations": dict(Counter(r["offline"][2] for r in rows if r["offline"][2] != "none")),
        "serve_escalations": dict(Counter(r["serve"][2] for r in rows if r["serve"][2] != "none")),
        "generations_reused": cached.hits, "generations_made": cached.generated,
        "differing_calls": [r["call_id"] for r in rows if r["offline"] != r["serve"]][:20],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--limit", type=int, help="first N held-out calls only")
    parser.add_argument("--device", default="auto", help="device for answers not in the generation cache")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    result = replay_through_serve(args.workdir, limit=args.limit, device=args.device)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    same = result["route_differs"] == result["escalation_differs"] == result["cluster_differs"] == 0
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()

"""Continuous batching against whole batches (the peer): a trained specialist answering its cluster's
validation and test calls as iterate asks for them.

Both decode the same merged model, prompts, tool-call grammars, token budget and batch size, in the same
run, in iterate's runs of three batches' worth of calls: first in whole batches (each runs until its longest
answer ends; calls alike in prompt and logged-answer length together), then in slots refilled as rows end
(`evaluation.continuous`). Reports the wall seconds of each, their ratio (target >= 1.3x) and how many
answers are token-identical (bf16 rounds differently in the two layouts; in fp32 all are, see
tests/evaluation/test_continuous.py).

    python benchmarks/continuous_generation.py --workdir WORK --cluster 0 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from slmconvert.artifacts.adapters import load_specialists  # noqa: E402
from slmconvert.artifacts.clusters import load_splits  # noqa: E402
from slmconvert.artifacts.curated import load_curated  # noqa: E402
from slmconvert.evaluation.generation import generate  # noqa: E402
from slmconvert.finetune.probe import machine_name  # noqa: E402
from slmconvert.iterate.evaluate import chunks, token_budget  # noqa: E402
from slmconvert.iterate.plan import CHUNK_BATCHES  # noqa: E402
from slmconvert.models.constrain import record_grammar  # noqa: E402
from slmconvert.models.loading import load_model  # noqa: E402
from slmconvert.models.prompt import PromptFormat, render_record_prompt  # noqa: E402
from slmconvert.router.generator import logged_answer_size  # noqa: E402
from slmconvert.workspace import Workspace  # noqa: E402


def held_out(workdir: Path, cluster: int) -> tuple[list[dict], object]:
    """The cluster's kept validation and test calls and its specialist, from the workspace's latest versions."""
    ws = Workspace(workdir)
    specialist = load_specialists(ws.artifact("finetune"))[cluster]
    wanted = {c for c, (cid, split) in load_splits(ws.artifact("cluster")).items()
              if cid == cluster and split in ("validation", "test")}
    records = sorted((r for r in load_curated(ws.artifact("curate"), wanted) if r.get("status", "kept") == "kept"),
                     key=lambda r: str(r["call_id"]))
    return records, specialist


def answer(net, tokenizer, fmt, records, budget: int, batch: int, continuous: bool) -> tuple[float, list]:
    """Wall seconds and token ids of every call, in runs of CHUNK_BATCHES batches' worth, as iterate's test sample."""
    started, tokens = time.perf_counter(), []
    for run in chunks(records, fmt, CHUNK_BATCHES * batch):
        out = generate(net, tokenizer, [render_record_prompt(r, tokenizer, fmt) for r in run], max_new_tokens=budget,
                       batch_size=batch, grammars=[record_grammar(r) for r in run], continuous=continuous,
                       answer_sizes=[logged_answer_size(r) for r in run], logprobs=True)
        tokens += [r.token_ids for r in out.results]
    return time.perf_counter() - started, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="a workspace run-all has trained")
    parser.add_argument("--cluster", type=int, default=0)
    parser.add_argument("--batch", type=int, default=16, help="rows decoded together (iterate.batch_size)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from peft import PeftModel

    records, specialist = held_out(args.workdir, args.cluster)
    loaded = load_model(specialist.model)
    net = PeftModel.from_pretrained(loaded.model, specialist.adapter).merge_and_unload().eval()
    fmt = PromptFormat.from_dict(specialist.prompt_format)
    budget = token_budget(records, 256)
    answer(net, loaded.tokenizer, fmt, records[:2], 4, args.batch, True)  # warm-up, untimed
    whole, whole_ids = answer(net, loaded.tokenizer, fmt, records, budget, args.batch, False)
    slots, slot_ids = answer(net, loaded.tokenizer, fmt, records, budget, args.batch, True)
    result = {
        "machine": machine_name("cpu"), "model": specialist.model, "cluster": args.cluster, "calls": len(records),
        "max_new_tokens": budget, "batch": args.batch, "whole_batches_seconds": round(whole, 2),
        "continuous_seconds": round(slots, 2), "speedup": round(whole / max(1e-9, slots), 2),
        "identical_answers": sum(a == b for a, b in zip(whole_ids, slot_ids, strict=True)),
        "new_tokens": sum(len(t) for t in slot_ids),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

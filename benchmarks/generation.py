"""Benchmark: the evaluation harness's batched generation vs a one-example-at-a-time `generate` loop.

Same model, same prompts, same greedy settings and stop tokens, same run; both get one untimed
warm-up call. The harness batches (left padding, length-sorted) and computes each batch's shared
prompt prefix once; the peer is the plain loop most code writes. Reports calls/s and generated
tokens/s of each, the speed-up (target >= 4x), and how many outputs are token-identical between
the two (padding and prefix reuse must not change results).

    python benchmarks/generation.py                          # SmolLM2-135M, 32 synthetic support calls
    python benchmarks/generation.py --calls work/curate/LATEST/curated.parquet --n 64
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slmconvert.evaluation.generation import generate  # noqa: E402
from slmconvert.models import (  # noqa: E402
    PromptFormat,
    load_model,
    render_prompt,
    render_record_prompt,
    stop_token_ids,
)

TOOLS = [
    {"type": "function", "function": {"name": "lookup_order", "description": "Look up an order by number.",
     "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}},
    {"type": "function", "function": {"name": "track_shipment", "description": "Track a parcel by tracking number.",
     "parameters": {"type": "object", "properties": {"tracking_number": {"type": "string"}}, "required": ["tracking_number"]}}},
    {"type": "function", "function": {"name": "issue_refund", "description": "Refund an order.",
     "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}},
                    "required": ["order_id", "amount"]}}},
]
ASKS = [
    "Where is my order {o}? It was due yesterday.",
    "Can you track parcel {t} for me please",
    "I want a refund of {a} EUR for order {o}, the mug arrived broken.",
    "hi, order {o} still says processing, what's going on?",
    "Tracking {t} hasn't moved in 4 days. Any news?",
    "Please refund order {o} in full ({a} EUR), I cancelled it within the window.",
    "What is the status of {o}",
    "Could you summarise what happened with my parcel {t} and order {o}?",
]


def synthetic_prompts(n: int, tokenizer, fmt: PromptFormat, seed: int) -> list[str]:
    """Seeded support-agent calls (varied lengths), rendered like the harness renders them."""
    rng = random.Random(seed)
    prompts = []
    for _ in range(n):
        ask = rng.choice(ASKS).format(
            o=f"A-{rng.randint(1000, 99999)}", t=f"1Z{rng.randint(10**8, 10**9)}", a=rng.randint(5, 400)
        )
        history = " ".join(rng.choice(["Thanks.", "I already wrote twice.", "This is urgent."]) for _ in range(rng.randint(0, 6)))
        messages = [
            {"role": "system", "content": "You are Acme's support agent. Use a tool when it answers the request."},
            {"role": "user", "content": f"{history} {ask}".strip()},
        ]
        prompts.append(render_prompt(messages, TOOLS, tokenizer, fmt))
    return prompts


def table_prompts(path: Path, n: int, tokenizer, fmt: PromptFormat, seed: int) -> list[str]:
    from slmconvert.util.tables import read_table

    rows = [r for r in read_table(path) if r.get("status", "kept") == "kept"]
    rows = random.Random(seed).sample(rows, min(n, len(rows)))
    return [render_record_prompt(r, tokenizer, fmt) for r in rows]


def one_at_a_time(model, tokenizer, prompts: list[str], max_new_tokens: int) -> tuple[list[list[int]], float, int]:
    """The peer: a plain loop calling `model.generate` once per prompt."""
    import torch

    stops = stop_token_ids(tokenizer)
    outputs, tokens = [], 0

    def once(prompt: str, limit: int) -> list[int]:
        ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**ids, max_new_tokens=limit, do_sample=False, eos_token_id=stops,
                                 pad_token_id=tokenizer.pad_token_id)
        return out[0, ids["input_ids"].shape[1]:].tolist()

    once(prompts[0], 2)  # warm-up, untimed
    started = time.perf_counter()
    for prompt in prompts:
        ids = once(prompt, max_new_tokens)
        end = next((k for k, t in enumerate(ids) if t in stops), None)
        kept = ids[: end + 1] if end is not None else ids
        outputs.append(kept)
        tokens += len(kept)
    return outputs, time.perf_counter() - started, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--n", type=int, default=32, help="prompts")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--calls", type=Path, help="curated.parquet / calls.parquet to take prompts from")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto", help="auto | float32 | bfloat16 (auto: as load_model picks)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the numbers as JSON here")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    loaded = load_model(args.model, device=args.device, dtype=args.dtype)
    tokenizer, model = loaded.tokenizer, loaded.model
    fmt = PromptFormat.for_tokenizer(tokenizer)
    prompts = (table_prompts(args.calls, args.n, tokenizer, fmt, args.seed) if args.calls
               else synthetic_prompts(args.n, tokenizer, fmt, args.seed))
    prompt_tokens = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]

    single_ids, single_seconds, single_tokens = one_at_a_time(model, tokenizer, prompts, args.max_new_tokens)
    run = generate(model, tokenizer, prompts, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    batched_ids = [r.token_ids for r in run.results]

    report = {
        "model": args.model,
        "device": loaded.device,
        "dtype": loaded.dtype,
        "torch_threads": torch.get_num_threads(),
        "prompts": len(prompts),
        "prompt_tokens_mean": round(sum(prompt_tokens) / len(prompt_tokens), 1),
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "one_at_a_time": {
            "seconds": round(single_seconds, 3),
            "calls_per_second": round(len(prompts) / single_seconds, 3),
            "tokens_per_second": round(single_tokens / single_seconds, 1),
            "new_tokens": single_tokens,
        },
        "batched": {
            "seconds": round(run.wall_seconds, 3),
            "calls_per_second": round(run.calls_per_second, 3),
            "tokens_per_second": round(run.tokens_per_second, 1),
            "new_tokens": sum(len(ids) for ids in batched_ids),
        },
        "speedup_calls_per_second": round(single_seconds / run.wall_seconds, 2),
        "identical_outputs": sum(a == b for a, b in zip(single_ids, batched_ids)),
        "target_speedup": 4.0,
    }
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

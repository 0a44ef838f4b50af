"""Seeded generator of the ShopRight sample logs: a support-and-operations agent's LLM calls over three weeks.

    python sample_logs/generate.py --seed 7 --out sample_logs/      # regenerates the committed files byte for byte
    from sample_logs.generate import generate   # benchmarks: generate(tmp, scale=10, compress=False)

Output is streamed hour by hour, so memory stays flat whatever the scale. See sample_logs/README.md.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter, defaultdict
from datetime import date, datetime, timezone
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `sample_logs.gen` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sample_logs.gen.malformed import lines as malformed_lines  # noqa: E402
from sample_logs.gen.plan import FORMATS, TASKS, TaskSpec  # noqa: E402
from sample_logs.gen.render import Line, render  # noqa: E402
from sample_logs.gen.schedule import build_sessions, faults, hourly_quota  # noqa: E402
from sample_logs.gen.sink import Sink  # noqa: E402

DEFAULT_SEED, DEFAULT_CALLS, DEFAULT_START, DEFAULT_DAYS = 7, 3600, date(2026, 11, 2), 21
P_DUPLICATE = 0.008
DUPLICATED_FILES = ("flywheel_support", "flywheel_ops", "anthropic_messages")


def _format_weights(spec: TaskSpec, allowed: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    kept = tuple((f, w) for f, w in spec.formats if f in allowed)
    return kept or ((allowed[0], 1.0),)


def _emit(lines: list[Line], sink: Sink, rng: random.Random, stats: dict) -> None:
    """Write one hour of lines (time-ordered per file), Batch outputs shuffled, then their truth rows."""
    lines.sort(key=lambda ln: (ln.file, ln.ts))
    rows, pairs = [], []
    for ln in lines:
        number = sink.write(ln.file, ln.text)
        row = {"file": sink.filename(ln.file), "line": number, **ln.truth}
        rows.append(row)
        if ln.pair is not None:
            pairs.append((row, ln.pair))
        elif ln.file in DUPLICATED_FILES and rng.random() < P_DUPLICATE:
            dup = sink.write(ln.file, ln.text)
            rows.append({**row, "line": dup, "kind": "duplicate", "duplicate_of": number})
    rng.shuffle(pairs)  # the Batch API does not keep input order in its output file
    for row, out in pairs:
        row["output_file"], row["output_line"] = (
            sink.filename(out.file),
            sink.write(out.file, out.text),
        )
    for row in rows:
        sink.write_truth(row)
        stats["kinds"][row["kind"]] += 1
        if row["kind"] == "ok":
            stats["calls"][row["task"]] += 1
            stats["by_format"][f"{row['task']}/{row['format']}"] += 1


def generate(
    out_dir: str | Path,
    seed: int = DEFAULT_SEED,
    n_calls: int = DEFAULT_CALLS,
    scale: float = 1.0,
    *,
    compress: bool = True,
    formats: tuple[str, ...] | None = None,
    start: date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    with_faults: bool = True,
    with_malformed: bool = True,
    truth_values: bool = False,
) -> dict:
    """Write the sample logs for round(n_calls * scale) successful calls (plus faults and duplicates) to out_dir.

    formats restricts the log formats used (any of FORMATS); truth_values adds the raw PII/secret values of each
    call to _truth.jsonl (for leak tests on throw-away copies; the committed truth has counts only).
    Returns a summary: files with line counts and bytes, calls per task and task/format, kinds, token averages.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    allowed = tuple(f for f in FORMATS if formats is None or f in formats)
    if not allowed:
        raise ValueError(f"formats must include at least one of {FORMATS}")
    total = round(n_calls * scale)
    begin = datetime(start.year, start.month, start.day, tzinfo=timezone.utc)
    hours = days * 24
    quotas = {s.name: hourly_quota(s, round(total * s.share), begin, hours) for s in TASKS}
    busiest = quotas[TASKS[0].name]
    busiest[busiest.index(max(busiest))] += total - sum(sum(q) for q in quotas.values())
    weights = {s.name: _format_weights(s, allowed) for s in TASKS}
    stats: dict = {
        "calls": Counter(),
        "by_format": Counter(),
        "kinds": Counter(),
        "prompt_tokens": defaultdict(list),
    }
    sink = Sink(out, compress)
    batch_seq = 0
    for hour in range(hours):
        rng = random.Random(f"{seed}:render:{hour}")
        lines: list[Line] = []
        for spec in TASKS:
            if not quotas[spec.name][hour]:
                continue
            calls = build_sessions(
                spec, seed, hour, quotas[spec.name][hour], begin, weights[spec.name]
            )
            for call in calls:
                variants = faults(call, rng, spec) if with_faults else []
                emitted = variants[:1] if call.fmt == "batch" and variants else variants + [call]
                for c in emitted:
                    batch_seq += c.fmt == "batch"
                    lines.append(render(c, rng, spec.service, batch_seq, truth_values))
                if emitted[-1] is call:
                    stats["prompt_tokens"][spec.name].append(call.prompt_tokens)
        _emit(lines, sink, rng, stats)
    counts = sink.close()
    if with_malformed:
        counts["malformed.jsonl"] = write_malformed(out / "malformed.jsonl")
    files = {
        name: {"lines": n, "bytes": (out / name).stat().st_size}
        for name, n in sorted(counts.items())
    }
    files["_truth.jsonl"] = {"lines": None, "bytes": (out / "_truth.jsonl").stat().st_size}
    return {
        "seed": seed,
        "calls_total": sum(stats["calls"].values()),
        "calls": dict(sorted(stats["calls"].items())),
        "by_format": dict(sorted(stats["by_format"].items())),
        "kinds": dict(sorted(stats["kinds"].items())),
        "avg_prompt_tokens": {
            k: round(sum(v) / len(v)) for k, v in sorted(stats["prompt_tokens"].items())
        },
        "files": files,
    }


def write_malformed(path: Path) -> int:
    """malformed.jsonl plus one truth row per line (kind "malformed", the reason, what a reader should do)."""
    rows = malformed_lines()
    with open(path, "wb") as fh:
        for raw in (raw for _, _, raw in rows):
            fh.write(raw + b"\n")
    with open(path.parent / "_truth.jsonl", "a", encoding="utf-8", newline="\n") as truth:
        for number, (reason, expect, _) in enumerate(rows, start=1):
            truth.write(
                json.dumps(
                    {
                        "file": path.name,
                        "line": number,
                        "format": None,
                        "task": None,
                        "kind": "malformed",
                        "reason": reason,
                        "expect": expect,
                    },
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
                + "\n"
            )
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Generate the ShopRight sample LLM-call logs (deterministic per seed)."
    )
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument(
        "--n-calls", type=int, default=DEFAULT_CALLS, help="successful calls at scale 1"
    )
    ap.add_argument(
        "--scale", type=float, default=1.0, help="multiply the number of calls (same 3-week window)"
    )
    ap.add_argument("--no-compress", action="store_true", help="write .jsonl instead of .jsonl.gz")
    ap.add_argument("--formats", nargs="+", choices=FORMATS, help="only these log formats")
    ap.add_argument(
        "--no-faults", action="store_true", help="no errors, truncations or invalid tool arguments"
    )
    ap.add_argument("--no-malformed", action="store_true", help="skip malformed.jsonl")
    ap.add_argument(
        "--truth-values", action="store_true", help="put raw PII/secret values into _truth.jsonl"
    )
    args = ap.parse_args(argv)
    summary = generate(
        args.out,
        args.seed,
        args.n_calls,
        args.scale,
        compress=not args.no_compress,
        formats=tuple(args.formats) if args.formats else None,
        with_faults=not args.no_faults,
        with_malformed=not args.no_malformed,
        truth_values=args.truth_values,
    )
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

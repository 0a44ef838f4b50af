"""Benchmark: collect's records/s and peak memory vs. the raw orjson / json parse rate of the same file.

    python benchmarks/collect_throughput.py --size-mb 500        # the issue's setting
    python benchmarks/collect_throughput.py --size-mb 50         # quick

Generates a seeded data-flywheel log (OpenAI request/response pairs with long tool schemas),
then measures, each in a fresh subprocess so peak RSS is its own: (1) read lines + orjson.loads,
(2) read lines + json.loads, (3) the full collect library path (parse, detect, normalise, hash,
dedupe, price, write Parquet) in one process and (4) with --workers parsing processes. Memory
flatness: each collect setting also runs on a quarter-size file. Wall and CPU time are both
reported (CPU time is the fairer peer on a shared machine).
Target: collect >= 50% of the raw orjson records/s, peak RSS about equal at both sizes.
`--tools N` offers N tool schemas per call. The default, 30, is the traffic slmconvert is built for
(agents send 20-40 schemas, identical across the calls of a task; the sample logs' order-support
calls carry 34); collect parses and encodes each distinct list once (slmconvert/collect/toolcache.py).
`--tools 6` measures light requests, where per-call costs (hashing, normalising, writing) dominate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

MB = 1 << 20
SEED = 20261125
TASKS = ("lookup_order", "track_shipment", "issue_refund", "update_address", "cancel_order", "escalate_ticket")
WORDS = ("order", "parcel", "refund", "late", "damaged", "address", "card", "invoice", "please", "urgent",
         "customer", "shipment", "warehouse", "tracking", "status", "cancel", "replace", "account")


def tool_schema(name: str, rng: random.Random) -> dict:
    """A long, realistic function schema (~1 KB)."""
    props = {
        f"{name}_{field}": {"type": kind, "description": " ".join(rng.choices(WORDS, k=12))}
        for field, kind in (("id", "string"), ("reason", "string"), ("amount", "number"), ("notify", "boolean"),
                            ("channel", "string"), ("priority", "integer"))
    }
    return {"type": "function", "function": {"name": name, "description": " ".join(rng.choices(WORDS, k=30)),
                                             "parameters": {"type": "object", "properties": props,
                                                            "required": list(props)[:2]}}}


DEFAULT_TOOLS = 30  # what agents send (20-40 schemas per request)


def flywheel_line(n: int, rng: random.Random, tools: list[dict]) -> bytes:
    """One data-flywheel log line (~5 KB) with a tool call or text answer."""
    task = TASKS[n % len(TASKS)]
    user = f"Hi, {' '.join(rng.choices(WORDS, k=rng.randint(20, 60)))} order #{rng.randint(10000, 99999)}"
    if n % 4:
        args = {f"{task}_id": f"A-{rng.randint(1000, 9999)}", f"{task}_reason": " ".join(rng.choices(WORDS, k=5))}
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": f"call_{n}", "type": "function", "function": {"name": task, "arguments": json.dumps(args)}}]}
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": " ".join(rng.choices(WORDS, k=40))}
        finish = "stop"
    record = {
        "timestamp": 1760000000 + n, "workload_id": task, "client_id": "support-web",
        "request": {"model": "gpt-4o", "temperature": 0.2, "tools": tools, "tool_choice": "auto", "messages": [
            {"role": "system", "content": "You are the support agent of an online shop. " * 8},
            {"role": "user", "content": user}]},
        "response": {"id": f"chatcmpl-{n}", "object": "chat.completion", "created": 1760000000 + n,
                     "model": "gpt-4o-2024-08-06", "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                     "usage": {"prompt_tokens": rng.randint(900, 1500), "completion_tokens": rng.randint(10, 80)}},
    }
    return orjson.dumps(record) + b"\n"


def generate(path: Path, size_mb: float, n_tools: int = len(TASKS)) -> int:
    """Write about size_mb of log lines; returns the line count."""
    rng = random.Random(SEED)
    names = TASKS + tuple(f"tool_{i}" for i in range(n_tools - len(TASKS)))
    tools = [tool_schema(name, rng) for name in names[:max(n_tools, 1)]]
    target, written, n = int(size_mb * MB), 0, 0
    with open(path, "wb") as handle:
        while written < target:
            line = flywheel_line(n, rng, tools)
            handle.write(line)
            written += len(line)
            n += 1
    return n


# -- measurements (each runs in its own subprocess) --------------------------------------------
def cpu_seconds(children: bool = True) -> float:
    """CPU time of this process and its (finished) children: fairer than wall time on a busy box."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + (kids.ru_utime + kids.ru_stime if children else 0.0)


def measure_parse(path: str, parser: str) -> dict:
    loads = orjson.loads if parser == "orjson" else json.loads
    started, cpu, n = time.perf_counter(), cpu_seconds(), 0
    with open(path, "rb") as handle:
        for line in handle:
            loads(line)
            n += 1
    return {"records": n, "seconds": time.perf_counter() - started, "cpu_seconds": cpu_seconds() - cpu}


def measure_collect(path: str, out_dir: str, workers: int) -> dict:
    import pandas  # noqa: F401 - pyarrow imports it lazily on the first Parquet write: a one-off cost

    from slmconvert.collect.parallel import auto_workers
    from slmconvert.collect.pipeline import CollectOptions, collect
    from slmconvert.collect.pricing import PriceTable

    started, cpu, main_cpu = time.perf_counter(), cpu_seconds(), cpu_seconds(children=False)
    summary = collect([path], Path(out_dir), CollectOptions(PriceTable.load(), workers=workers))
    return {"records": summary["calls"] + summary["duplicates"] + summary["rejects"], "calls": summary["calls"],
            "rejects": summary["rejects"], "seconds": time.perf_counter() - started,
            "cpu_seconds": cpu_seconds() - cpu, "main_cpu_seconds": cpu_seconds(children=False) - main_cpu,
            "workers": auto_workers(workers, Path(path).stat().st_size)}


class TreeMemory:
    """Peak resident memory of this process plus its worker processes (polled)."""

    def __init__(self) -> None:
        import threading

        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        try:
            import psutil
        except ImportError:
            return
        me = psutil.Process()
        while not self._stop.wait(0.05):
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / MB


def child(kind: str, path: str, out_dir: str) -> None:
    tree = TreeMemory()
    if kind.startswith("collect"):
        result = measure_collect(path, out_dir, int(kind.split(":")[1]))
    else:
        result = measure_parse(path, kind)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    result["peak_tree_rss_mb"] = max(tree.stop(), result["peak_rss_mb"])
    print(json.dumps(result))


def run_child(kind: str, path: Path, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, __file__, "--child", kind, str(path), str(out_dir)],
                          check=True, capture_output=True, text=True, env=env)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["records_per_s"] = result["records"] / result["seconds"]
    result["records_per_cpu_s"] = result["records"] / result["cpu_seconds"]
    result["mb_per_s"] = path.stat().st_size / MB / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=500.0, help="size of the generated log file (MB)")
    parser.add_argument("--workdir", type=Path, default=None, help="where to put the generated files (default: temp)")
    parser.add_argument("--tools", type=int, default=DEFAULT_TOOLS, help="tool schemas offered per call")
    parser.add_argument("--workers", type=int, default=2, help="worker processes for the parallel run (0 = auto)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "PATH", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        root = Path(tmp)
        sizes = {"full": args.size_mb, "quarter": args.size_mb / 4}
        files = {name: root / f"flywheel-{name}.jsonl" for name in sizes}
        lines = {name: generate(files[name], mb, args.tools) for name, mb in sizes.items()}
        results = {
            "orjson": run_child("orjson", files["full"], root / "o"),
            "json": run_child("json", files["full"], root / "j"),
            "collect_1proc": run_child("collect:1", files["full"], root / "c1"),
            "collect_1proc_quarter": run_child("collect:1", files["quarter"], root / "c1q"),
            "collect_workers": run_child(f"collect:{args.workers}", files["full"], root / "cw"),
            "collect_workers_quarter": run_child(f"collect:{args.workers}", files["quarter"], root / "cwq"),
        }
    orjson_r, json_r = results["orjson"], results["json"]
    one, par = results["collect_1proc"], results["collect_workers"]
    report = {
        "size_mb": args.size_mb, "tools_per_call": args.tools, "lines": lines["full"], "python": sys.version.split()[0],
        "cpu_cores": os.cpu_count(), "load_average": os.getloadavg(), "results": results,
        "ratio_1proc_vs_orjson_wall": one["records_per_s"] / orjson_r["records_per_s"],
        "ratio_1proc_vs_orjson_cpu": one["records_per_cpu_s"] / orjson_r["records_per_cpu_s"],
        "ratio_1proc_vs_json_wall": one["records_per_s"] / json_r["records_per_s"],
        "ratio_workers_vs_orjson_wall": par["records_per_s"] / orjson_r["records_per_s"],
        # With enough cores the collecting process (reading, dedupe, Parquet) is the bottleneck:
        # its own CPU time bounds the records/s that more workers could reach.
        "ratio_workers_main_bound_vs_orjson_cpu": (par["records"] / par["main_cpu_seconds"]) / orjson_r["records_per_cpu_s"],
        "rss_full_over_quarter_1proc": one["peak_rss_mb"] / results["collect_1proc_quarter"]["peak_rss_mb"],
        "tree_rss_full_over_quarter_workers": par["peak_tree_rss_mb"] / results["collect_workers_quarter"]["peak_tree_rss_mb"],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"file: {args.size_mb:.0f} MB, {lines['full']:,} records with {args.tools} tools each "
          f"(quarter file: {lines['quarter']:,})")
    load = ", ".join(f"{x:.1f}" for x in report["load_average"])
    print(f"{os.cpu_count()} cores, load average {load}")
    print(f"{'path':<24}{'procs':>6}{'records/s':>11}{'rec/cpu-s':>11}{'MB/s':>8}{'wall s':>8}{'cpu s':>7}"
          f"{'RSS MB':>8}{'tree RSS':>9}")
    for name, r in results.items():
        print(f"{name:<24}{r.get('workers', 1):>6}{r['records_per_s']:>11,.0f}{r['records_per_cpu_s']:>11,.0f}"
              f"{r['mb_per_s']:>8.1f}{r['seconds']:>8.2f}{r['cpu_seconds']:>7.2f}{r['peak_rss_mb']:>8.0f}"
              f"{r['peak_tree_rss_mb']:>9.0f}")
    print(f"collect (1 process) / raw orjson parse: {report['ratio_1proc_vs_orjson_wall']:.0%} wall, "
          f"{report['ratio_1proc_vs_orjson_cpu']:.0%} per CPU-second; / json.loads: {report['ratio_1proc_vs_json_wall']:.0%}")
    print(f"collect ({par['workers']} workers) / raw orjson parse: {report['ratio_workers_vs_orjson_wall']:.0%} wall "
          f"(target >= 50%); bound set by the collecting process's own CPU time (reached with enough "
          f"cores): {report['ratio_workers_main_bound_vs_orjson_cpu']:.0%}")
    print(f"peak RSS full / quarter size: 1 process {report['rss_full_over_quarter_1proc']:.2f}, "
          f"process tree with workers {report['tree_rss_full_over_quarter_workers']:.2f} (flat ~ 1.0)")


if __name__ == "__main__":
    main()

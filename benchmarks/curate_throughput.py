"""Curate throughput and recall: slmconvert's analyzer vs stock Presidio, same run, same machine.

records/s over the sample logs x10 (collect's calls.parquet when given, else the seeded synthetic
support-agent calls) for
  ours  : Curator (unique-text cache, lean spaCy NER via nlp.pipe, key hints, full scrubbing), and
  stock : Presidio AnalyzerEngine with its default recognizers, `analyze` one text at a time on
          every message text, tool-call argument JSON and output (detection only, no replacement),
          with the same spaCy pipeline name configured (en_core_web_lg is not installed);
plus span recall/precision of both on the labelled PII set.

    python benchmarks/curate_throughput.py [--calls work/collect/LATEST/calls.parquet] [--copies 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # keep stock Presidio's tldextract offline


def stock_engine(model: str):
    """Presidio's defaults (conf/default.yaml NER mapping, all default recognizers), model name swapped."""
    import presidio_analyzer
    import tldextract
    import yaml
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    conf = yaml.safe_load((Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml").read_text())
    conf["models"] = [{"lang_code": "en", "model_name": model}]
    # Stock EmailRecognizer calls tldextract.extract(); give it an extractor that cannot fetch.
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    return AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=conf).create_engine())


def stock_texts(record: dict) -> list[str]:
    """What a straightforward integration would hand Presidio: each message text, each tool call's
    argument JSON, the output text and its tool calls."""
    texts = []
    for message in (record.get("messages") or []) + [record.get("output") or {}]:
        if isinstance(message.get("content"), str) and message["content"].strip():
            texts.append(message["content"])
        for call in message.get("tool_calls") or []:
            texts.append(json.dumps(call["function"].get("arguments"), ensure_ascii=False))
    return texts


def load_calls(path: str | None) -> tuple[list[dict], str]:
    if path:
        from slmconvert.util.tables import read_table

        return read_table(path), path
    sample = sorted(Path("sample_logs").glob("*.jsonl*"))
    if sample:
        return _collect_sample(sample), f"sample_logs ({len(sample)} files)"
    from slmconvert.curate.synthetic import synthetic_calls

    return synthetic_calls(400, seed=0), "synthetic support calls (400 conversations)"


def _collect_sample(files: list[Path]) -> list[dict]:
    import tempfile

    from slmconvert.collect.pipeline import CollectOptions, collect
    from slmconvert.collect.records import CALLS_FILE
    from slmconvert.util.tables import read_table

    with tempfile.TemporaryDirectory() as tmp:
        collect([str(f) for f in files], Path(tmp), CollectOptions())
        return read_table(Path(tmp) / CALLS_FILE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", help="a calls.parquet to use instead of sample_logs/")
    parser.add_argument("--copies", type=int, default=10, help="how many times the logs are repeated")
    parser.add_argument("--stock-records", type=int, default=300,
                        help="records timed for stock Presidio (it is slow; its rate is per record)")
    parser.add_argument("--labelled", type=int, default=300, help="labelled samples for recall")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()

    from slmconvert.curate.analyzer import PiiAnalyzer
    from slmconvert.curate.labelled import labelled_set, score
    from slmconvert.curate.params import CurateParams
    from slmconvert.curate.pipeline import Curator
    from slmconvert.curate.scrub import Scrubber
    from slmconvert.curate.surrogates import Pseudonymiser

    calls, source = load_calls(args.calls)
    workload = calls * args.copies
    params = CurateParams()
    key = b"benchmark-key-of-thirty-two-byte"

    started = time.perf_counter()
    analyzer = PiiAnalyzer(params)
    ours_load = time.perf_counter() - started
    curator = Curator(params, key, analyzer=analyzer)
    started = time.perf_counter()
    first_pass = None
    for i, _ in enumerate(curator.curate(workload), 1):
        if i == len(calls):
            first_pass = time.perf_counter() - started
    ours_seconds = time.perf_counter() - started

    started = time.perf_counter()
    stock = stock_engine(params.spacy_model)
    stock_load = time.perf_counter() - started
    subset = random.Random(0).sample(calls, min(args.stock_records, len(calls)))  # a fair cross-section
    started = time.perf_counter()
    for record in subset:
        for text in stock_texts(record):
            stock.analyze(text=text, language="en")
    stock_seconds = time.perf_counter() - started

    samples = labelled_set(args.labelled, seed=42)
    scrubber = Scrubber(PiiAnalyzer(params, engine=analyzer.engine), Pseudonymiser(key), params)
    ours_recall = score(samples, [[(s.start, s.end, s.entity) for s in scrubber.text_spans(x.text, x.kind)]
                                  for x in samples])
    stock_recall = score(samples, [[(r.start, r.end, r.entity_type) for r in stock.analyze(text=x.text, language="en")]
                                   for x in samples])

    ours_rate = len(workload) / ours_seconds
    stock_rate = len(subset) / stock_seconds
    result = {
        "source": source, "records": len(calls), "copies": args.copies, "cpu_count": os.cpu_count(),
        "ours": {"records_per_s": round(ours_rate, 1), "first_copy_records_per_s": round(len(calls) / first_pass, 1),
                 "seconds": round(ours_seconds, 2), "load_seconds": round(ours_load, 2),
                 "recall": round(ours_recall["recall"], 4), "precision": round(ours_recall["precision"], 4),
                 "secret_recall": round(ours_recall["secret_recall"], 4), "analyzer": dict(analyzer.stats),
                 "kept": curator.audit.kept, "filtered": dict(curator.audit.filtered)},
        "stock": {"records_per_s": round(stock_rate, 1), "records_timed": len(subset),
                  "seconds": round(stock_seconds, 2), "load_seconds": round(stock_load, 2),
                  "recall": round(stock_recall["recall"], 4), "precision": round(stock_recall["precision"], 4),
                  "secret_recall": round(stock_recall["secret_recall"], 4)},
        "speedup": round(ours_rate / stock_rate, 1),
        "recall_by_type": {"ours": ours_recall["recall_by_type"], "stock": stock_recall["recall_by_type"]},
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        o, s = result["ours"], result["stock"]
        print(f"data: {source}: {len(calls)} calls x{args.copies} = {len(workload)} records")
        print(f"ours : {o['records_per_s']:>9.1f} records/s (first copy {o['first_copy_records_per_s']:.1f}/s), "
              f"recall {o['recall']:.3f}, precision {o['precision']:.3f}, secrets {o['secret_recall']:.3f}")
        print(f"stock: {s['records_per_s']:>9.1f} records/s ({s['records_timed']} records timed), "
              f"recall {s['recall']:.3f}, precision {s['precision']:.3f}, secrets {s['secret_recall']:.3f}")
        print(f"speedup: {result['speedup']}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The collect pipeline: units -> outcomes (in-process or in workers) -> dedupe, price, write.

One pass over the inputs; records are written in batches and rejects streamed to disk. The
only state that grows with the input is the set of 16-byte call digests used to deduplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from slmconvert.collect import formats
from slmconvert.collect.batch_join import BatchJoiner, Half
from slmconvert.collect.formats import openai_batch
from slmconvert.collect.formats.common import RecordRejected
from slmconvert.collect.identity import FIELDS, call_id_of, digest_of, storage_row, tool_names
from slmconvert.collect.parallel import WorkerPool, auto_workers
from slmconvert.collect.pricing import PriceTable
from slmconvert.collect.reader import LogFile, scan_inputs
from slmconvert.collect.records import calls_writer
from slmconvert.collect.rejects import Reject, RejectLog, excerpt
from slmconvert.collect.stats import CollectStats, FileStats
from slmconvert.collect.units import (
    BLANK,
    CALL,
    HALF,
    REJECT,
    call_outcome,
    guarded,
    parse_record,
    process_unit,
)

STATS_FILE = "stats.json"
SPOOL_FILE = ".batch-join.sqlite"
DIGEST_BYTES = 16  # 128 bits of sha256 are plenty to tell calls apart, at half the memory
PROGRESS_EVERY = 256
SKIPPED_LISTED = 1000  # paths passed over that stats.json names one by one (all are counted)


@dataclass
class CollectOptions:
    """Library-level knobs (the stage builds these from CollectParams)."""

    prices: PriceTable = field(default_factory=PriceTable.load)
    dedupe: bool = True
    max_line_bytes: int = 64 << 20
    batch_rows: int = 1000
    workers: int = 1  # 0 = automatic (see parallel.auto_workers)


class Collector:
    """Accumulates one collect version in out_dir: calls.parquet, rejects.jsonl, stats.json."""

    def __init__(self, out_dir: Path, options: CollectOptions, progress: Callable[[int], None] | None = None) -> None:
        self.out_dir = out_dir
        self.options = options
        self.prices = options.prices
        self.progress = progress or (lambda n: None)
        self.writer = calls_writer(out_dir, options.batch_rows)
        self.rejects = RejectLog(out_dir)
        self.joiner = BatchJoiner(out_dir / SPOOL_FILE)
        self.stats = CollectStats()
        self.seen: set[bytes] = set()
        self.pool: WorkerPool | None = None
        self.skipped: list[dict[str, str]] = []  # paths passed over while expanding the inputs
        self._files: dict[str, FileStats] = {}

    # -- records ---------------------------------------------------------------------------
    def _keep(self, digest: bytes) -> bool:
        if not self.options.dedupe:
            return True
        key = digest[:DIGEST_BYTES]
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def _count(self, row: dict, tools: list[str], carried: bool = False) -> None:
        self.stats.add_call(row["model"], row["usage"], row["cost_usd"], row["workload_id"], tools,
                            row["finish_reason"], self.prices.match(row["model"]), carried)

    def carry(self, rows: Iterable[dict]) -> None:
        """Records of a previous version (--append), re-priced with the current table."""
        for row in rows:
            record = {k: row.get(k) for k in FIELDS}
            if not self._keep(digest_of(record["call_id"])):
                self.stats.duplicates += 1
                continue
            use = record["usage"] or {}
            record["cost_usd"] = self.prices.cost(record["model"], use.get("prompt_tokens"), use.get("completion_tokens"))
            self.writer.write(record)
            self._count(record, tool_names(record["output"]), carried=True)

    def _store(self, outcome: tuple, file: str, fstats: FileStats) -> None:
        _, line, fmt, digest, parts, small, tools = outcome
        if not self._keep(digest):
            fstats.duplicates += 1
            self.stats.duplicates += 1
            return
        use = small["usage"]
        cost = self.prices.cost(small["model"], use["prompt_tokens"], use["completion_tokens"])
        row = storage_row(call_id_of(digest), {"file": file, "line": line, "format": fmt}, small, parts, cost)
        self.writer.write(row)
        self._count(row, tools)
        fstats.calls += 1
        fstats.formats[fmt] += 1
        self.stats.formats[fmt] += 1

    def _reject(self, fstats: FileStats, line: int, guess: str, reason: str, detail: str, text: str,
                index: int | None = None) -> None:
        self.rejects.add(Reject(fstats.file, line, guess, reason, detail, text, index))
        fstats.rejects += 1

    # -- inputs ----------------------------------------------------------------------------
    def _outcomes(self, log: LogFile) -> Iterator[list[tuple]]:
        if self.pool is not None:
            return self.pool.outcomes(log.units())
        return (process_unit(u.line, u.data, u.problem, u.index) for u in log.units())

    def ingest(self, log: LogFile) -> None:
        """Every record of one file becomes a call, a duplicate, a batch half or a reject."""
        fstats = FileStats(log.name, log.size)
        self.stats.files.append(fstats)
        self._files[log.name] = fstats
        guess = formats.UNKNOWN  # the file's last detected format, for rejects that have none
        reported = 0
        for n, outcomes in enumerate(self._outcomes(log)):
            if n % PROGRESS_EVERY == 0:
                reported = self._advance(log.position, reported)
            fstats.lines += 1
            for outcome in outcomes:
                tag = outcome[0]
                if tag == CALL:
                    guess = outcome[2]
                    self._store(outcome, log.name, fstats)
                elif tag == REJECT:
                    _, line, index, fmt, reason, detail, text = outcome
                    if fmt is not None and fmt != formats.UNKNOWN:
                        guess = fmt
                    self._reject(fstats, line, fmt or guess, reason, detail, text, index)
                elif tag == HALF:
                    guess = outcome[2]
                    self._batch_half(outcome, fstats)
                elif tag == BLANK:
                    fstats.blank += 1
        fstats.compressed = log.compressed
        self._advance(log.size, reported)

    def _advance(self, position: int, reported: int) -> int:
        if position > reported:
            self.progress(position - reported)
            return position
        return reported

    def _batch_half(self, outcome: tuple, fstats: FileStats) -> None:
        _, line, fmt, kind, custom_id, data = outcome
        partner = self.joiner.offer(Half(kind, custom_id, fstats.file, line, data))
        if partner is None:
            return
        fstats.batch_paired += 1
        self._files[partner.file].batch_paired += 1
        here, there = (fstats.file, line, data), (partner.file, partner.line, partner.data)
        request_at, result_at = (here, there) if kind == openai_batch.INPUT else (there, here)
        result_stats = self._files[result_at[0]]
        try:
            items = guarded(openai_batch.combine, parse_record(request_at[2]), parse_record(result_at[2]))
            for item in items:
                item["metadata"]["batch_input"] = f"{request_at[0]}:{request_at[1]}"
                self._store(call_outcome(item, result_at[1], None, fmt), result_at[0], result_stats)
        except RecordRejected as exc:
            self._reject(result_stats, result_at[1], fmt, exc.reason, exc.detail, excerpt(result_at[2]))

    # -- end -------------------------------------------------------------------------------
    def finish(self) -> dict:
        """Reject unmatched batch halves, close all outputs, write stats.json; returns the summary."""
        for half in self.joiner.leftovers():
            reason = "unmatched batch request" if half.kind == openai_batch.INPUT else "unmatched batch response"
            partner = "output" if half.kind == openai_batch.INPUT else "input"
            self._reject(self._files[half.file], half.line, formats.BATCH, reason,
                         f"custom_id {half.custom_id!r} has no batch {partner} line in the inputs given",
                         excerpt(half.data))
        self.close()
        self.writer.close()
        summary = self.stats.summary()
        summary["rejects"] = self.rejects.count
        summary["reject_reasons"] = self.rejects.summary()
        summary["skipped_files"] = self.skipped[:SKIPPED_LISTED]
        summary["skipped_files_total"] = len(self.skipped)
        (self.out_dir / STATS_FILE).write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
        return summary

    def close(self) -> None:
        """Release the worker pool, the batch spool and the rejects file."""
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        self.joiner.close()
        self.rejects.close()

    def abort(self) -> None:
        """Drop partial outputs after a failure."""
        self.close()
        self.writer.abort()


def collect(
    paths: list[str],
    out_dir: Path,
    options: CollectOptions,
    carried: Iterable[dict] | None = None,
    progress: Callable[[int], None] | None = None,
    files: list[Path] | None = None,
    skipped: list[dict[str, str]] | None = None,
) -> dict:
    """Collect logs named by paths (files, dirs, globs) into out_dir; returns the summary.

    `files` (with the `skipped` paths passed over when listing them) replaces expanding `paths`.
    """
    if files is None:
        inputs = scan_inputs(paths)
        files, skipped = inputs.files, inputs.skipped
    logs = [LogFile(p, options.max_line_bytes) for p in files]
    collector = Collector(out_dir, options, progress)
    collector.skipped = list(skipped or [])
    try:
        workers = auto_workers(options.workers, sum(log.size for log in logs))
        if workers > 1:
            collector.pool = WorkerPool(workers)
        if carried is not None:
            collector.carry(carried)
        for log in logs:
            collector.ingest(log)
        return collector.finish()
    except BaseException:
        collector.abort()
        raise

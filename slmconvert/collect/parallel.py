"""Run units -> outcomes in worker processes, in input order, with a bounded amount in flight.

Chunks of raw units go to a process pool; at most `2 x workers` chunks are pending, so memory
stays flat however large the input. Results come back in submission order, which keeps
deduplication ("keep the first") and every output byte-identical to the in-process path.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from slmconvert.collect.reader import Unit
from slmconvert.collect.units import RawUnit, process_units
from slmconvert.errors import SlmError

CHUNK_BYTES = 4 << 20
CHUNK_UNITS = 2000
AUTO_MIN_BYTES = 32 << 20
AUTO_MAX_WORKERS = 8
AUTO_MIN_CORES = 4


def auto_workers(requested: int, total_bytes: int) -> int:
    """Worker processes to use: `requested`, or for 0 one per spare core (max 8) on large inputs.

    The collecting process itself stays busy writing Parquet, so workers only pay off with at
    least 4 cores; below that (and for inputs under 32 MB) everything runs in-process.
    """
    if requested > 0:
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores < AUTO_MIN_CORES or total_bytes < AUTO_MIN_BYTES:
        return 1
    return min(cores - 1, AUTO_MAX_WORKERS)


def chunks(units: Iterable[Unit]) -> Iterator[list[RawUnit]]:
    """Raw units grouped into chunks of about CHUNK_BYTES."""
    chunk: list[RawUnit] = []
    size = 0
    for unit in units:
        chunk.append((unit.line, unit.data, unit.problem, unit.index))
        size += len(unit.data)
        if size >= CHUNK_BYTES or len(chunk) >= CHUNK_UNITS:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


class WorkerPool:
    """A process pool that maps chunks of units to their outcomes, ordered and bounded."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        # Linux: fork (workers start instantly and never re-import __main__; they only run pure
        # parsing code, so a parent's other threads, e.g. a progress bar, cannot block them).
        # Elsewhere fork is unsafe: spawn.
        context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        self._executor = ProcessPoolExecutor(max_workers=workers, mp_context=context)

    def outcomes(self, units: Iterable[Unit]) -> Iterator[list[tuple]]:
        """Outcome lists per unit, in input order."""
        pending: deque[Future] = deque()
        try:
            for chunk in chunks(units):
                pending.append(self._executor.submit(process_units, chunk))
                if len(pending) >= 2 * self.workers:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
        except BrokenProcessPool:
            raise SlmError(
                "a collect worker process died (out of memory?)",
                hint="rerun with `--set collect.workers=1` to parse in a single process",
            ) from None

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

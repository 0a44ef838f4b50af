"""Work that must leave the event loop, batched: jobs queue up, a worker thread takes those with
the same key together (one embedding pass for many calls' cluster assignment; one generation pass
for many calls of one SLM) and each waiting request gets its own result. A request that waits too
long gets a timeout while the worker moves on."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

BatchFn = Callable[[list[Any]], Sequence[Any]]


@dataclass
class _Job:
    key: Hashable
    run: BatchFn
    item: Any
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)


class Batcher:
    """`threads` worker threads, each running `run(items)` for up to `batch_size` queued jobs of one key."""

    def __init__(self, name: str, batch_size: int = 8, threads: int = 1,
                 prepare: Callable[[], None] | None = None) -> None:
        self.batch_size = max(1, batch_size)
        self.prepare = prepare
        self._pending: deque[_Job] = deque()
        self._cv = threading.Condition()
        self._closed = False
        self._threads = [threading.Thread(target=self._loop, name=f"slmconvert-{name}-{i}", daemon=True)
                         for i in range(max(1, threads))]
        for thread in self._threads:
            thread.start()

    async def submit(self, key: Hashable, run: BatchFn, item: Any, timeout_s: float | None = None) -> tuple[Any, float]:
        """(this item's result, seconds its batch computed); raises TimeoutError or what `run` raised."""
        job = _Job(key, run, item)
        with self._cv:
            if self._closed:
                raise RuntimeError("the worker is shut down")
            self._pending.append(job)
            self._cv.notify()
        try:
            return await asyncio.wait_for(asyncio.wrap_future(job.future), timeout_s)
        except asyncio.TimeoutError:
            job.future.cancel()
            raise TimeoutError(f"no answer within {timeout_s:g} s") from None

    def close(self) -> None:
        """Finish what is queued, then stop the threads."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        for thread in self._threads:
            thread.join(5)

    def _take(self) -> list[_Job]:
        with self._cv:
            while not self._pending and not self._closed:
                self._cv.wait()
            batch: list[_Job] = []
            rest: deque[_Job] = deque()
            while self._pending:
                job = self._pending.popleft()
                if job.future.cancelled():
                    continue
                if len(batch) < self.batch_size and (not batch or job.key == batch[0].key):
                    batch.append(job)
                else:
                    rest.append(job)
            self._pending = rest
            return [job for job in batch if job.future.set_running_or_notify_cancel()]

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                if self._closed:
                    return
                continue
            started = time.perf_counter()
            try:
                if self.prepare is not None:
                    self.prepare()
                results = batch[0].run([job.item for job in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"{len(results)} results for {len(batch)} items")
            except BaseException as exc:  # noqa: BLE001 - every waiting request learns of the failure
                for job in batch:
                    job.future.set_exception(exc)
                continue
            seconds = time.perf_counter() - started
            for job, result in zip(batch, results, strict=True):
                job.future.set_result((result, seconds))

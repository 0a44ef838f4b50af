"""SLM generation off the event loop: jobs queue up, a worker thread takes those of one cluster
together as a batch (one model in memory answers them in one pass), and a caller that waits too
long gets a timeout (its request goes to the LLM) while the worker moves on."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slmconvert.models.prompt import PromptFormat
from slmconvert.router.generator import Generation, Generator


@dataclass
class _Job:
    key: tuple[Any, ...]
    generator: Generator
    model: str
    adapter: Path | None
    fmt: PromptFormat
    max_new_tokens: int
    record: dict[str, Any]
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)


class SlmTimeout(Exception):
    """The SLM did not answer within the gateway's SLM timeout."""


class SlmWorker:
    """Runs Generator.generate on `threads` worker threads (1 for an in-process model, more for a remote server)."""

    def __init__(self, batch_size: int = 8, threads: int = 1) -> None:
        self.batch_size = max(1, batch_size)
        self._pending: deque[_Job] = deque()
        self._cv = threading.Condition()
        self._closed = False
        self._threads = [threading.Thread(target=self._run, name=f"slmconvert-slm-{i}", daemon=True)
                         for i in range(max(1, threads))]
        for thread in self._threads:
            thread.start()

    async def generate(self, generator: Generator, model: str, adapter: Path | None, fmt: PromptFormat,
                       record: dict[str, Any], max_new_tokens: int, timeout_s: float) -> Generation:
        """One answer; raises SlmTimeout, or whatever the generator raised."""
        key = (id(generator), model, str(adapter), repr(fmt.to_dict()), max_new_tokens)
        job = _Job(key, generator, model, adapter, fmt, max_new_tokens, record)
        with self._cv:
            if self._closed:
                raise RuntimeError("the SLM worker is shut down")
            self._pending.append(job)
            self._cv.notify()
        try:
            return await asyncio.wait_for(asyncio.wrap_future(job.future), timeout_s)
        except asyncio.TimeoutError:
            job.future.cancel()
            raise SlmTimeout(f"no SLM answer within {timeout_s:g} s") from None

    def close(self) -> None:
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

    def _run(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                if self._closed:
                    return
                continue
            head = batch[0]
            try:
                answers = head.generator.generate(head.model, head.adapter, head.fmt, [j.record for j in batch],
                                                  head.max_new_tokens)
                if len(answers) != len(batch):
                    raise RuntimeError(f"the generator returned {len(answers)} answers for {len(batch)} calls")
            except BaseException as exc:  # noqa: BLE001 - every waiting request learns of the failure
                for job in batch:
                    job.future.set_exception(exc)
                continue
            for job, answer in zip(batch, answers, strict=True):
                job.future.set_result(answer)

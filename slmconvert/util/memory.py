"""Keeping memory bounded during heavy phases (training, generation) and giving it back between them.

A training run's resident memory climbed step after step (finetune of the sample logs' tool-call
cluster on one core: 1.9 -> 3.8 GB within 4 minutes of training). Two things held it:

- oneDNN's primitive cache (see ONEDNN_CACHE_CAPACITY): every pass of a new shape compiles and keeps
  new primitives; `bound_onednn_cache` caps it, before torch's first matrix product.
- glibc keeps freed heap pages and, once a freed mmap'ed block raised its dynamic mmap threshold,
  serves tensors of up to 32 MB from that heap, which fragments as activations of new sizes come and
  go. Trimming hands those pages back, and the next pass faults them in again: a trim after every
  forward pass cost 14% of the training speed, a fixed low mmap threshold 21% (every tensor freshly
  mapped); `HeapTrimmer` trims only once the heap outgrew a slack (the trainer's: twice one pass's
  planned activations; one pass's worth cost 7%, half of one 15%).
"""

from __future__ import annotations

import ctypes
import gc
import os
import threading
from collections.abc import Callable
from functools import cache

# oneDNN (torch's bf16 matrix products on a CPU) keeps every primitive it JIT-compiles, 1024 by default,
# each with its own buffers, and a training pass of new rows x width compiles a fresh set: the cache alone
# grew by ~0.6 GB in 60 LoRA steps of SmolLM2-135M and ~1.2 GB in 188 (finetune of the sample logs' tool-call
# cluster, AMD EPYC, 2 cores: peak 4.05 / 4.86 GB at 1024, 3.42 / 3.61 GB at 128, no slower; a cap of 8
# recompiled within each pass, 20% slower)
ONEDNN_CACHE_VARIABLES = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "DNNL_PRIMITIVE_CACHE_CAPACITY")
ONEDNN_CACHE_CAPACITY = "128"


@cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None
    return libc


def bound_onednn_cache() -> bool:
    """Cap oneDNN's primitive cache at ONEDNN_CACHE_CAPACITY, unless the user set a capacity. oneDNN
    reads it when it creates its first primitive, so this only acts before that; returns whether it set it."""
    if any(name in os.environ for name in ONEDNN_CACHE_VARIABLES):
        return False
    os.environ[ONEDNN_CACHE_VARIABLES[0]] = ONEDNN_CACHE_CAPACITY
    return True


def trim_heap() -> bool:
    """Return the heap's free pages to the OS (glibc `malloc_trim`); False where there is no glibc."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def rss_mb() -> float:
    """This process's resident memory in MB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


class PeakSampler:
    """Highest resident memory of this process while the block runs, read every `every` seconds on a
    thread (the kernel's own high-water mark covers the whole process life and is left alone, so
    `time -v` still reports the true peak); None where /proc does not say."""

    def __init__(self, every: float = 0.1, rss: Callable[[], float] = rss_mb) -> None:
        self.every = every
        self.rss = rss
        self.peak_mb: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _read(self) -> None:
        value = self.rss()
        if value > 0 and (self.peak_mb is None or value > self.peak_mb):
            self.peak_mb = value

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self._read()

    def __enter__(self) -> PeakSampler:
        self._read()
        self._thread = threading.Thread(target=self._loop, name="slmconvert-peak-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._read()


class HeapTrimmer:
    """`trim_heap` once the process holds `slack_mb` more than right after the last trim: call it at
    every step boundary; a heap that stays within its slack is left alone (no page faults)."""

    def __init__(self, slack_mb: float, rss: Callable[[], float] = rss_mb) -> None:
        self.slack_mb = slack_mb
        self.rss = rss
        self.floor = rss()

    def __call__(self) -> bool:
        """Trim when resident memory grew past the slack; True when it trimmed."""
        if self.rss() < self.floor + self.slack_mb:
            return False
        trimmed = trim_heap()
        self.floor = self.rss()
        return trimmed


def release_memory() -> None:
    """Free a finished model before the next one: collect cycles, empty the CUDA cache, trim the heap."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    trim_heap()

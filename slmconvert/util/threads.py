"""Intra-op threads sized to the cores other processes leave free, and OpenMP workers that spin briefly.

Measured on 2 cores (Intel Xeon, AMX; SmolLM2-135M LoRA steps): with OpenMP workers that sleep at once
(`OMP_WAIT_POLICY=PASSIVE`) a step of one 164-token example trained at 173 tok/s, fewer than one thread
alone (236); spinning workers trained at 322. But with another busy process on one of the two cores,
spinning workers stalled a step for minutes, while one thread ran at full single-core speed. So workers
spin a little (`GOMP_SPINCOUNT`, unless OpenMP is already configured) and a `ThreadGovernor`, called
between steps and batches, keeps one thread per core that other processes leave free.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from slmconvert.util.device import physical_cores

SPIN_COUNT = "10000"  # idle: 95% of full spinning's speed; beside a busy process: slow, not stalled
OPENMP_WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
CHECK_INTERVAL_SECONDS = 5.0
PROC_STAT = "/proc/stat"
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system irq softirq steal (idle and iowait are free time)


def prefer_brief_spinning() -> bool:
    """Let idle OpenMP workers spin briefly before sleeping (GOMP_SPINCOUNT), unless the user set an
    OpenMP wait policy. OpenMP reads it when torch loads, so this only acts before that; returns
    whether it did."""
    if "torch" in sys.modules or any(name in os.environ for name in OPENMP_WAIT_VARIABLES):
        return False
    os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT
    return True


def busy_cpu_seconds(text: str, cpus: set[int]) -> float:
    """Seconds the given CPUs spent busy since boot, from the text of /proc/stat."""
    ticks = 0
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            values = [int(v) for v in rest.split()]
            ticks += sum(values[i] for i in BUSY_FIELDS if i < len(values))
    return ticks / os.sysconf("SC_CLK_TCK")


def _read_proc_stat() -> str | None:
    try:
        with open(PROC_STAT, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _allowed_cpus() -> set[int]:
    return set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))


@dataclass
class ThreadGovernor:
    """Keeps torch's intra-op pool at the cores other processes leave free (never more than the
    pool it started with), re-measured at most every `interval` seconds from /proc/stat minus this
    process's own CPU time. `adjust()` is cheap: call it before every step or batch; `restore()` when
    the work is done, so the next phase starts from the pool this one found (a phase that met a busy
    neighbour must not leave every later one on one thread)."""

    interval: float = CHECK_INTERVAL_SECONDS
    read_stat: Callable[[], str | None] = _read_proc_stat
    clock: Callable[[], float] = time.monotonic
    own_cpu: Callable[[], float] = time.process_time
    cpus: set[int] = field(default_factory=_allowed_cpus)
    ceiling: int = 0
    wanted: int | None = None  # the pool the last measurement chose
    _last: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        if not self.ceiling:
            import torch

            self.ceiling = max(1, min(torch.get_num_threads(), physical_cores()))

    def free_cores(self) -> float | None:
        """Cores other processes left idle since the last call (None on the first call or without /proc)."""
        text = self.read_stat()
        if text is None:
            return None
        sample = (self.clock(), busy_cpu_seconds(text, self.cpus), self.own_cpu())
        previous, self._last = self._last, sample
        if previous is None or sample[0] - previous[0] <= 0:
            return None
        wall = sample[0] - previous[0]
        others = max(0.0, (sample[1] - previous[1]) - (sample[2] - previous[2])) / wall
        return max(0.0, len(self.cpus) - others)

    def adjust(self) -> int:
        """Re-measure if `interval` has passed since the last measurement, and hold the pool at what the
        last one chose; returns its size."""
        if self._last is None or self.clock() - self._last[0] >= self.interval:
            free = self.free_cores()
            if free is not None:
                self.wanted = max(1, min(self.ceiling, int(free + 0.5)))
        return _set_threads(self.wanted)

    def restore(self) -> None:
        """Hand back the pool this governor started with."""
        _set_threads(self.ceiling)


def _set_threads(count: int | None) -> int:
    """Set torch's intra-op pool to `count` (None: leave it); returns its size."""
    import torch

    if count is not None and torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return torch.get_num_threads()

"""The thread governor keeps one intra-op thread per core that other processes leave free."""

from __future__ import annotations

import os

import pytest
import torch

from slmconvert.util import threads


def _stat(busy: list[int]) -> str:
    """A /proc/stat text whose CPUs 0..n-1 have spent `busy` ticks busy (user) and 100 idle."""
    lines = ["cpu  0 0 0 0 0 0 0 0 0 0"]
    lines += [f"cpu{i} {ticks} 0 0 100 0 0 0 0 0 0" for i, ticks in enumerate(busy)]
    return "\n".join(lines + ["intr 1 2 3"])


class FakeMachine:
    """Two CPUs; `others` cores kept busy by other processes, `own` cores by this one, per second."""

    def __init__(self, others: float, own: float) -> None:
        self.others, self.own, self.now = others, own, 0.0

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def stat(self) -> str:
        hz = os.sysconf("SC_CLK_TCK")
        total = int(round((self.others + self.own) * self.now * hz))
        return _stat([total, 0])

    def own_cpu(self) -> float:
        return self.own * self.now


def _governor(machine: FakeMachine, interval: float, ceiling: int) -> threads.ThreadGovernor:
    return threads.ThreadGovernor(interval=interval, read_stat=machine.stat, clock=lambda: machine.now,
                                  own_cpu=machine.own_cpu, cpus={0, 1}, ceiling=ceiling)


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_busy_seconds_count_only_the_allowed_cpus():
    hz = os.sysconf("SC_CLK_TCK")
    assert threads.busy_cpu_seconds(_stat([hz, 3 * hz]), {0}) == pytest.approx(1.0)
    assert threads.busy_cpu_seconds(_stat([hz, 3 * hz]), {0, 1}) == pytest.approx(4.0)


@pytest.mark.parametrize(("others", "expected"), [(0.0, 2), (0.3, 2), (1.0, 1), (2.0, 1)])
def test_the_pool_shrinks_to_the_cores_others_leave_free(two_threads, others, expected):
    machine = FakeMachine(others=others, own=1.8)
    governor = _governor(machine, interval=5.0, ceiling=2)
    assert governor.adjust() == 2  # the first call only takes a sample
    machine.advance(2.0)
    assert governor.adjust() == 2  # within the interval: no new measurement
    machine.advance(4.0)
    assert governor.adjust() == expected


def _squeezed(machine: FakeMachine, interval: float) -> threads.ThreadGovernor:
    """A 2-thread governor that has measured a busy neighbour (one core left) and shrunk to 1 thread."""
    governor = _governor(machine, interval=interval, ceiling=2)
    governor.adjust()
    machine.advance(interval + 1.0)
    assert governor.adjust() == 1
    return governor


def test_the_pool_grows_back_but_never_past_its_ceiling(two_threads):
    machine = FakeMachine(others=1.0, own=1.0)
    governor = _squeezed(machine, interval=1.0)
    machine.others = 0.0
    machine.advance(2.0)
    assert governor.adjust() == 2
    capped = _governor(machine, interval=1.0, ceiling=1)
    capped.adjust()
    machine.advance(2.0)
    assert capped.adjust() == 1


def test_without_proc_stat_the_pool_is_left_alone(two_threads):
    governor = threads.ThreadGovernor(interval=0.0, read_stat=lambda: None, cpus={0, 1}, ceiling=2)
    assert governor.adjust() == 2 and governor.adjust() == 2


def test_brief_spinning_is_set_only_before_torch_and_never_over_a_user_choice(monkeypatch):
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    assert threads.prefer_brief_spinning() is False  # torch is already loaded in this process
    monkeypatch.setitem(__import__("sys").modules, "torch", None)
    monkeypatch.delitem(__import__("sys").modules, "torch")
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    assert threads.prefer_brief_spinning() is False and "GOMP_SPINCOUNT" not in os.environ
    monkeypatch.delenv("OMP_WAIT_POLICY")
    assert threads.prefer_brief_spinning() is True and os.environ["GOMP_SPINCOUNT"] == threads.SPIN_COUNT


def test_restore_hands_back_the_starting_pool_and_the_next_batch_takes_the_measured_one_again(two_threads):
    machine = FakeMachine(others=1.0, own=1.0)
    governor = _squeezed(machine, interval=5.0)
    governor.restore()
    assert torch.get_num_threads() == 2  # a later phase starts from the pool this one found
    machine.advance(1.0)
    assert governor.adjust() == 1  # within the interval: the busy neighbour's measurement still holds

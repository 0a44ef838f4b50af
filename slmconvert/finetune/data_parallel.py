"""One cluster trained data-parallel by several processes of this machine: one per CUDA GPU (NCCL), or
CPU processes (gloo). Every rank runs the stage's own trainer (`finetune.run`) on its share of every
optimiser batch; this module is what keeps the ranks one run:

- the plan is split, not repeated (`split_plan`): each rank takes 1/world of every optimiser batch, so
  the global batch, the steps and the schedule are the one-process plan's;
- the batches: every rank draws the same seeded batch order and keeps every world-th batch
  (`trainer.LengthGroupedSampler`), the same number on each rank;
- the gradients: after the last forward pass of a step, each rank's LoRA gradients (weighted by its
  loss-bearing tokens) are summed over the ranks and divided by all ranks' tokens (`sync_gradients`),
  so the step is the one-process step on the whole batch; the adapters start equal (`broadcast_params`);
- the decisions: validation scores, early stopping and the wall-clock stop are rank 0's or any rank's,
  sent to all (`from_rank_zero`, `any_rank`), so no rank waits in a collective another has left;
- the outputs: rank 0 alone writes the adapter and the result, after every rank has finished.

Only torch.distributed is used (not transformers' own DDP mode): the specialist trainer runs its own
forward passes (`trainer.completion_loss`), which a DDP wrapper would not see.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import socket
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

T = TypeVar("T")
TIMEOUT_SECONDS = 1800  # a rank waiting longer in a collective (rank 0 validating meanwhile) fails the run, never hangs


@dataclasses.dataclass(frozen=True)
class Ranks:
    """This process's place in the data-parallel group (rank 0 of 1 when training alone)."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def ranks() -> Ranks:
    """The group this process trains in (torch.distributed's default group, else alone)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size())
    return Ranks()


def free_port() -> int:
    """A free TCP port on localhost (the ranks meet there)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def visible_gpus() -> list[str]:
    """The CUDA devices this process may use, as CUDA_VISIBLE_DEVICES names them."""
    import torch

    named = os.environ.get("CUDA_VISIBLE_DEVICES")
    if named is not None:
        return [name.strip() for name in named.split(",") if name.strip()]
    return [str(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []


def launch(target: Any, args: tuple[Any, ...], world: int, gpus: list[str]) -> None:
    """target(rank, *args) in `world` fresh (spawned) processes, rank r seeing only gpus[r] (as cuda:0)
    when there are GPUs; returns when all have finished, raises when any fails (the others are stopped)."""
    import multiprocessing

    from slmconvert.errors import SlmError

    context = multiprocessing.get_context("spawn")
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    processes = []
    try:
        for rank in range(world):
            if gpus:  # in the environment the child starts with, before anything there touches CUDA
                os.environ["CUDA_VISIBLE_DEVICES"] = gpus[rank]
            process = context.Process(target=target, args=(rank, *args))
            process.start()
            processes.append(process)
    finally:
        if before is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = before
    try:
        while not all(process.exitcode == 0 for process in processes):
            for rank, process in enumerate(processes):
                process.join(timeout=0.5)
                if process.exitcode not in (None, 0):
                    raise SlmError(f"data-parallel training: rank {rank} failed (exit code {process.exitcode}); "
                                   "its error is printed above")
    finally:  # a failed rank, or this process interrupted: no rank is left waiting for the others
        for process in processes:
            if process.is_alive():
                process.terminate()


@contextlib.contextmanager
def joined(rank: int, world: int, port: int, cuda: bool) -> Iterator[Ranks]:
    """This process as rank `rank` of `world` meeting on localhost:`port`: on its GPU under NCCL, else
    on a share of the CPU cores under gloo."""
    import torch
    import torch.distributed as dist

    from slmconvert.util.device import physical_cores

    if not cuda:
        torch.set_num_threads(max(1, physical_cores() // world))
    dist.init_process_group("nccl" if cuda else "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world, timeout=timedelta(seconds=TIMEOUT_SECONDS))
    try:
        yield Ranks(rank, world)
    finally:
        dist.destroy_process_group()


def world_size(requested: int | None, engine: str, device: str) -> int:
    """Processes to train each cluster with under the local engine: as requested, else one per visible
    GPU when training on CUDA, else 1. Ray trains one cluster per GPU instead (its lanes): 1."""
    if engine != "local":
        return 1
    if requested is not None:
        return requested
    return max(1, len(visible_gpus())) if device == "cuda" else 1


def split_plan(plan: Any, world: int) -> Any:
    """The plan one of `world` ranks runs: the same steps, schedule and global batch, each rank taking
    1/world of every optimiser batch (fewer accumulation steps, or smaller loader batches)."""
    if world <= 1:
        return plan
    if plan.gradient_accumulation >= world:
        return dataclasses.replace(plan, gradient_accumulation=math.ceil(plan.gradient_accumulation / world))
    per_rank = math.ceil(plan.micro_batch_size * plan.gradient_accumulation / world)
    return dataclasses.replace(plan, micro_batch_size=per_rank, gradient_accumulation=1)


def any_rank(flag: bool) -> bool:
    """True on every rank when it is true on any (a no-op alone)."""
    import torch
    import torch.distributed as dist

    if ranks().world == 1:
        return flag
    value = torch.tensor([int(flag)], device=_device())
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def from_rank_zero(value: T | None) -> T:
    """Rank 0's `value` on every rank (a no-op alone); the other ranks' values are ignored."""
    import torch.distributed as dist

    if ranks().world == 1:
        return value  # type: ignore[return-value]
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]  # type: ignore[return-value]


def summed(values: list[float]) -> list[float]:
    """Each value summed over the ranks (a no-op alone)."""
    import torch
    import torch.distributed as dist

    if ranks().world == 1:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=_device())
    dist.all_reduce(tensor)
    return tensor.tolist()


def broadcast_params(parameters: Iterable[Any]) -> None:
    """Rank 0's values of the trainable parameters on every rank (equal adapters to start from)."""
    import torch.distributed as dist

    if ranks().world == 1:
        return
    for param in parameters:
        if param.requires_grad:
            dist.broadcast(param.data, src=0)


def sync_gradients(parameters: Iterable[Any], loss_tokens: float) -> None:
    """Each trainable parameter's gradient becomes the whole batch's: every rank's gradient of its mean
    loss over its `loss_tokens`, weighted by them, summed over the ranks, over all ranks' tokens."""
    import torch.distributed as dist

    if ranks().world == 1:
        return
    grads = [p.grad for p in parameters if p.requires_grad and p.grad is not None]
    (total,) = summed([float(loss_tokens)])
    scale = float(loss_tokens) / max(1.0, total)
    for grad in grads:
        grad.mul_(scale)
        dist.all_reduce(grad)


def _device() -> Any:
    """Where this rank's collectives run: its GPU under NCCL, else the CPU."""
    import torch
    import torch.distributed as dist

    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")

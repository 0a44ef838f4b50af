"""Fine-tuning past one machine: many clusters in parallel, one Ray task per GPU (or per node where
there are none): the cluster's training lanes. One cluster data-parallel over a machine's GPUs is
`finetune.data_parallel`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from slmconvert.engine.base import EngineSpec, Log

Job = TypeVar("Job")
Result = TypeVar("Result")


@dataclass(frozen=True)
class Lanes:
    """How many clusters a Ray cluster trains at once, and what each training task holds."""

    count: int
    cpus: int
    gpus: float  # 1 on GPU nodes, 0 on CPU-only ones


def lanes_of(nodes: Sequence[dict[str, Any]], gpus: bool = True) -> Lanes:
    """The training lanes of a Ray cluster (`ray.nodes()`): one per GPU, with its node's CPUs shared
    among that node's GPUs; on a cluster without GPUs, lanes of the smallest node's CPUs (so that any
    node can run any task), as many as fit on each node: one per node where the nodes are alike; the
    same without `gpus` (training on the CPU). A node that is down holds none."""
    alive = [n.get("Resources") or {} for n in nodes if n.get("Alive")]
    gpu_nodes = [r for r in alive if r.get("GPU", 0) >= 1] if gpus else []
    if gpu_nodes:
        cpus = max(1, min(int(r.get("CPU", 0) // int(r["GPU"])) for r in gpu_nodes))
        return Lanes(count=sum(int(r["GPU"]) for r in gpu_nodes), cpus=cpus, gpus=1.0)
    node_cpus = [int(r.get("CPU", 0)) for r in alive if r.get("CPU", 0) >= 1]
    cpus = min(node_cpus, default=1)
    return Lanes(count=max(1, sum(c // cpus for c in node_cpus)), cpus=cpus, gpus=0.0)


def _ray(spec: EngineSpec | None, log: Log | None) -> Any:
    """The ray module, joined to (or having started) the Ray of `spec`."""
    from slmconvert.engine.ray_backend import connect

    return connect(spec or EngineSpec("ray"), log or (lambda message: None))


def training_lanes(spec: EngineSpec | None = None, log: Log | None = None, gpus: bool = True) -> Lanes:
    """The lanes of the Ray of `spec` (joined or started), on its GPUs unless `gpus` is false."""
    return lanes_of(_ray(spec, log).nodes(), gpus)


def on_a_lane(fn: Callable[[], Result], lanes: Lanes, spec: EngineSpec | None = None,
              log: Log | None = None) -> Result:
    """`fn()` in one Ray task holding what a training task holds (the device facts and the throughput
    probe a plan needs are the workers', not the driver's)."""
    from slmconvert.engine.ray_backend import run_in_task

    return run_in_task(_ray(spec, log), fn, num_gpus=lanes.gpus, num_cpus=lanes.cpus)


def train_clusters_in_parallel(train_one: Callable[[Job], Result], jobs: Sequence[Job], lanes: Lanes | None = None,
                               retries: int = 1, spec: EngineSpec | None = None,
                               log: Log | None = None) -> list[Result]:
    """`train_one(job)` for every cluster as Ray tasks on the Ray of `spec` (joined or started), each
    holding one lane's resources (default: the cluster's lanes), so a node with 8 GPUs trains 8
    clusters at once and the rest queue; results in job order. A task whose worker dies is retried."""
    ray = _ray(spec, log)
    lanes = lanes or lanes_of(ray.nodes())
    task = ray.remote(num_gpus=lanes.gpus, num_cpus=lanes.cpus, max_retries=retries)(train_one)
    return ray.get([task.remote(job) for job in jobs])

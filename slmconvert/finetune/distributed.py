"""Fine-tuning past one GPU: many clusters in parallel (one Ray task per GPU, or per node where there
are none: the cluster's training lanes), and one large cluster data-parallel over several processes
with accelerate (NCCL on GPUs, gloo on CPUs).

Data-parallel: every rank loads the base model and the same LoRA adapter, accelerate shards the
examples between ranks (a distributed sampler) and all-reduces the gradients, so every rank holds
the same adapter after each step; rank 0 writes it (safetensors, loadable by PeftModel).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from slmconvert.engine.base import EngineSpec, Log
from slmconvert.finetune.params import FinetuneParams

DEFAULT_LORA_LAYERS = FinetuneParams.model_fields["lora_layers"].default
Job = TypeVar("Job")
Result = TypeVar("Result")
IGNORE_INDEX = -100


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


@dataclass
class DataParallelJob:
    """One cluster's tokenised examples and the LoRA run to make of them on `world_size` processes."""

    model: str  # path or alias of the base model
    examples: list[dict[str, list[int]]]  # input_ids and labels (IGNORE_INDEX on prompt tokens)
    out_dir: str
    steps: int = 10
    batch_size: int = 4  # per rank: the global batch is batch_size x world_size
    learning_rate: float = 1e-3
    lora_rank: int = 8
    lora_layers: float = DEFAULT_LORA_LAYERS  # share of the transformer layers adapted, from the top
    seed: int = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_data_parallel(job: DataParallelJob, world_size: int, cpu: bool = False) -> list[dict[str, Any]]:
    """Train `job` on `world_size` local processes (one per GPU, or CPU processes with gloo);
    returns each rank's report (examples seen, losses, adapter digest). For several nodes, run
    `data_parallel_rank` under `accelerate launch` / torchrun instead: it reads the same env."""
    import torch.multiprocessing as mp

    Path(job.out_dir).mkdir(parents=True, exist_ok=True)
    port = free_port()
    mp.spawn(_spawned_rank, args=(world_size, port, asdict(job), cpu), nprocs=world_size, join=True)
    return [json.loads((Path(job.out_dir) / f"rank{r}.json").read_text()) for r in range(world_size)]


def _spawned_rank(rank: int, world_size: int, port: int, job: dict[str, Any], cpu: bool) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world_size))
    data_parallel_rank(DataParallelJob(**job), cpu=cpu)


def _collate(rows: list[dict[str, list[int]]], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(r["input_ids"]) for r in rows)
    ids = [r["input_ids"] + [pad_id] * (width - len(r["input_ids"])) for r in rows]
    labels = [r["labels"] + [IGNORE_INDEX] * (width - len(r["labels"])) for r in rows]
    mask = [[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in rows]
    return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask),
            "index": torch.tensor([r["index"] for r in rows])}


def data_parallel_rank(job: DataParallelJob, cpu: bool = False) -> dict[str, Any]:
    """One rank of a data-parallel LoRA run (RANK, WORLD_SIZE, MASTER_ADDR/PORT from the environment)."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from peft import get_peft_model

    from slmconvert.finetune.modeling import lora_config_for
    from slmconvert.models import load_model

    accelerator = Accelerator(cpu=cpu)
    set_seed(job.seed)
    loaded = load_model(job.model, device="cpu" if cpu else str(accelerator.device), dtype="float32")
    lora = lora_config_for(loaded.model, job.lora_rank, 2 * job.lora_rank, 0.0, job.lora_layers)
    model = get_peft_model(loaded.model, lora)
    model.train()
    pad_id = loaded.tokenizer.pad_token_id if loaded.tokenizer.pad_token_id is not None else 0
    rows = [{**e, "index": i} for i, e in enumerate(job.examples)]
    loader = torch.utils.data.DataLoader(rows, batch_size=job.batch_size, shuffle=True,
                                         collate_fn=lambda batch: _collate(batch, pad_id))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=job.learning_rate)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    seen: list[int] = []
    losses: list[float] = []
    while len(losses) < job.steps:
        for batch in loader:
            seen += batch.pop("index").tolist()
            loss = model(**batch).loss
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
            losses.append(round(float(loss.detach()), 5))
            if len(losses) == job.steps:
                break
    unwrapped = accelerator.unwrap_model(model)
    report = {"rank": accelerator.process_index, "world_size": accelerator.num_processes,
              "distributed_type": str(accelerator.distributed_type), "examples_seen": sorted(set(seen)),
              "losses": losses, "adapter_digest": _adapter_digest(unwrapped)}
    out = Path(job.out_dir)
    if accelerator.is_main_process:
        unwrapped.save_pretrained(out / "adapter", safe_serialization=True)
    (out / f"rank{accelerator.process_index}.json").write_text(json.dumps(report))
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return report


def _adapter_digest(model: Any) -> str:
    """sha256 of the trainable (LoRA) weights: equal on every rank when gradients were all-reduced."""
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters()):
        if param.requires_grad:
            digest.update(name.encode())
            digest.update(param.detach().float().cpu().numpy().tobytes())
    return f"sha256:{digest.hexdigest()}"

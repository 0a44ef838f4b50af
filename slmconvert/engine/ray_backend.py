"""The Ray engine: Ray Data `map_batches` over an actor pool, results streamed back in input order;
and pools of Ray actors kept between maps (`RayPool`) for steps that map a chunk at a time.

Ray's own mechanisms handle lost workers: Ray restarts a dead actor and retries its batch
(max_restarts / max_task_retries, set explicitly here). Items and results travel pickled in one
binary column, so a batch function sees exactly the Python objects the local engine gives it.
"""

from __future__ import annotations

import inspect
import logging
import math
import pickle
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from slmconvert.engine.base import EngineSpec, Log, checked, chunks
from slmconvert.errors import ConfigError, SlmError
from slmconvert.util.tables import decode_rows, json_columns_of

ITEM, RESULT = "item", "result"
# A lost actor is restarted and its batch retried this many times before the stage fails.
RETRIES = 3


class _Adapter:
    """The actor Ray Data runs: builds the step's callable class once, maps pickled or Parquet rows."""

    def __init__(self, fn_class: type, args: tuple, kwargs: dict[str, Any], json_cols: list[str] | None) -> None:
        self.fn = fn_class(*args, **kwargs)
        self.json_cols = None if json_cols is None else set(json_cols)

    def __call__(self, table: pa.Table) -> pa.Table:
        if self.json_cols is None:
            items = [pickle.loads(b) for b in table.column(ITEM).to_pylist()]
        else:
            items = decode_rows(table, self.json_cols)
        results = checked(items, self.fn(items))
        return pa.table({RESULT: pa.array([pickle.dumps(r, protocol=5) for r in results], pa.binary())})


class _PoolActor:
    """A kept pool's actor: builds the step's callable class once, maps pickled batches."""

    def __init__(self, fn_class: type, args: tuple, kwargs: dict[str, Any]) -> None:
        self.fn = fn_class(*args, **kwargs)

    def run(self, batch: list[Any]) -> list[Any]:
        return checked(batch, self.fn(batch))


class RayPool:
    """`workers` Ray actors, each holding one built batch function, until `close`. A map sends one
    batch to each idle actor and returns results in input order; a lost actor is restarted and its
    batch retried (RETRIES times)."""

    def __init__(self, ray: Any, fn_class: type, args: tuple, kwargs: dict[str, Any], workers: int,
                 gpus: int = 0) -> None:
        from ray.util import ActorPool

        remote = ray.remote(num_gpus=gpus, max_restarts=RETRIES, max_task_retries=RETRIES)(_PoolActor)
        self.actors = [remote.remote(fn_class, args, kwargs) for _ in range(max(1, workers))]
        self.ray, self.pool = ray, ActorPool(self.actors)

    def map(self, items: Sequence[Any], batch_size: int) -> Iterator[list[Any]]:
        return self.pool.map(lambda actor, batch: actor.run.remote(batch), list(chunks(items, batch_size)))

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []


def run_in_task(ray: Any, fn: Callable[[], Any], num_gpus: float = 0, num_cpus: float | None = None,
                retries: int = 1) -> Any:
    """`fn()` in one Ray task holding these resources (a fact only a worker knows: its device, its speed)."""

    def task() -> Any:  # a plain function: Ray takes no functools.partial
        return fn()

    resources = {"num_gpus": num_gpus} | ({"num_cpus": num_cpus} if num_cpus is not None else {})
    return ray.get(ray.remote(max_retries=retries, **resources)(task).remote())


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError("engine=ray needs Ray, which is not installed",
                          hint="pip install 'slmconvert[ray]', or use --engine local") from None
    return ray


def connect(spec: EngineSpec, log: Log) -> Any:
    """The ray module, its session joined at `spec.address` (or a local Ray started) unless one is open."""
    ray = _import_ray()
    if not ray.is_initialized():
        local = {} if spec.address else {"_temp_dir": tempfile.mkdtemp(prefix="slmray-")}  # owner-only (0700):
        # the object store spills raw calls there
        info = ray.init(address=spec.address or None, logging_level="ERROR", log_to_driver=False, **local)
        where = spec.address or "a local Ray started for this run"
        url = getattr(info, "dashboard_url", None)
        log(f"engine: ray on {where}" + (f"; dashboard http://{url}" if url else ""))
    # Ray Data logs every dataset's plan at INFO on the console: the stage's own lines say what runs
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return ray


class RayBackend:
    """One Ray session per process: joins `address` (or starts a local Ray) on first use."""

    def __init__(self, spec: EngineSpec, log: Log) -> None:
        self.ray = connect(spec, log)
        self.spec = spec
        context = self.ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # same order as the local engine
        context.enable_progress_bars = False  # the stage's Rich bar shows progress

    def workers(self, reads: bool = False) -> int:
        """Actors per step: ray_workers, else one per CPU; when Ray Data also reads files, one CPU
        stays free for its read tasks (actors holding every CPU would starve them: a deadlock)."""
        cpus = max(1, int(self.ray.cluster_resources().get("CPU", 1)))
        wanted = self.spec.workers or cpus
        return max(1, min(wanted, cpus - 1)) if reads else wanted

    def placement(self, gpu: bool) -> tuple[int, int]:
        """(actors, GPUs each) of a step: with `gpu` on a cluster with GPUs, one actor per GPU (at most
        ray_workers) holding it; else `workers()` actors holding none."""
        gpus = int(self.ray.cluster_resources().get("GPU", 0)) if gpu else 0
        return (min(self.spec.workers or gpus, gpus), 1) if gpus else (self.workers(), 0)

    def device(self, preferred: str) -> str:
        from functools import partial

        from slmconvert.util.device import pick_device

        return run_in_task(self.ray, partial(pick_device, preferred), num_gpus=self.placement(True)[1])

    def map_items(self, fn_class: type, items: Sequence[Any], batch_size: int, args: tuple,
                  kwargs: dict[str, Any], gpu: bool = False) -> Iterator[list[Any]]:
        blocks = max(1, math.ceil(len(items) / batch_size))
        rows = [{ITEM: pickle.dumps(item, protocol=5)} for item in items]
        dataset = self.ray.data.from_items(rows, override_num_blocks=blocks)
        workers, gpus = self.placement(gpu)
        return self._run(dataset, fn_class, batch_size, (fn_class, args, kwargs, None), len(items), workers, gpus)

    def pool(self, fn_class: type, args: tuple, kwargs: dict[str, Any], gpu: bool = False) -> RayPool:
        workers, gpus = self.placement(gpu)
        return RayPool(self.ray, fn_class, args, kwargs, workers, gpus)

    def map_parquet(self, fn_class: type, path: Path, batch_size: int, args: tuple,
                    kwargs: dict[str, Any]) -> Iterator[list[Any]]:
        parquet = pq.ParquetFile(path)
        total = parquet.metadata.num_rows
        json_cols = sorted(json_columns_of(parquet.schema_arrow))
        blocks = max(1, math.ceil(total / batch_size))
        # Reading is light: without a CPU of its own it cannot starve behind the actors holding them all.
        free = {"num_cpus": 0} if "num_cpus" in inspect.signature(self.ray.data.read_parquet).parameters \
            else {"ray_remote_args": {"num_cpus": 0}}  # Ray before 2.10 spells it this way
        dataset = self.ray.data.read_parquet(str(path), override_num_blocks=blocks, **free)
        workers = self.workers(reads=True)
        if parquet.num_row_groups < 2 * workers:  # a block per row group: too few to keep every actor busy
            dataset = dataset.repartition(blocks)
        return self._run(dataset, fn_class, batch_size, (fn_class, args, kwargs, json_cols), total, workers)

    def _run(self, dataset: Any, fn_class: type, batch_size: int, constructor_args: tuple,
             expected: int, workers: int, gpus: int = 0) -> Iterator[list[Any]]:
        with warnings.catch_warnings():  # concurrency/remote-arg spellings that work from Ray 2.9 on
            warnings.simplefilter("ignore")
            mapped = dataset.map_batches(
                _Adapter, fn_constructor_args=constructor_args, batch_size=batch_size, batch_format="pyarrow",
                concurrency=workers, max_restarts=RETRIES, max_task_retries=RETRIES, num_gpus=gpus,
            )
        done = 0
        for batch in mapped.iter_batches(batch_size=None, batch_format="pyarrow"):
            results = [pickle.loads(b) for b in batch.column(RESULT).to_pylist()]
            done += len(results)
            yield results
        if done != expected:
            raise SlmError(f"{fn_class.__name__} on ray returned {done:,} results for {expected:,} inputs",
                           hint="the stage publishes nothing; rerun, and report it if it repeats")

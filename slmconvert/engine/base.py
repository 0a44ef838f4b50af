"""The engine API: map a callable class over batches of items or of a Parquet file's rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Literal, Protocol

from slmconvert.errors import SlmError
from slmconvert.util.tables import iter_table

Log = Callable[[str], None]


class BatchFn(Protocol):
    """A callable class the engine builds once per worker; each call maps a batch to as many results."""

    def __call__(self, batch: list[Any]) -> list[Any]: ...


@dataclass(frozen=True)
class EngineSpec:
    """Which engine, and for Ray which cluster and how many actors."""

    name: Literal["local", "ray"] = "local"
    address: str | None = None
    workers: int | None = None

    @classmethod
    def of(cls, params: Any) -> EngineSpec:
        """From a stage's params (EngineParams fields); local when it has none."""
        return cls(getattr(params, "engine", "local"), getattr(params, "ray_address", None),
                   getattr(params, "ray_workers", None))


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive lists of `size` items (the last may be shorter)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def checked(batch: list[Any], results: list[Any]) -> list[Any]:
    """A batch function's results, refused unless there is exactly one per input."""
    if len(results) != len(batch):
        raise SlmError(f"a batch of {len(batch)} items gave {len(results)} results: calls would be lost",
                       hint="this is a bug in the step's batch function: report it")
    return results


class Engine:
    """Runs batch functions; `local` in this process, `ray` on Ray Data actor pools."""

    def __init__(self, spec: EngineSpec | None = None, log: Log | None = None) -> None:
        self.spec = spec or EngineSpec()
        self.log = log or (lambda message: None)
        self._ray: Any = None

    @property
    def is_local(self) -> bool:
        return self.spec.name == "local"

    def _backend(self) -> Any:
        if self._ray is None:
            from slmconvert.engine.ray_backend import RayBackend

            self._ray = RayBackend(self.spec, self.log)
        return self._ray

    def map_items(self, fn_class: type, items: Sequence[Any], batch_size: int, args: tuple = (),
                  kwargs: dict[str, Any] | None = None, gpu: bool = False) -> Iterator[list[Any]]:
        """fn_class(*args, **kwargs)(batch) over `items` in batches; yields each batch's results, in order.
        gpu: on Ray, each worker holds a GPU where the cluster has them (a model's generation)."""
        if self.is_local:
            return _local(fn_class, chunks(items, batch_size), args, kwargs)
        return self._backend().map_items(fn_class, items, batch_size, args, kwargs or {}, gpu)

    def map_parquet(self, fn_class: type, path: Path, batch_size: int, args: tuple = (),
                    kwargs: dict[str, Any] | None = None) -> Iterator[list[Any]]:
        """Like map_items over the decoded rows of a Parquet file written by util.tables.TableWriter."""
        if self.is_local:
            return _local(fn_class, chunks(iter_table(path), batch_size), args, kwargs)
        return self._backend().map_parquet(fn_class, Path(path), batch_size, args, kwargs or {})

    def pool(self, fn_class: type, args: tuple = (), kwargs: dict[str, Any] | None = None,
             gpu: bool = False) -> WorkerPool:
        """Workers that build fn_class(*args, **kwargs) once and keep it for every `map` until `close`:
        for a step that maps its items a chunk at a time (iterate's sequential test samples), so a
        model is loaded once per worker, not once per chunk. gpu: as for map_items."""
        if self.is_local:
            return LocalPool(fn_class(*args, **(kwargs or {})))
        return self._backend().pool(fn_class, args, kwargs or {}, gpu)

    def device(self, preferred: str = "auto") -> str:
        """The device `preferred` (auto, cpu, cuda) means where gpu=True workers run: here, or on Ray in
        a worker holding a GPU where the cluster has them (a driver without one plans for its workers)."""
        if self.is_local:
            from slmconvert.util.device import pick_device

            return pick_device(preferred)
        return self._backend().device(preferred)


class WorkerPool(Protocol):
    """Built batch functions, kept between maps."""

    def map(self, items: Sequence[Any], batch_size: int) -> Iterator[list[Any]]:
        """Each batch's results, in order."""
        ...

    def close(self) -> None: ...


class LocalPool:
    """The local engine's pool: the one batch function, in this process."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def map(self, items: Sequence[Any], batch_size: int) -> Iterator[list[Any]]:
        return self.map_batches(chunks(items, batch_size))

    def map_batches(self, batches: Iterable[list[Any]]) -> Iterator[list[Any]]:
        for batch in batches:
            yield checked(batch, self.fn(batch))

    def close(self) -> None:
        self.fn = None


def _local(fn_class: type, batches: Iterable[list[Any]], args: tuple,
           kwargs: dict[str, Any] | None) -> Iterator[list[Any]]:
    return LocalPool(fn_class(*args, **(kwargs or {}))).map_batches(batches)


def make_engine(params: Any, log: Log | None = None) -> Engine:
    """The engine a stage's params ask for (local unless engine=ray)."""
    return Engine(EngineSpec.of(params), log)

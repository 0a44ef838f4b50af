"""The engine API on the local engine, the engine params and flags, and that the default path never imports Ray."""

from __future__ import annotations

import subprocess
import sys

import pytest

from slmconvert.cli.common import engine_sets
from slmconvert.config import resolve_params
from slmconvert.engine.base import Engine, EngineSpec, checked
from slmconvert.errors import ConfigError, SlmError
from slmconvert.util.tables import write_table


class Scale:
    """Counts its instances: the engine builds a batch function once, not once per batch."""

    built = 0

    def __init__(self, factor: int) -> None:
        Scale.built += 1
        self.factor = factor

    def __call__(self, batch: list) -> list:
        return [(row["n"] if isinstance(row, dict) else row) * self.factor for row in batch]


def test_local_map_items_keeps_order_and_builds_once():
    Scale.built = 0
    batches = list(Engine().map_items(Scale, list(range(10)), 4, (3,)))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert [x for b in batches for x in b] == [3 * i for i in range(10)]
    assert Scale.built == 1


def test_local_map_parquet_decodes_rows(tmp_path):
    path = tmp_path / "rows.parquet"
    write_table(path, [{"n": i, "nested": {"k": [i]}} for i in range(7)])
    assert [x for b in Engine().map_parquet(Scale, path, 3, (2,)) for x in b] == [2 * i for i in range(7)]


def test_a_batch_function_that_loses_items_fails_the_stage():
    with pytest.raises(SlmError, match="calls would be lost"):
        checked([1, 2, 3], [1, 2])


def test_engine_params_and_flags():
    assert resolve_params("curate").engine == "local"
    sets = engine_sets("ray", "auto")
    assert set(sets) == {f'{stage}.{key}="{value}"' for stage in ("curate", "cluster", "select", "finetune", "iterate")
                         for key, value in (("engine", "ray"), ("ray_address", "auto"))}
    params = resolve_params("cluster", sets=["cluster.engine=local", *sets])
    assert (params.engine, params.ray_address) == ("ray", "auto")  # the flags come after --set: they win
    assert EngineSpec.of(params) == EngineSpec("ray", "auto", None)
    with pytest.raises(ConfigError, match="engine"):
        resolve_params("curate", sets=engine_sets("spark", None))
    assert engine_sets(None, None) == []


def test_the_default_path_never_imports_ray():
    code = ("import sys; import slmconvert.cli.app, slmconvert.curate.pipeline, slmconvert.cluster.pipeline, "
            "slmconvert.router.engine_generator, slmconvert.select.engine, slmconvert.stages.finetune; "
            "from slmconvert.engine.base import Engine; "
            "list(Engine().map_items(lambda: (lambda b: b), [1], 1)); print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False"

"""The engine settings a stage's params carry (curate, cluster, select, finetune and iterate): where
their batch work runs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from slmconvert.params import StageParams

ENGINE_FIELDS = ("engine", "ray_address", "ray_workers")


class EngineParams(StageParams):
    """Mixed into a stage's params: `engine`, `ray_address`, `ray_workers` (set together by --engine)."""

    engine: Literal["local", "ray"] = Field(
        "local", description="Where the stage's batch work runs: local (this process) or ray (a Ray cluster, "
        "`pip install 'slmconvert[ray]'`). Both give the same outputs.",
    )
    ray_address: str | None = Field(
        None, description="Ray cluster to join with engine=ray: 'auto' (the cluster this machine belongs to), "
        "'ray://host:10001', or empty to start a local Ray on this machine.",
    )
    ray_workers: int | None = Field(
        None, ge=1, description="Ray actors per step (each loads its model once); default: one per CPU the "
        "cluster offers.",
    )

"""`slmconvert cluster`: discover the agent's recurring tasks from curated calls."""

from __future__ import annotations

from typing import Annotated

import typer

from slmconvert.cli.common import CommonOptions, command, run_stage_command


def register(app: typer.Typer) -> None:
    @command(app, "cluster", help="Group curated calls into task clusters (signatures, sentence embeddings, "
             "HDBSCAN), label them, split each into train/validation/test, and save the router seed.")
    def cluster(
        opts: CommonOptions,
        min_cluster_size: Annotated[int | None, typer.Option(
            "--min-cluster-size", help="Smallest task worth its own SLM, in calls (default: 1% of calls).")] = None,
        embedding_model: Annotated[str | None, typer.Option(
            "--embedding-model", help="sentence-transformers model id or local path.")] = None,
        seed: Annotated[int | None, typer.Option("--seed", help="Seed for sampling and splits.")] = None,
    ) -> int:
        flags = {"min_cluster_size": min_cluster_size, "embedding_model": embedding_model, "seed": seed}
        run_stage_command("cluster", opts, flags={k: v for k, v in flags.items() if v is not None})
        return 0

"""`slmconvert select`: measure candidate SLMs per cluster and choose one.

No `from __future__ import annotations` here: the command helper reads option metadata from
the live annotations."""

from typing import Annotated

import typer

from slmconvert.cli.common import CommonOptions, command, run_stage_command


def register(app: typer.Typer) -> None:
    @command(app, "select", help="Gate and benchmark candidate SLMs on each cluster's validation split; choose one per cluster.")
    def select(
        opts: CommonOptions,
        candidates: Annotated[
            list[str] | None,
            typer.Option("--candidate", help="Candidate model: alias, local path or Hugging Face id (repeatable; replaces select.candidates)."),
        ] = None,
        budget: Annotated[
            str | None,
            typer.Option("--budget", help="Wall-clock budget the compute gate checks candidates against "
                         "(e.g. 90s, 15m, 2h; default select.budget)."),
        ] = None,
    ) -> int:
        from slmconvert.pipeline.budget import evidence_from_config

        extra: dict = {"candidates": list(candidates)} if candidates else {}
        extra["evidence"] = evidence_from_config(opts.config, opts.sets, "select")
        run_stage_command("select", opts, flags={"budget": budget} if budget else None, extra=extra)
        return 0

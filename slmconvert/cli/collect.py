"""`slmconvert collect`: ingest call logs (the pattern every stage command follows)."""

from __future__ import annotations

from typing import Annotated

import typer

from slmconvert.cli.common import CommonOptions, command, run_stage_command
from slmconvert.errors import BadInputError


def register(app: typer.Typer) -> None:
    @command(app, "collect", help="Ingest LLM call logs (files, directories, globs, .gz) into one normalised dataset.")
    def collect(
        opts: CommonOptions,
        paths: Annotated[list[str], typer.Argument(help="Log files, directories or glob patterns.")],
        append: Annotated[bool, typer.Option("--append", help="Union with the previous collect version's calls.")] = False,
        strict: Annotated[bool, typer.Option("--strict", help="Exit 4 when any input line was rejected.")] = False,
    ) -> int:
        workspace = opts.workspace
        from slmconvert.stages.collect import APPEND_FROM

        roles = {APPEND_FROM: workspace.artifact("collect")} if append and workspace.latest_version("collect") else {}

        def no_rejects(payload: dict) -> None:
            rejects = int(payload["summary"].get("rejects", 0))
            if strict and rejects:
                raise BadInputError(
                    f"{rejects} input record(s) were rejected (--strict)",
                    hint=f"see {payload['path']}/rejects.jsonl",
                )

        run_stage_command("collect", opts, extra={"paths": list(paths)}, check=no_rejects, role_inputs=roles)
        return 0

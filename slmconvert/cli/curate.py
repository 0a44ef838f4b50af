"""`slmconvert curate`: scrub PII/secrets, filter, and build fine-tune-ready records."""

from __future__ import annotations

from typing import Annotated

import typer

from slmconvert.cli.common import CommonOptions, command, run_stage_command


def register(app: typer.Typer) -> None:
    @command(app, "curate", help="Scrub PII and secrets from collected calls (Presidio), filter unfit calls, "
             "and write fine-tune-ready prompt/completion records.")
    def curate(
        opts: CommonOptions,
        placeholder_style: Annotated[str | None, typer.Option(
            "--placeholder-style", help="surrogate (consistent pseudonyms) or typed (<EMAIL_1>).")] = None,
        max_tokens: Annotated[int | None, typer.Option(
            "--max-tokens", help="Filter calls longer than this many tokens.")] = None,
    ) -> int:
        flags = {k: v for k, v in {"placeholder_style": placeholder_style, "max_tokens": max_tokens}.items()
                 if v is not None}
        run_stage_command("curate", opts, flags=flags)
        return 0

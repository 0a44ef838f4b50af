"""`slmconvert config`: the documented defaults, or the effective parameters of one run."""

from __future__ import annotations

from typing import Annotated

import typer
import yaml

from slmconvert.cli.common import CommonOptions, command, print_json
from slmconvert.config import defaults_yaml, resolve_all


def register(app: typer.Typer) -> None:
    @command(app, "config", help="Print every stage's defaults (with help), or the effective params with --effective.")
    def config(
        opts: CommonOptions,
        effective: Annotated[bool, typer.Option("--effective", help="Apply --config and --set and print the result.")] = False,
    ) -> int:
        if not effective:
            typer.echo(defaults_yaml(), nl=False)
            return 0
        params = {stage: p.model_dump(mode="json") for stage, p in resolve_all(opts.config, opts.sets).items()}
        if opts.json:
            print_json(params)
        else:
            typer.echo(yaml.safe_dump(params, sort_keys=True))
        return 0

"""The `slmconvert` command: one module per command registers itself on this Typer app."""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

from slmconvert import __version__
from slmconvert.cli.common import Failure, not_built, print_json

_ARGV = "slmconvert.argv"


class JsonAwareGroup(TyperGroup):
    """Usage errors (unknown option, bad value) still give --json callers their one JSON document."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        ctx.meta[_ARGV] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except typer.TyperException as exc:  # typer's usage errors (its own click copy's ClickException)
            if "--json" in ctx.meta.get(_ARGV, ()):
                message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
                failure = Failure(message, "see `slmconvert COMMAND --help`", int(getattr(exc, "exit_code", 2)))
                print_json(failure.to_json())
            raise


app = typer.Typer(
    cls=JsonAwareGroup,
    name="slmconvert",
    help="Turn the repetitive part of an LLM agent's traffic into fine-tuned small language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)

# (module under slmconvert.cli, command name, one-line help used if the module is missing)
COMMANDS = [
    ("collect", "collect", "Ingest LLM call logs into one normalised dataset."),
    ("curate", "curate", "Scrub PII and secrets, filter, and build fine-tune-ready data."),
    ("cluster", "cluster", "Discover the agent's recurring tasks by clustering calls."),
    ("select", "select", "Benchmark candidate SLMs per cluster and choose one."),
    ("finetune", "finetune", "LoRA/QLoRA-tune a specialist per cluster."),
    ("iterate", "iterate", "Evaluate specialists, promote clusters, build the router and report."),
    ("run_all", "run-all", "Run every stage in order on new logs."),
    ("route", "route", "Show where calls would be routed, and why."),
    ("export", "export", "Export adapters, router config and a vLLM launch command."),
    ("serve", "serve", "Serve an OpenAI-compatible gateway that routes live traffic."),
    ("models", "models", "List the model registry and cache."),
    ("status", "status", "Show each stage's versions, lineage and headline metrics."),
    ("purge_raw", "purge-raw", "Delete the raw calls of collect versions already curated."),
    ("env", "env", "Print versions and device information for bug reports."),
    ("config", "config", "Show default or effective configuration."),
]


def _register_all() -> None:
    for module_name, command_name, help_text in COMMANDS:
        try:
            module = importlib.import_module(f"slmconvert.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"slmconvert.cli.{module_name}":
                raise
            not_built(app, command_name, help_text)
            continue
        module.register(app)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"slmconvert {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True, help="Print the version."),
) -> None:
    """slmconvert: from LLM call logs to small specialised models."""


_register_all()


def main() -> None:
    """Console-script entry point."""
    app()

"""Options every command shares, error-to-exit-code mapping, and the generic stage runner."""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
import traceback
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from slmconvert.errors import SlmError
from slmconvert.util.chatter import quiet_libraries
from slmconvert.workspace import Workspace, default_workdir

EXIT_INTERRUPTED = 130
WIDE_OUTPUT = 160


@dataclass
class CommonOptions:
    """The options of ARCHITECTURE.md's CLI conventions, parsed."""

    workdir: Path | None = None
    config: Path | None = None
    sets: list[str] = field(default_factory=list)
    json: bool = False
    force: bool = False
    quiet: bool = False
    verbose: bool = False
    inputs: list[str] = field(default_factory=list)

    @property
    def workspace(self) -> Workspace:
        return Workspace(default_workdir(self.workdir))

    @property
    def console(self) -> Console:
        """Human output goes to stderr so that --json keeps stdout machine-readable.

        Off a terminal (cron mail, CI logs) tables get $COLUMNS or 160 columns instead of rich's 80.
        """
        width = None if sys.stderr.isatty() else int(os.environ.get("COLUMNS") or 0) or WIDE_OUTPUT
        return Console(stderr=True, quiet=self.quiet and not self.verbose, width=width)

    @property
    def silent(self) -> bool:
        """No progress bars or chatter (with --quiet, or --json without --verbose)."""
        return self.quiet or (self.json and not self.verbose)


_COMMON_PARAMETERS = [
    inspect.Parameter(
        "workdir", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[Path | None, typer.Option("--workdir", "-w", help="Workspace directory (else $SLMCONVERT_WORKDIR, else ./slmconvert-work).", show_default=False)],
    ),
    inspect.Parameter(
        "config", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[Path | None, typer.Option("--config", "-c", help="YAML config file (sections per stage).")],
    ),
    inspect.Parameter(
        "sets", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[list[str] | None, typer.Option("--set", help="Override a parameter: stage.key=value (repeatable).")],
    ),
    inspect.Parameter(
        "inputs", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[list[str] | None, typer.Option("--input", help="Pin an upstream artifact: STAGE@VERSION (repeatable).")],
    ),
    inspect.Parameter(
        "json_output", inspect.Parameter.KEYWORD_ONLY, default=False,
        annotation=Annotated[bool, typer.Option("--json", help="Print one JSON summary on stdout.")],
    ),
    inspect.Parameter(
        "force", inspect.Parameter.KEYWORD_ONLY, default=False,
        annotation=Annotated[bool, typer.Option("--force", help="Rerun even if inputs and params are unchanged.")],
    ),
    inspect.Parameter(
        "quiet", inspect.Parameter.KEYWORD_ONLY, default=False,
        annotation=Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")],
    ),
    inspect.Parameter(
        "verbose", inspect.Parameter.KEYWORD_ONLY, default=False,
        annotation=Annotated[bool, typer.Option("--verbose", "-v", help="More detail; tracebacks on errors.")],
    ),
]
_COMMON_NAMES = {p.name for p in _COMMON_PARAMETERS}


def handle_errors(verbose: bool, console: Console | None = None) -> Callable[[Callable[[], int | None]], int]:
    """Run a body, turning library errors into one clean message and an exit code."""
    err = console or Console(stderr=True)

    def run(body: Callable[[], int | None]) -> int:
        try:
            return body() or 0
        except SlmError as exc:
            if verbose:
                err.print(traceback.format_exc(), markup=False, highlight=False)
            err.print(f"[bold red]error:[/bold red] {exc.message}", highlight=False)
            if exc.hint:
                err.print(f"  [yellow]hint:[/yellow] {exc.hint}", highlight=False)
            return exc.exit_code
        except KeyboardInterrupt:
            err.print("[bold red]interrupted[/bold red]")
            return EXIT_INTERRUPTED
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence for users
            if verbose:
                err.print(traceback.format_exc(), markup=False, highlight=False)
            err.print(f"[bold red]unexpected error:[/bold red] {type(exc).__name__}: {exc}", highlight=False)
            if not verbose:
                err.print("  [yellow]hint:[/yellow] rerun with --verbose for the traceback, and report it")
            return 1

    return run


def command(app: typer.Typer, name: str, **kwargs: Any) -> Callable[[Callable[..., int | None]], Callable[..., None]]:
    """Register `fn(opts: CommonOptions, ...own options)` as a command that also takes the common options."""

    def decorate(fn: Callable[..., int | None]) -> Callable[..., None]:
        try:  # resolve postponed (string) annotations so Typer sees each option's help
            hints = typing.get_type_hints(fn, include_extras=True)
        except NameError:
            hints = {}
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(fn).parameters.values()
            if p.name != "opts"
        ]

        @functools.wraps(fn)
        def wrapper(**values: Any) -> None:
            opts = CommonOptions(
                workdir=values.pop("workdir"),
                config=values.pop("config"),
                sets=values.pop("sets") or [],
                inputs=values.pop("inputs") or [],
                json=values.pop("json_output"),
                force=values.pop("force"),
                quiet=values.pop("quiet"),
                verbose=values.pop("verbose"),
            )
            quiet_libraries(opts.verbose)
            code = handle_errors(opts.verbose)(lambda: fn(opts, **values))
            if code:
                raise typer.Exit(code)

        params = own + [p for p in _COMMON_PARAMETERS if p.name not in {q.name for q in own}]
        wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        del wrapper.__wrapped__
        app.command(name, **kwargs)(wrapper)
        return wrapper

    return decorate


def print_json(payload: Any) -> None:
    """The one machine-readable JSON document on stdout."""
    sys.stdout.write(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


def run_stage_command(
    stage: str,
    opts: CommonOptions,
    flags: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Resolve params, run (or reuse) the stage, print its summary; returns the JSON payload."""
    from slmconvert.config import resolve_params
    from slmconvert.stages.runner import execute, load_stage, parse_pins

    params = resolve_params(stage, opts.config, opts.sets, flags)
    workspace = opts.workspace
    console = opts.console
    outcome = execute(
        stage, workspace, params, pins=parse_pins(opts.inputs), extra=extra, force=opts.force,
        console=console, quiet=opts.silent, verbose=opts.verbose,
    )
    payload = {
        "stage": stage,
        "version": outcome.artifact.version,
        "path": str(outcome.artifact.path),
        "skipped": outcome.skipped,
        "metrics": outcome.artifact.metrics,
        "summary": outcome.summary,
    }
    if opts.json:
        print_json(payload)
    elif not opts.quiet:
        load_stage(stage).render(outcome.summary, console)
        state = "unchanged" if outcome.skipped else "written"
        console.print(f"[green]{stage}[/green] {outcome.artifact.version} {state}: {outcome.artifact.path}")
    return payload


def not_built(app: typer.Typer, name: str, help_text: str) -> None:
    """Register a command whose implementation is missing: it says so and exits 1."""

    @command(app, name, help=f"{help_text} (not available in this build)")
    def _missing(opts: CommonOptions) -> int:
        Console(stderr=True).print(f"[bold red]error:[/bold red] `slmconvert {name}` is not built in this version")
        return 1

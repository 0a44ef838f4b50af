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

from slmconvert.cli.safe import plain_text, safe_text, safe_tree
from slmconvert.errors import SlmError, environment_problem
from slmconvert.util.chatter import quiet_libraries
from slmconvert.util.memory import bound_onednn_cache
from slmconvert.util.threads import prefer_brief_spinning
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
        "engine", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[str | None, typer.Option("--engine", help="Where scrubbing, embedding, select's and iterate's generation and finetune's training run: local or ray (sets each stage's engine).", show_default=False)],
    ),
    inspect.Parameter(
        "ray_address", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[str | None, typer.Option("--ray-address", help="Ray cluster for --engine ray: auto, ray://host:10001 (default: a local Ray).", show_default=False)],
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


@dataclass
class Failure:
    """How a failed command ends: what went wrong, what to do next, and its exit code."""

    message: str
    hint: str | None
    exit_code: int
    unexpected: bool = False

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        """SlmError as it is; disk full / read-only / permission OSErrors as EnvironmentProblem; else a bug."""
        if isinstance(exc, KeyboardInterrupt):
            return cls("interrupted", None, EXIT_INTERRUPTED)
        known = exc if isinstance(exc, SlmError) else environment_problem(exc)
        if known is not None:
            return cls(known.message, known.hint, known.exit_code)
        return cls(f"{type(exc).__name__}: {exc}", "rerun with --verbose for the traceback, and report it", 1,
                   unexpected=True)

    def to_json(self) -> dict[str, Any]:
        return {"ok": False, "error": self.message, "hint": self.hint, "exit_code": self.exit_code}


def report_failure(failure: Failure, opts: CommonOptions, name: str) -> None:
    """--json: the failure document on stdout; --quiet: exactly one line on stderr (cron mails it); else Rich."""
    if opts.json:
        print_json(failure.to_json())
    if opts.quiet and not opts.verbose:
        prefix = "unexpected " if failure.unexpected else ""
        sys.stderr.write(f"slmconvert {name}: {prefix}{plain_text(failure.message)}\n")
        return
    err = opts.console  # not quiet here: stderr, wide off a terminal
    label = "unexpected error" if failure.unexpected else "error"
    if failure.exit_code == EXIT_INTERRUPTED:
        err.print("[bold red]interrupted[/bold red]")
        return
    err.print(f"[bold red]{label}:[/bold red] {safe_text(failure.message, keep_newlines=True)}", highlight=False)
    if failure.hint and not (opts.verbose and failure.unexpected):
        err.print(f"  [yellow]hint:[/yellow] {safe_text(failure.hint, keep_newlines=True)}", highlight=False)


def handle_errors(opts: CommonOptions, name: str) -> Callable[[Callable[[], int | None]], int]:
    """Run a command body; any failure becomes one clean report (see report_failure) and an exit code."""

    def run(body: Callable[[], int | None]) -> int:
        try:
            return body() or 0
        except (typer.Exit, typer.Abort):
            raise
        except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - the last line of defence for users
            if opts.verbose and not isinstance(exc, KeyboardInterrupt):
                Console(stderr=True).print(traceback.format_exc(), markup=False, highlight=False)
            failure = Failure.of(exc)
            report_failure(failure, opts, name)
            return failure.exit_code

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
                sets=(values.pop("sets") or []) + engine_sets(values.pop("engine"), values.pop("ray_address")),
                inputs=values.pop("inputs") or [],
                json=values.pop("json_output"),
                force=values.pop("force"),
                quiet=values.pop("quiet"),
                verbose=values.pop("verbose"),
            )
            quiet_libraries(opts.verbose)
            prefer_brief_spinning()  # before torch loads: OpenMP workers spin briefly, then sleep
            bound_onednn_cache()  # before the first bf16 matrix product: a bounded primitive cache
            code = handle_errors(opts, name)(lambda: fn(opts, **values))
            if code:
                raise typer.Exit(code)

        params = own + [p for p in _COMMON_PARAMETERS if p.name not in {q.name for q in own}]
        wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        del wrapper.__wrapped__
        app.command(name, **kwargs)(wrapper)
        return wrapper

    return decorate


def engine_sets(engine: str | None, ray_address: str | None) -> list[str]:
    """--engine/--ray-address as `--set stage.key=value` for every stage whose params have the fields
    (after the user's --set, so the flags win, as flags do)."""
    if engine is None and ray_address is None:
        return []
    from slmconvert.config import params_class
    from slmconvert.workspace import STAGES

    values = {"engine": engine, "ray_address": ray_address}
    return [f"{stage}.{key}={json.dumps(value)}" for stage in STAGES for key, value in values.items()
            if value is not None and key in params_class(stage).model_fields]


def print_json(payload: Any) -> None:
    """The one machine-readable JSON document on stdout (a dict gets "ok": true unless it says otherwise)."""
    if isinstance(payload, dict):
        payload = {"ok": True, **payload}
    sys.stdout.write(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


def run_stage_command(
    stage: str,
    opts: CommonOptions,
    flags: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    check: Callable[[dict[str, Any]], None] | None = None,
    role_inputs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Resolve params, run (or reuse) the stage, print its summary; returns the JSON payload.

    `check(payload)` may raise an SlmError after the summary is shown (e.g. --strict): with --json
    the failure document then replaces the success one, so stdout stays one JSON document.
    """
    from slmconvert.config import resolve_params
    from slmconvert.stages.runner import execute, load_stage, parse_pins

    params = resolve_params(stage, opts.config, opts.sets, flags)
    workspace = opts.workspace
    console = opts.console
    outcome = execute(
        stage, workspace, params, pins=parse_pins(opts.inputs), extra=extra, force=opts.force,
        console=console, quiet=opts.silent, verbose=opts.verbose, role_inputs=role_inputs,
    )
    payload = {
        "stage": stage,
        "version": outcome.artifact.version,
        "path": str(outcome.artifact.path),
        "skipped": outcome.skipped,
        "metrics": outcome.artifact.metrics,
        # A stage whose summary holds raw log values (collect) says what of it may be printed.
        "summary": getattr(load_stage(stage), "console_summary", dict)(outcome.summary),
    }
    if not opts.json and not opts.quiet:
        load_stage(stage).render(safe_tree(outcome.summary), console)
        state = "unchanged" if outcome.skipped else "written"
        console.print(f"[green]{stage}[/green] {outcome.artifact.version} {state}: {safe_text(outcome.artifact.path)}")
    if check is not None:
        check(payload)
    if opts.json:
        print_json(payload)
    return payload


def not_built(app: typer.Typer, name: str, help_text: str) -> None:
    """Register a command whose implementation is missing: it says so and exits 1."""

    @command(app, name, help=f"{help_text} (not available in this build)")
    def _missing(opts: CommonOptions) -> int:
        raise SlmError(f"`slmconvert {name}` is not built in this version")

"""What a stage receives (StageContext) and returns (StageResult)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from slmconvert.params import StageParams
from slmconvert.workspace import Artifact, Workspace


@dataclass
class StageResult:
    """Headline metrics (go into the manifest) and a JSON-able summary (for --json and tables)."""

    metrics: dict[str, Any]
    summary: dict[str, Any]


@dataclass
class StageContext:
    """Everything a stage's run() may use; it writes only into out_dir (and workspace caches)."""

    workspace: Workspace
    out_dir: Path
    params: StageParams
    inputs: dict[str, Artifact]
    extra: dict[str, Any] = field(default_factory=dict)
    console: Console = field(default_factory=lambda: Console(stderr=True))
    quiet: bool = False
    verbose: bool = False
    version: str = ""  # the version id this run will publish as

    def log(self, message: str) -> None:
        """One human line on stderr (suppressed by --quiet / --json)."""
        if not self.quiet:
            self.console.print(message)

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
        """A rich progress bar on stderr; yields advance(n). Silent when quiet."""
        if self.quiet:
            yield lambda n=1: None
            return
        columns = [
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=self.console, transient=False) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n=1: bar.advance(task, n)

"""A rich progress bar per cluster while training: step, loss, tokens/s, validation metric, ETA."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from transformers import TrainerCallback

from slmconvert.finetune.trainer import TASK_KEY, TokenMeter


class RichProgress(TrainerCallback):
    """Drives one progress bar from the Trainer's events (silent when quiet)."""

    def __init__(self, console: Console, description: str, meter: TokenMeter, quiet: bool = False) -> None:
        self.console = console
        self.description = description
        self.meter = meter
        self.quiet = quiet
        self.loss: float | None = None
        self.metric: float | None = None
        self._bar: Progress | None = None
        self._task: Any = None

    def _status(self) -> str:
        parts = [f"loss {self.loss:.3f}" if self.loss is not None else "loss -"]
        parts.append(f"{self.meter.tokens_per_second:,.0f} tok/s")
        if self.metric is not None:
            parts.append(f"val {self.metric:.3f}")
        return " · ".join(parts)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.quiet:
            return
        self._bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=self.console, transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task(self.description, total=state.max_steps, completed=state.global_step,
                                        status=self._status())

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=state.global_step, status=self._status())

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        logs = logs or {}
        if "loss" in logs:
            self.loss = float(logs["loss"])
        if f"eval_{TASK_KEY}" in logs:
            self.metric = float(logs[f"eval_{TASK_KEY}"])
        if self._bar is not None:
            self._bar.update(self._task, status=self._status())

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=state.global_step, status=self._status())
            self._bar.stop()
            self._bar = None

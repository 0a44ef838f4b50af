"""The model stages of a pipeline run each run in a fresh process of their own.

run-all and the weekly loop chain stages in one process, and a stage that trains a model leaves
that process slower: iterate generated its evidence 1.2x slower right after a fine-tuning run in
the same process than in a fresh one (same adapter, same calls, one core of a 2-vCPU Intel Xeon
with AMX; the kernels themselves ran slower, the KV cache's concatenations by 44%), and inside
run-all it ran at 1.3-2.5x the price finetune's probe had measured, past the wall-clock budget.
The heap a training run fragmented also stayed with the process. A child process per model stage
runs at the speed the budget plan measured and gives all of its memory back when it ends.

The parent holds the workspace lock for its child; the child quiets the libraries as the CLI did,
builds its own console on the same stderr and sends back the stage's outcome, or the exception that ended it. A child whose parent
dies (killed by cron's timeout, say) is stopped by the kernel (Linux): it must not go on writing to
a workspace whose lock went with its parent; what it leaves is an unpublished temp directory, which
the next run removes.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from rich.console import Console

from slmconvert.errors import SlmError
from slmconvert.params import StageParams
from slmconvert.stages import runner
from slmconvert.stages.runner import StageOutcome
from slmconvert.util.chatter import quiet_libraries
from slmconvert.util.memory import bound_onednn_cache
from slmconvert.workspace import Workspace

OWN_PROCESS_STAGES = frozenset({"finetune", "iterate"})  # the stages that train or generate with a language model


def execute(stage_name: str, workspace: Workspace, params: StageParams, *, console: Console | None = None,
            **kwargs: Any) -> StageOutcome:
    """`runner.execute`, in a child process for the stages in OWN_PROCESS_STAGES (same arguments)."""
    console = console or Console(stderr=True)
    if stage_name not in OWN_PROCESS_STAGES:
        return runner.execute(stage_name, workspace, params, console=console, **kwargs)
    with workspace.lock(f"slmconvert {stage_name}"), \
            ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        future = pool.submit(_execute_in_child, stage_name, str(workspace.root), params, kwargs,
                             console.quiet, console.width, os.getpid())
        try:
            return future.result()
        except BrokenProcessPool as exc:
            raise SlmError(f"the {stage_name} process ended without a result (killed, or out of memory)",
                           hint=f"run `slmconvert {stage_name} --verbose` on its own to see where it stops") from exc


def _execute_in_child(stage_name: str, root: str, params: StageParams, kwargs: dict[str, Any],
                      quiet: bool, width: int, parent: int) -> StageOutcome:
    stop_with_parent(parent)
    quiet_libraries(bool(kwargs.get("verbose")))  # warning filters and log levels do not cross a spawn
    bound_onednn_cache()  # inherited from a CLI parent; set here for a parent that is a user's script
    workspace = Workspace(root)
    workspace.held_by_parent()
    console = Console(stderr=True, quiet=quiet, width=width)
    return runner.execute(stage_name, workspace, params, console=console, **kwargs)


PR_SET_PDEATHSIG = 1  # prctl option: the signal this process gets when its parent dies


def stop_with_parent(parent: int) -> bool:
    """Have the kernel send this process SIGTERM when `parent` dies (Linux; False elsewhere); exit at
    once if it died already."""
    try:
        armed = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM) == 0
    except (OSError, AttributeError):  # not Linux
        armed = False
    if os.getppid() != parent:
        os._exit(1)
    return armed

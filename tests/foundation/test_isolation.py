"""Model stages of a pipeline run in a fresh child process; errors and the workspace lock cross over."""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest
from rich.console import Console

from slmconvert.config import resolve_all
from slmconvert.errors import MissingArtifactError, SlmError, UsageError
from slmconvert.pipeline import isolation
from slmconvert.workspace import Workspace


def _missing_upstream(stage: str, tmp_path) -> MissingArtifactError:
    workspace = Workspace(tmp_path / "work")
    with pytest.raises(MissingArtifactError) as info:
        isolation.execute(stage, workspace, resolve_all()[stage], console=Console(stderr=True, quiet=True))
    return info.value


def test_a_model_stage_runs_in_a_child_that_shares_the_parents_lock(tmp_path):
    """iterate runs in another process (the error comes back with the child's traceback), inside the
    lock the parent holds (else the child would fail on the lock before it saw the missing upstream)."""
    error = _missing_upstream("iterate", tmp_path)
    assert type(error.__cause__).__name__ == "_RemoteTraceback"
    assert error.hint and error.hint in str(error)  # the hint crossed the process boundary
    assert not (tmp_path / "work" / ".lock").read_text()  # and the parent released the lock afterwards


def test_other_stages_run_in_this_process(tmp_path):
    error = _missing_upstream("cluster", tmp_path)
    assert type(error.__cause__).__name__ != "_RemoteTraceback"


def test_errors_keep_their_class_and_hint_through_pickling():
    error = pickle.loads(pickle.dumps(UsageError("bad flag", hint="use --x")))
    assert type(error) is UsageError and error.hint == "use --x" and str(error) == "bad flag\n  hint: use --x"
    assert isinstance(error, SlmError)


def test_a_child_that_dies_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(isolation, "_execute_in_child", _die)
    with pytest.raises(SlmError, match="finetune process ended without a result"):
        isolation.execute("finetune", Workspace(tmp_path / "work"), resolve_all()["finetune"],
                          console=Console(stderr=True, quiet=True))


def _die(*args, **kwargs):
    import os

    os._exit(9)


def test_a_child_stops_when_its_parent_is_killed(tmp_path):
    """The parent of a stage's process killed (-9): the child must not go on writing to the workspace."""
    import os
    import signal
    import subprocess
    import sys
    import time

    pid_file = tmp_path / "child.pid"
    script = (
        "import multiprocessing, sys, time\n"
        "from tests.foundation.test_isolation import _sleep_after_arming\n"
        "if __name__ == '__main__':\n"
        "    p = multiprocessing.get_context('spawn').Process(target=_sleep_after_arming, "
        f"args=({str(pid_file)!r}, __import__('os').getpid()))\n"
        "    p.start(); time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=os.getcwd())
    try:
        deadline = time.time() + 60
        while not pid_file.exists() and time.time() < deadline:
            time.sleep(0.1)
        child = int(pid_file.read_text())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.time() + 10
        while _alive(child) and time.time() < deadline:
            time.sleep(0.1)
        assert not _alive(child)
    finally:
        parent.kill()


def _sleep_after_arming(pid_file: str, parent: int) -> None:
    import time
    from pathlib import Path

    assert isolation.stop_with_parent(parent)
    Path(pid_file).write_text(str(__import__("os").getpid()))
    time.sleep(120)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _library_log_level_after_a_stage(root: str, parent: int) -> int:
    """In a fresh child: run a stage as run-all's child does (it fails: no upstream), then report
    how loud transformers may be."""
    try:
        isolation._execute_in_child("iterate", root, resolve_all()["iterate"], {"quiet": True}, True, 80, parent)
    except SlmError:
        pass
    return logging.getLogger("transformers").level


def test_the_child_quiets_the_libraries_as_the_cli_did(tmp_path):
    """Warning filters and log levels do not cross a spawn: without quieting, a child's run-all printed
    transformers' deprecation warnings and the kernels library's Hub notices."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        level = pool.submit(_library_log_level_after_a_stage, str(tmp_path / "work"), os.getpid()).result()
    assert level == logging.ERROR

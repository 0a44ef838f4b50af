"""Model stages of a pipeline run in a fresh child process; errors and the workspace lock cross over."""

from __future__ import annotations

import pickle

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

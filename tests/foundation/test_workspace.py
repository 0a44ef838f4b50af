from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time

import pytest

from slmconvert.errors import MissingArtifactError, WorkspaceLockedError
from slmconvert.stages import runner
from slmconvert.stages.runner import TIME_FIELDS, execute
from slmconvert.workspace import Workspace
from tests.foundation import toy_stage


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setattr(runner, "load_stage", lambda name: toy_stage)
    toy_stage.calls.clear()
    return toy_stage


def _run(ws, **kw):
    params = toy_stage.ToyParams(**kw.pop("params", {}))
    return execute("collect", ws, params, quiet=True, **kw)


def test_publish_writes_manifest_and_latest(tmp_path, toy):
    ws = Workspace(tmp_path / "ws")
    outcome = _run(ws, extra={"text": "abc"})
    art = outcome.artifact
    assert ws.latest_version("collect") == art.version
    assert (art.path / "out.txt").read_text() == "abc"
    manifest = json.loads((art.path / "manifest.json").read_text())
    assert manifest["stage"] == "collect" and manifest["metrics"] == {"chars": 3}
    assert manifest["params_hash"].startswith("sha256:")
    paths = [o["path"] for o in manifest["outputs"]]
    assert paths == sorted(paths) and "out.txt" in paths
    assert list(manifest) == sorted(manifest), "manifest keys must be sorted (canonical JSON)"


def test_unchanged_inputs_skip_and_force_reruns(tmp_path, toy):
    ws = Workspace(tmp_path / "ws")
    first = _run(ws, extra={"text": "abc"})
    second = _run(ws, extra={"text": "abc"})
    assert second.skipped and second.artifact.version == first.artifact.version
    assert len(toy.calls) == 1
    third = _run(ws, extra={"text": "abc"}, force=True)
    assert not third.skipped and third.artifact.version != first.artifact.version
    changed = _run(ws, extra={"text": "abc"}, params={"repeat": 2})
    assert not changed.skipped and (changed.artifact.path / "out.txt").read_text() == "abcabc"
    assert len(ws.versions("collect")) == 3


def test_derived_inputs_join_the_manifest_and_the_fingerprint(tmp_path, toy, monkeypatch):
    """A stage's `derived_inputs` hook (iterate's previous iteration) is a declared input: in the
    manifest (so `status` shows it) and in the fingerprint (a different one is a new run)."""
    ws = Workspace(tmp_path / "ws")
    first, other = _run(ws, extra={"text": "a"}).artifact, _run(ws, extra={"text": "b"}).artifact
    found = {"earlier": first}
    monkeypatch.setattr(toy, "derived_inputs", lambda workspace, inputs: dict(found), raising=False)
    with_first = _run(ws, extra={"text": "c"})
    assert with_first.artifact.manifest["inputs"]["earlier"]["version"] == first.version
    assert _run(ws, extra={"text": "c"}).skipped
    found["earlier"] = other
    assert not _run(ws, extra={"text": "c"}).skipped
    found["collect"] = other  # a role may not shadow a stage's own input
    with pytest.raises(ValueError, match="collect"):
        _run(ws, extra={"text": "c"})


def test_manifest_deterministic_apart_from_time_fields(tmp_path, toy):
    ws_a, ws_b = Workspace(tmp_path / "a"), Workspace(tmp_path / "b")
    ma = _run(ws_a, extra={"text": "same"}).artifact.manifest
    mb = _run(ws_b, extra={"text": "same"}).artifact.manifest
    for field in TIME_FIELDS:
        ma.pop(field), mb.pop(field)
    assert json.dumps(ma, sort_keys=True) == json.dumps(mb, sort_keys=True)


def test_failed_run_leaves_no_version(tmp_path, toy):
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(RuntimeError):
        _run(ws, extra={"text": "abc", "fail": True})
    assert ws.versions("collect") == []
    assert ws.latest_version("collect") is None
    assert not any(p.name.startswith(".tmp-") for p in (tmp_path / "ws" / "collect").iterdir())


def _run_in_child(root: str) -> None:
    from slmconvert.stages import runner as r
    from tests.foundation import toy_stage as t

    r.load_stage = lambda name: t
    execute("collect", Workspace(root), t.ToyParams(), extra={"text": "x", "sleep": 30}, quiet=True)


def test_killed_run_leaves_no_version_and_next_run_cleans_up(tmp_path, toy):
    root = tmp_path / "ws"
    child = multiprocessing.get_context("fork").Process(target=_run_in_child, args=(str(root),))
    child.start()
    deadline = time.time() + 20
    while time.time() < deadline and not list((root / "collect").glob(".tmp-*/partial.txt")):
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    ws = Workspace(root)
    assert ws.versions("collect") == [] and ws.latest_version("collect") is None
    assert list((root / "collect").glob(".tmp-*")), "the killed run's temp dir is the only trace"
    _run(ws, extra={"text": "ok"})
    assert not list((root / "collect").glob(".tmp-*"))
    assert len(ws.versions("collect")) == 1


def test_second_writer_is_refused(tmp_path):
    ws = Workspace(tmp_path / "ws")
    other = Workspace(tmp_path / "ws")
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()

    def hold() -> None:
        with other.lock("test holder"):
            ready.set()
            release.wait(20)

    child = ctx.Process(target=hold)
    child.start()
    assert ready.wait(20)
    try:
        with pytest.raises(WorkspaceLockedError) as info:
            with ws.lock():
                pass
        assert "test holder" in str(info.value) and info.value.exit_code == 6
    finally:
        release.set()
        child.join()
    with ws.lock():  # free again once the holder exits
        with ws.lock():  # and re-entrant within one process
            pass


def test_missing_artifact_and_pins(tmp_path, toy):
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(MissingArtifactError) as info:
        ws.artifact("curate")
    assert info.value.exit_code == 5 and "slmconvert curate" in info.value.hint
    first = _run(ws, extra={"text": "a"}).artifact
    _run(ws, extra={"text": "b"})
    assert ws.artifact("collect", first.version).version == first.version
    with pytest.raises(MissingArtifactError):
        ws.artifact("collect", "nope")


def test_secret_key_is_stable_private_and_outside_artifacts(tmp_path):
    ws = Workspace(tmp_path / "ws")
    key = ws.secret_key("curate")
    assert len(key) == 32 and ws.secret_key("curate") == key
    path = tmp_path / "ws" / ".keys" / "curate.key"
    assert oct(path.stat().st_mode & 0o777) == "0o600"

"""Raw data is owner-only on disk, and can be dropped once curated (curate.drop_raw, purge-raw)."""

from __future__ import annotations

import json
import os
import stat

import pytest
from rich.console import Console
from typer.testing import CliRunner

from slmconvert.cli.app import app
from slmconvert.collect.params import CollectParams
from slmconvert.curate.params import CurateParams
from slmconvert.errors import MissingArtifactError
from slmconvert.stages.runner import execute
from slmconvert.workspace import PURGED, Workspace
from tests.foundation.test_safe_output import _call

QUIET = {"console": Console(stderr=True, quiet=True), "quiet": True}
RAW = {"calls.parquet", "rejects.jsonl"}


@pytest.fixture
def loose_umask():
    """A umask that would make files world-readable, as on most desktops."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _logs(tmp_path, n: int = 3):
    path = tmp_path / "logs.jsonl"
    lines = [json.dumps(_call(f"support-{i}", "gpt-4o-mini")).replace("What is", f"Q{i}: what is") for i in range(n)]
    path.write_text("\n".join(lines) + "\n{not json}\n")  # one reject, so rejects.jsonl exists
    return path


def _collect(ws: Workspace, logs, **extra):
    return execute("collect", ws, CollectParams(), extra={"paths": [str(logs)], **extra}, **QUIET).artifact


def _modes(root) -> dict[str, int]:
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = stat.S_IMODE(os.lstat(path).st_mode)
    return found


def test_every_file_and_directory_is_owner_only(tmp_path, loose_umask):
    ws = Workspace(tmp_path / "work")
    collect = _collect(ws, _logs(tmp_path))
    execute("curate", ws, CurateParams(), **QUIET)
    assert RAW <= {p.name for p in collect.path.iterdir()}
    modes = _modes(ws.root)
    assert any(p.startswith(".cache") for p in modes) and any(p.startswith(".keys") for p in modes)
    loose = {p: oct(m) for p, m in modes.items() if m & 0o077}
    assert loose == {}, f"group/other can read: {loose}"
    assert stat.S_IMODE(ws.root.stat().st_mode) == 0o700
    assert os.umask(0o022) == 0o022, "the writer's umask is restored after the run"


def test_an_old_world_readable_workspace_is_locked_down_by_the_next_run(tmp_path, loose_umask):
    ws = Workspace(tmp_path / "work")
    collect = _collect(ws, _logs(tmp_path))
    os.chmod(ws.stage_dir("collect"), 0o755)
    with ws.lock():
        pass
    assert stat.S_IMODE(ws.stage_dir("collect").stat().st_mode) == 0o700
    assert stat.S_IMODE(collect.path.stat().st_mode) == 0o700


def test_drop_raw_purges_the_collect_version_curate_read(tmp_path):
    ws = Workspace(tmp_path / "work")
    logs = _logs(tmp_path)
    collect = _collect(ws, logs)
    curate = execute("curate", ws, CurateParams(drop_raw=True), **QUIET).artifact
    assert not RAW & {p.name for p in collect.path.iterdir()}
    marker = json.loads((collect.path / PURGED).read_text())
    assert sorted(marker["files"]) == sorted(RAW) and marker["by"] == curate.ref
    assert (curate.path / "curated.parquet").is_file()
    with pytest.raises(MissingArtifactError, match="raw calls were purged after curate@"):
        ws.artifact("collect").file("calls.parquet")

    cli = CliRunner()
    work = ["--workdir", str(ws.root)]
    again = cli.invoke(app, ["curate", *work, "--force", "--json"])
    assert again.exit_code == 5 and "Traceback" not in again.output
    assert "raw calls were purged" in json.loads(again.stdout)["error"]
    append = cli.invoke(app, ["collect", str(logs), "--append", *work, "--force"])
    said = " ".join(append.stderr.split())
    assert append.exit_code == 5 and "raw calls were purged" in said and "recollect" in said
    status = json.loads(cli.invoke(app, ["status", *work, "--json"]).stdout)
    assert status["stages"]["collect"]["versions"][0]["purged"]["files"] == sorted(RAW)
    assert "purged: calls.parquet" in cli.invoke(app, ["status", *work], env={"COLUMNS": "250"}).stderr


def test_purge_raw_command_purges_curated_versions_only(tmp_path):
    ws = Workspace(tmp_path / "work")
    first = _collect(ws, _logs(tmp_path))
    execute("curate", ws, CurateParams(), **QUIET)
    second = _collect(ws, _logs(tmp_path, 4))  # not curated yet: kept
    cli = CliRunner()
    result = cli.invoke(app, ["purge-raw", "--workdir", str(ws.root), "--json"])
    assert result.exit_code == 0, result.output
    purged = json.loads(result.stdout)["purged"]
    assert [p["collect"] for p in purged] == [first.version] and sorted(purged[0]["files"]) == sorted(RAW)
    assert RAW <= {p.name for p in second.path.iterdir()}

    execute("curate", ws, CurateParams(), **QUIET)  # now the second is curated, and LATEST
    kept = json.loads(cli.invoke(app, ["purge-raw", "--workdir", str(ws.root), "--json", "--keep-latest"]).stdout)
    assert kept["purged"] == [] and RAW <= {p.name for p in second.path.iterdir()}
    done = json.loads(cli.invoke(app, ["purge-raw", "--workdir", str(ws.root), "--json"]).stdout)
    assert [p["collect"] for p in done["purged"]] == [second.version]

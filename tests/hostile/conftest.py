"""Run collect -> curate -> cluster (and status) once on the hostile inputs, as a user would.

Each command runs as its own process with `--verbose`, so everything it prints (Rich tables,
library warnings, progress, tracebacks) is captured. The workspace, the model cache, HOME and
XDG caches and TMPDIR all live in the test's temporary directory, so every cache the run writes is scanned.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.hostile.build import HostileInputs, build
from tests.hostile.scan import SKIPPED_TOP, Leak, find_leaks, tree_views

MIN_CLUSTER_SIZE = 5  # small, so the hostile calls form clusters of their own (labels quote their text)
TIMEOUT_S = 600


@dataclass
class Command:
    name: str
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class HostileRun:
    root: Path
    work: Path
    inputs: HostileInputs
    commands: list[Command] = field(default_factory=list)
    env_dirs: list[Path] = field(default_factory=list)  # HOME, caches: scanned too

    def command(self, name: str) -> Command | None:
        return next((c for c in self.commands if c.name == name), None)

    def version_dir(self, stage: str) -> Path | None:
        latest = self.work / stage / "LATEST"
        if not latest.is_file():
            return None
        path = self.work / stage / latest.read_text().strip()
        return path if path.is_dir() else None


def _env(root: Path) -> tuple[dict[str, str], list[Path]]:
    dirs = {"HOME": root / "home", "XDG_CACHE_HOME": root / "home" / ".cache", "SLMCONVERT_CACHE_DIR": root / "model-cache",
            "TMPDIR": root / "tmp"}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **{k: str(v) for k, v in dirs.items()}}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               SLMCONVERT_WORKDIR=str(root / "work"), COLUMNS="400", NO_COLOR="1", PYTHONWARNINGS="default")
    return env, [root / "home", root / "model-cache", root / "tmp"]


def _run(run: HostileRun, env: dict[str, str], name: str, args: list[str]) -> Command:
    argv = [sys.executable, "-c", "from slmconvert.cli.app import main; main()", *args]
    began = time.monotonic()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, encoding="utf-8", errors="replace",
                          timeout=TIMEOUT_S, cwd=run.root)
    command = Command(name, args, done.returncode, done.stdout, done.stderr, round(time.monotonic() - began, 1))
    run.commands.append(command)
    return command


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> HostileRun:
    root = tmp_path_factory.mktemp("hostile")
    inputs = build(root)
    env, dirs = _env(root)
    run = HostileRun(root, root / "work", inputs, env_dirs=dirs)
    common = ["--workdir", str(run.work), "--verbose"]
    if _run(run, env, "collect", ["collect", str(inputs.logs), *common]).returncode == 0:
        if _run(run, env, "curate", ["curate", *common]).returncode == 0:
            _run(run, env, "cluster", ["cluster", *common, "--min-cluster-size", str(MIN_CLUSTER_SIZE)])
    _run(run, env, "status", ["status", *common])
    return run


@pytest.fixture(scope="session")
def leaks(hostile: HostileRun) -> list[Leak]:
    """Every canary hit in the workspace (but collect/ and .keys/), the caches, HOME and the console;
    the full list is also written to <tmp>/hostile*/leaks.txt."""
    found = find_leaks(hostile.inputs.canaries, downstream_texts(hostile))
    (hostile.root / "leaks.txt").write_text("".join(leak.line() + "\n" for leak in found))
    return found


def downstream_texts(run: HostileRun) -> Iterator[tuple[str, str]]:
    yield from tree_views(run.work, SKIPPED_TOP)
    for path in run.env_dirs:
        yield from tree_views(path)
    for command in run.commands:
        yield f"console: {command.name} stdout", command.stdout
        yield f"console: {command.name} stderr", command.stderr

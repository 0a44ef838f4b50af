"""Expand the paths a user names (files, directories, globs) into the log files to read.

Everything looked at and not read is said, with why (README files, hidden names, broken
symlinks, FIFOs, sockets, unreadable directories): the list goes to stats.json and the console,
so no file is dropped without a word. Special files are classified from their directory entry
and never opened, so a FIFO cannot block the run.
"""

from __future__ import annotations

import glob
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from slmconvert.errors import BadInputError

LOG_SUFFIXES = (".jsonl", ".json", ".ndjson", ".log", ".txt", ".gz")
HIDDEN_PREFIXES = (".", "_")
NOT_A_LOG_NAME = "not a log file name"
_SPECIAL = ((stat.S_ISFIFO, "named pipe (FIFO), not opened"), (stat.S_ISSOCK, "socket, not opened"),
            (stat.S_ISCHR, "device, not opened"), (stat.S_ISBLK, "device, not opened"))


@dataclass
class Inputs:
    """The files to read, in order, and every path passed over with its reason."""

    files: list[Path] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"path", "reason"}

    def skip(self, path: str | os.PathLike[str], reason: str) -> None:
        self.skipped.append({"path": str(path), "reason": reason})


def _special(mode: int) -> str | None:
    """Why a non-regular, non-directory file is not read (None for a regular file)."""
    for test, reason in _SPECIAL:
        if test(mode):
            return reason
    return None if stat.S_ISREG(mode) else "not a regular file"


def _entry_reason(entry: os.DirEntry) -> str | None:
    """Why a directory entry found while walking is not read; None when it is a log file to read."""
    name = entry.name
    if name.startswith(HIDDEN_PREFIXES):
        return "hidden name"
    if not name.lower().endswith(LOG_SUFFIXES):
        return NOT_A_LOG_NAME
    try:
        mode = entry.stat().st_mode  # follows symlinks
    except OSError:
        return "broken symlink" if entry.is_symlink() else "vanished while listing"
    if stat.S_ISDIR(mode):
        return "symlink to a directory, not followed"
    return _special(mode)


def _walk(root: Path, inputs: Inputs) -> list[Path]:
    """Log files under root (recursively, symlinked directories not followed), sorted."""
    found: list[Path] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            inputs.skip(folder, f"unreadable directory: {exc.strerror or exc}")
            continue
        subdirs = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name.startswith("."):
                    inputs.skip(entry.path, "hidden directory, not searched")
                else:
                    subdirs.append(Path(entry.path))
                continue
            reason = _entry_reason(entry)
            if reason is None:
                found.append(Path(entry.path))
            else:
                inputs.skip(entry.path, reason)
        stack.extend(reversed(subdirs))  # depth first, in name order
    return sorted(found)


def _explicit_reason(path: Path) -> str | None:
    """Why a path named directly (or matched by a glob) is not read; None for a regular file."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return "broken symlink" if path.is_symlink() else "vanished while listing"
    return _special(mode)


def _add_directory(spec: str, path: Path, inputs: Inputs) -> list[Path]:
    before = len(inputs.skipped)
    files = _walk(path, inputs)
    if not files and inputs.skipped[before:] and inputs.skipped[before]["path"] == str(path):
        return []  # the directory itself cannot be read: listed as passed over, the other inputs go on
    if not files:
        passed = len(inputs.skipped) - before
        raise BadInputError(
            f"directory {spec} holds no log files" + (f" ({passed} other path(s) passed over)" if passed else ""),
            hint=f"expected names ending in {', '.join(LOG_SUFFIXES)}",
        )
    return files


def scan_inputs(specs: list[str]) -> Inputs:
    """Files named by paths, directories (recursively, log-like names) and glob patterns, in order."""
    if not specs:
        raise BadInputError("no input paths given", hint="pass log files, directories or globs")
    inputs = Inputs()
    found: list[Path] = []
    for spec in specs:
        path = Path(os.path.expanduser(spec))
        if path.is_dir():
            found.extend(_add_directory(spec, path, inputs))
        elif path.is_file():
            found.append(path)
        elif os.path.lexists(path):  # a FIFO, socket, device or broken symlink named directly
            inputs.skip(path, _explicit_reason(path) or "not a regular file")
        elif glob.has_magic(spec):
            found.extend(_add_glob(spec, inputs))
        else:
            raise BadInputError(f"{spec}: no such file or directory")
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    inputs.files = list(unique.values())
    if not inputs.files:
        first = inputs.skipped[0]
        raise BadInputError(f"no log file to read: {len(inputs.skipped)} path(s) passed over, "
                            f"first {first['path']} ({first['reason']})", hint="pass regular log files")
    return inputs


def _add_glob(spec: str, inputs: Inputs) -> list[Path]:
    files: list[Path] = []
    matches = [Path(m) for m in sorted(glob.glob(os.path.expanduser(spec), recursive=True))]
    for match in matches:
        if match.is_dir():
            continue
        reason = _explicit_reason(match)
        if reason is None:
            files.append(match)
        else:
            inputs.skip(match, reason)
    for match in matches:
        if match.is_dir():
            files.extend(_walk(match, inputs))
    if not files:
        raise BadInputError(f"no files match {spec!r}", hint="check the pattern (quote it to let slmconvert expand it)")
    return files


def resolve_inputs(specs: list[str]) -> list[Path]:
    """The files to read (see scan_inputs; the passed-over paths are dropped here)."""
    return scan_inputs(specs).files


def file_size(path: Path) -> int:
    """Bytes on disk, 0 for a file that vanished or cannot be looked at (it becomes a reject later)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0

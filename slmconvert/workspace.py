"""The workspace: immutable, versioned stage artifacts on disk, LATEST pointers and a writer lock."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import secrets
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slmconvert.errors import MissingArtifactError, WorkspaceLockedError
from slmconvert.util.jsonio import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    private_dir,
    read_json,
    restrict_tree,
    sha256_file,
)

DEFAULT_WORKDIR = "slmconvert-work"
MANIFEST = "manifest.json"
LATEST = "LATEST"
PURGED = "purged.json"  # in a version whose files were deleted later by a retention setting
PRIVATE_UMASK = 0o077  # what a writer creates is owner-only, whichever library writes it
STAGES = ("collect", "curate", "cluster", "select", "finetune", "iterate")
_TMP_PREFIX = ".tmp-"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_workdir(option: str | os.PathLike[str] | None = None) -> Path:
    """--workdir, else $SLMCONVERT_WORKDIR, else ./slmconvert-work."""
    chosen = option or os.environ.get("SLMCONVERT_WORKDIR") or DEFAULT_WORKDIR
    return Path(chosen).expanduser().absolute()


def new_version_id(now: dt.datetime | None = None) -> str:
    """A version name that sorts by time, e.g. 20261125T130501Z-3fa9c2."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


@dataclass
class Artifact:
    """One published, immutable version of a stage's output."""

    stage: str
    version: str
    path: Path
    manifest: dict[str, Any] = field(repr=False)

    def file(self, rel: str) -> Path:
        """Path of a file inside this version; MissingArtifactError if it is absent."""
        target = self.path / rel
        purged = self.purged
        if not target.exists() and purged and rel in purged.get("files", []):
            raise MissingArtifactError(
                f"{rel} of {self.ref} is gone: {purged.get('reason', 'purged')}; recollect",
                hint="collect the original logs again (`slmconvert collect LOGS --force`); to keep raw calls for "
                "`collect --append` and `iterate --logs`, set curate.drop_raw=false or use `purge-raw --keep-latest`",
            )
        if not target.exists():
            raise MissingArtifactError(
                f"{self.stage}@{self.version} has no {rel}",
                hint=f"rerun `slmconvert {self.stage} --force` to rebuild it",
            )
        return target

    @property
    def purged(self) -> dict[str, Any] | None:
        """The retention marker of this version (which files were deleted, when and why), if any."""
        marker = self.path / PURGED
        return read_json(marker) if marker.is_file() else None

    @property
    def params(self) -> dict[str, Any]:
        return self.manifest.get("params", {})

    @property
    def metrics(self) -> dict[str, Any]:
        return self.manifest.get("metrics", {})

    @property
    def manifest_hash(self) -> str:
        return sha256_file(self.path / MANIFEST)

    @property
    def ref(self) -> str:
        return f"{self.stage}@{self.version}"


class Workspace:
    """A project directory holding every stage's versions (see ARCHITECTURE.md)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()
        self._lock_depth = 0
        self._lock_handle: Any = None

    # -- reading -------------------------------------------------------------------------
    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    def _load(self, stage: str, version: str) -> Artifact:
        path = self.stage_dir(stage) / version
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            known = ", ".join(a.version for a in self.versions(stage)) or "none"
            raise MissingArtifactError(
                f"no {stage} version {version!r} in {self.root}",
                hint=f"known {stage} versions: {known}",
            )
        return Artifact(stage, version, path, read_json(manifest_path))

    def latest_version(self, stage: str) -> str | None:
        """The version LATEST names, or None before the first run."""
        pointer = self.stage_dir(stage) / LATEST
        if not pointer.is_file():
            return None
        return pointer.read_text().strip() or None

    def artifact(self, stage: str, version: str | None = None) -> Artifact:
        """A published version (LATEST when version is None)."""
        version = version or self.latest_version(stage)
        if version is None:
            raise MissingArtifactError(
                f"no {stage} artifact in workspace {self.root}",
                hint=f"run `slmconvert {stage} --workdir {self.root}` first (or `slmconvert run-all`)",
            )
        return self._load(stage, version)

    def versions(self, stage: str) -> list[Artifact]:
        """All complete versions of a stage, oldest first."""
        base = self.stage_dir(stage)
        if not base.is_dir():
            return []
        found = []
        for child in base.iterdir():
            if child.name.startswith(".") or not (child / MANIFEST).is_file():
                continue
            found.append(Artifact(stage, child.name, child, read_json(child / MANIFEST)))
        return sorted(found, key=lambda a: (a.manifest.get("created_at", ""), a.version))

    def find_by_fingerprint(self, stage: str, fingerprint: str) -> Artifact | None:
        """The newest complete version built from exactly these inputs and params."""
        for artifact in reversed(self.versions(stage)):
            if artifact.manifest.get("fingerprint") == fingerprint:
                return artifact
        return None

    # -- writing (callers hold the lock) ---------------------------------------------------
    def new_temp_dir(self, stage: str, version: str) -> Path:
        """A fresh hidden directory to build a version in."""
        private_dir(self.stage_dir(stage))
        path = self.stage_dir(stage) / f"{_TMP_PREFIX}{version}"
        path.mkdir(mode=0o700, exist_ok=False)
        return path

    def publish(self, stage: str, version: str, temp_dir: Path) -> Artifact:
        """Rename a complete temp dir into place, then move LATEST to it."""
        final = self.stage_dir(stage) / version
        restrict_tree(temp_dir)
        os.replace(temp_dir, final)
        self.set_latest(stage, version)
        return self._load(stage, version)

    def set_latest(self, stage: str, version: str) -> None:
        atomic_write_text(self.stage_dir(stage) / LATEST, version + "\n")

    def purge_files(self, artifact: Artifact, files: list[str], reason: str, by: str) -> list[str]:
        """Delete files of a published version (retention), recording them in its PURGED marker first.

        The manifest keeps listing them (its hash is the version's identity downstream); readers get
        the marker's reason instead of a missing-file crash. Callers hold the lock.
        """
        present = [rel for rel in files if (artifact.path / rel).exists()]
        if not present:
            return []
        marker = artifact.purged or {"files": []}
        marker.update(reason=reason, by=by, purged_at=_now())
        marker["files"] = sorted(set(marker["files"]) | set(present))
        atomic_write_json(artifact.path / PURGED, marker)
        for rel in present:
            (artifact.path / rel).unlink(missing_ok=True)
        return present

    def _make_private(self) -> None:
        """Owner-only modes on the workspace's own directories (also fixes workspaces made before)."""
        if not self.root.exists():
            private_dir(self.root)
        for name in (*STAGES, ".keys", ".cache"):
            if (self.root / name).is_dir():
                with suppress(PermissionError):  # another user's directory: theirs to lock down
                    os.chmod(self.root / name, 0o700)

    def remove_stale_temp_dirs(self) -> list[Path]:
        """Delete leftovers of killed runs (only called while holding the lock)."""
        removed = []
        for stage_dir in self.root.iterdir() if self.root.is_dir() else ():
            if not stage_dir.is_dir() or stage_dir.name.startswith("."):
                continue
            for child in stage_dir.iterdir():
                if child.name.startswith(_TMP_PREFIX):
                    shutil.rmtree(child, ignore_errors=True)
                    removed.append(child)
        return removed

    # -- lock ------------------------------------------------------------------------------
    @contextmanager
    def lock(self, command: str = "slmconvert") -> Iterator[None]:
        """Exclusive writer lock (re-entrant within one process; released if the process dies)."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        previous_umask = os.umask(PRIVATE_UMASK)
        try:
            self._make_private()
            handle = open(self.root / ".lock", "a+", opener=lambda p, flags: os.open(p, flags, 0o600))
            with suppress(PermissionError):  # a lock file made by an older version (or another user)
                os.fchmod(handle.fileno(), 0o600)
        except BaseException:
            os.umask(previous_umask)
            raise
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            os.umask(previous_umask)
            raise WorkspaceLockedError(
                f"workspace {self.root} is locked by {holder}",
                hint="wait for that run to finish (or stop it); the lock frees itself when it exits",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} ({command}, since {_now()})")
        handle.flush()
        self._lock_depth, self._lock_handle = 1, handle
        try:
            self.remove_stale_temp_dirs()
            yield
        finally:
            self._lock_depth, self._lock_handle = 0, None
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()
            os.umask(previous_umask)

    def held_by_parent(self) -> None:
        """Work inside the lock a parent process holds for this one (`pipeline.isolation`): `lock()`
        nests instead of taking the file lock again, and new files are owner-only as under the lock."""
        os.umask(PRIVATE_UMASK)
        self._lock_depth = 1

    # -- keys and caches -------------------------------------------------------------------
    def secret_key(self, name: str) -> bytes:
        """A per-workspace random key (created on first use, mode 0600, never in artifacts)."""
        path = self.root / ".keys" / f"{name}.key"
        if path.is_file():
            return bytes.fromhex(path.read_text().strip())
        private_dir(path.parent)
        key = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return bytes.fromhex(path.read_text().strip())
        with os.fdopen(fd, "w") as handle:
            handle.write(key.hex())
        return key

    def cache_dir(self, name: str) -> Path:
        """A cache directory that survives versions (e.g. embeddings by content hash)."""
        private_dir(self.root / ".cache")
        return private_dir(self.root / ".cache" / name)

    def write_bytes_atomic(self, rel: str, data: bytes) -> Path:
        """Atomically write a workspace-level file (not an artifact), e.g. a history log."""
        target = self.root / rel
        atomic_write_bytes(target, data)
        return target

"""Where converted model weights live between runs, and how a cache entry is published safely."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

CACHE_ENV = "SLMCONVERT_CACHE_DIR"
ENTRY_MARKER = "slmconvert_model.json"


def cache_root() -> Path:
    """`$SLMCONVERT_CACHE_DIR`, else the platform user cache dir (platformdirs when installed,
    else `$XDG_CACHE_HOME` or `~/.cache`) + `/slmconvert`."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    try:
        import platformdirs

        return Path(platformdirs.user_cache_dir("slmconvert"))
    except ImportError:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        return Path(base) / "slmconvert"


def models_dir() -> Path:
    """Directory holding one sub-directory per converted model."""
    return cache_root() / "models"


def entry_dir(key: str) -> Path:
    """The cache directory of one converted model (may not exist yet)."""
    return models_dir() / key


def is_complete(path: Path) -> bool:
    """A published entry always carries its marker file (written last, before the rename)."""
    return (path / ENTRY_MARKER).is_file()


def publish_entry(key: str, build: Callable[[Path], None]) -> Path:
    """Build a cache entry in a temp dir beside its final place, then rename it into place.

    A kill mid-build leaves only a `.tmp-*` dir (ignored, removed by `prune_partial`); two
    processes racing both build, the first rename wins and the other copy is discarded.
    """
    final = entry_dir(key)
    if is_complete(final):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=final.parent))
    os.chmod(tmp, 0o755)
    try:
        build(tmp)
        if not is_complete(tmp):
            raise RuntimeError(f"cache build for {key} did not write {ENTRY_MARKER}")
        if final.exists() and not is_complete(final):
            shutil.rmtree(final)
        try:
            os.rename(tmp, final)
        except OSError:
            if not is_complete(final):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def prune_partial() -> list[Path]:
    """Remove leftovers of interrupted conversions; returns what was removed."""
    removed = []
    root = models_dir()
    if root.is_dir():
        for path in root.glob(".tmp-*"):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def dir_size(path: Path) -> int:
    """Total bytes of the files under `path`."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())

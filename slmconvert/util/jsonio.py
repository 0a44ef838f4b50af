"""Canonical JSON, content hashes and atomic file writes shared by every stage."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

HASH_PREFIX = "sha256:"
_CHUNK = 1 << 20


def canonical_json(obj: Any) -> str:
    """Deterministic JSON text: sorted keys, no insignificant whitespace."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


def pretty_json(obj: Any) -> str:
    """Deterministic, human-readable JSON text (sorted keys, 2-space indent, trailing newline)."""
    text = orjson.dumps(
        obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY
    )
    return text.decode() + "\n"


def sha256_bytes(data: bytes) -> str:
    """`sha256:<hex>` of a byte string."""
    return HASH_PREFIX + hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    """`sha256:<hex>` of a UTF-8 string."""
    return sha256_bytes(text.encode("utf-8"))


def sha256_json(obj: Any) -> str:
    """`sha256:<hex>` of an object's canonical JSON."""
    return sha256_text(canonical_json(obj))


def sha256_file(path: str | os.PathLike[str]) -> str:
    """`sha256:<hex>` of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return HASH_PREFIX + digest.hexdigest()


PRIVATE_DIR = 0o700  # owner only: raw calls, keys and caches live in these trees
PRIVATE_FILE = 0o600


def private_dir(path: str | os.PathLike[str], chmod_existing: bool = True) -> Path:
    """Create `path` (and missing parents) owner-only (0700); an existing one is made 0700 too if asked."""
    target = Path(path)
    missing = [p for p in (target, *target.parents) if not p.exists()]
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:  # another process made it first
            continue
        os.chmod(directory, PRIVATE_DIR)
    if chmod_existing and target not in missing:
        os.chmod(target, PRIVATE_DIR)
    return target


def restrict_tree(root: str | os.PathLike[str]) -> None:
    """Take every group/other permission off a tree (files libraries wrote with their own modes)."""
    os.chmod(root, os.stat(root).st_mode & ~0o077)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode & ~0o077)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write to an owner-only temp file beside `path`, fsync, then rename over it."""
    target = Path(path)
    private_dir(target.parent, chmod_existing=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Atomically write UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Atomically write deterministic, indented JSON."""
    atomic_write_text(path, pretty_json(obj))


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file."""
    return orjson.loads(Path(path).read_bytes())

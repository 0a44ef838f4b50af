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


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write to a temp file beside `path`, fsync, then rename over it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
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

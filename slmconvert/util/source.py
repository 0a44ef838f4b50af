"""Digests of slmconvert's own source, so a changed checkout never reuses what older code built."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def source_digest(directory: Path) -> str:
    """sha256 over every .py file under `directory` (relative names and bytes, in a fixed order)."""
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*.py")):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@cache
def package_digest() -> str:
    """The digest of the whole slmconvert package (read once per process: the code cannot change under it)."""
    return "sha256:" + source_digest(PACKAGE_DIR)

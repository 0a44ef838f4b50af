"""A file that cannot be read (at open or mid-read) is a reject naming it; the other files are collected.

Tests run as root, for whom chmod 000 changes nothing: unreadable files and failing reads are
simulated by replacing the reader's `open`.
"""

from __future__ import annotations

import builtins
import errno
import io

import orjson
import pytest
from typer.testing import CliRunner

from slmconvert.cli.app import app
from slmconvert.collect import reader
from slmconvert.collect.inputs import scan_inputs
from slmconvert.workspace import Workspace


def good(n: int) -> dict:
    return {"messages": [{"role": "user", "content": f"ping {n}"}, {"role": "assistant", "content": f"pong {n}"}]}


def lines(first: int, count: int) -> bytes:
    return b"".join(orjson.dumps(good(i)) + b"\n" for i in range(first, first + count))


def accounted(summary: dict) -> bool:
    """Every record read is a call, a duplicate, a reject or a blank line."""
    return all(f["lines"] == f["calls"] + f["duplicates"] + f["rejects"] + f["blank_lines"] for f in summary["files"])


class FailingRaw(io.RawIOBase):
    """A file whose reads fail with EIO once `good_bytes` have been served."""

    def __init__(self, data: bytes, good_bytes: int) -> None:
        self._data, self._good, self._at = data, good_bytes, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        self._at = pos if whence == 0 else self._at + pos if whence == 1 else len(self._data) + pos
        return self._at

    def tell(self) -> int:
        return self._at

    def readinto(self, buffer) -> int:
        if self._at >= self._good:
            raise OSError(errno.EIO, "Input/output error")
        n = min(len(buffer), self._good - self._at, 64)
        buffer[:n] = self._data[self._at:self._at + n]
        self._at += n
        return n


def fail_open(monkeypatch, name: str, make) -> None:
    """Route the reader's open() of the file called `name` through make(path, mode, buffering)."""
    def fake_open(path, mode="r", buffering=-1, *args, **kwargs):
        if str(path).endswith(name):
            return make(path, mode, buffering)
        return builtins.open(path, mode, buffering, *args, **kwargs)

    monkeypatch.setattr(reader, "open", fake_open, raising=False)


def test_unreadable_file_is_a_reject_and_the_others_are_collected(run_collect, monkeypatch):
    def denied(path, mode, buffering):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    fail_open(monkeypatch, "locked.jsonl", denied)
    out = run_collect({"a.jsonl": lines(0, 3), "locked.jsonl": lines(10, 4), "b.jsonl": lines(20, 2)})
    assert out.summary["calls"] == 5
    (reject,) = out.rejects
    assert reject["file"].endswith("locked.jsonl") and reject["line"] == 0
    assert reject["reason"] == "unreadable file" and "Permission denied (EACCES)" in reject["detail"]
    assert accounted(out.summary)


def test_file_removed_between_listing_and_reading(run_collect, tmp_path, monkeypatch):
    real_scan = reader.scan_inputs

    def scan_then_remove(specs):
        inputs = real_scan(specs)
        (tmp_path / "in" / "gone.jsonl").unlink()  # after listing, before reading
        return inputs

    from slmconvert.collect import pipeline

    monkeypatch.setattr(pipeline, "scan_inputs", scan_then_remove)
    out = run_collect({"gone.jsonl": lines(0, 5), "kept.jsonl": lines(10, 2)})
    assert out.summary["calls"] == 2
    (reject,) = out.rejects
    assert reject["file"].endswith("gone.jsonl") and (reject["line"], reject["reason"]) == (0, "unreadable file")
    assert "removed after it was listed" in reject["detail"]
    assert accounted(out.summary)


@pytest.mark.parametrize("name", ["mid.jsonl", "mid.json"])
def test_read_error_mid_file_keeps_the_lines_before_it(run_collect, monkeypatch, name):
    if name.endswith(".json"):  # a JSON array, one element per line
        data = b"[\n" + b",\n".join(orjson.dumps(good(i)) for i in range(50)) + b"\n]\n"
    else:
        data = lines(0, 50)
    cut = data.index(orjson.dumps(good(30)))  # fails inside element 30
    fail_open(monkeypatch, name, lambda path, mode, buffering: io.BufferedReader(FailingRaw(data, cut), 256))
    out = run_collect({name: data, "other.jsonl": lines(100, 3)})
    mine = [r for r in out.rejects if r["file"].endswith(name)]
    assert mine[-1]["reason"] == "read error" and "Input/output error (EIO)" in mine[-1]["detail"]
    calls = [c for c in out.calls if c["source"]["file"].endswith(name)]
    assert len(calls) == 30  # every record before the failure
    assert mine[-1]["line"] >= calls[-1]["source"]["line"]
    assert out.summary["calls"] == 33 and accounted(out.summary)


def test_file_that_shrinks_while_read_says_so(run_collect, monkeypatch):
    data = lines(0, 20)
    short = data[: data.index(orjson.dumps(good(12)))]
    fail_open(monkeypatch, "cut.jsonl", lambda path, mode, buffering: io.BufferedReader(io.BytesIO(short), 256))
    out = run_collect({"cut.jsonl": data})
    assert out.summary["calls"] == 12
    (reject,) = out.rejects
    assert (reject["line"], reject["reason"]) == (13, "file shrank while reading")
    assert str(len(data)) in reject["detail"]


def test_cli_unreadable_file_exit_0_then_4_with_strict(tmp_path, monkeypatch):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "ok.jsonl").write_bytes(lines(0, 4))
    (tmp_path / "logs" / "locked.jsonl").write_bytes(lines(10, 4))

    def denied(path, mode, buffering):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    fail_open(monkeypatch, "locked.jsonl", denied)
    runner = CliRunner()
    work = str(tmp_path / "w")
    result = runner.invoke(app, ["collect", str(tmp_path / "logs"), "--workdir", work, "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["summary"]["calls"] == 4
    strict = runner.invoke(app, ["collect", str(tmp_path / "logs"), "--workdir", work, "--strict"])
    assert strict.exit_code == 4
    assert Workspace(work).artifact("collect").metrics["rejects"] == 1


def test_fingerprint_survives_a_file_that_vanished(tmp_path, monkeypatch):
    from slmconvert.stages import collect as collect_stage

    path = tmp_path / "a.jsonl"
    path.write_bytes(lines(0, 1))
    monkeypatch.setattr(collect_stage, "resolve_inputs", lambda specs: scan_inputs(specs).files + [tmp_path / "x.jsonl"])
    fp = collect_stage.fingerprint_extra({"paths": [str(path)]})
    assert fp["files"][-1]["error"] == "No such file or directory"

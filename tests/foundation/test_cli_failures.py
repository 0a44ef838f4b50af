"""Every failure is one clean report: --json gets one {"ok": false, ...} document, no traceback."""

from __future__ import annotations

import errno
import json
import os

import pytest
from typer.testing import CliRunner

from slmconvert.cli.app import app
from slmconvert.errors import EnvironmentProblem
from slmconvert.stages import runner
from tests.foundation import toy_stage

cli = CliRunner()


def _failure(result, code: int) -> dict:
    """The one JSON document a failed --json command printed, checked against its exit code."""
    assert result.exit_code == code, result.output
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and payload["exit_code"] == code and payload["error"]
    assert set(payload) == {"ok", "error", "hint", "exit_code"}
    assert "Traceback" not in result.output
    return payload


def test_library_errors_give_a_json_document(tmp_path, toy):
    work = ["--workdir", str(tmp_path / "w"), "--json"]
    bad_config = _failure(cli.invoke(app, ["collect", "x", *work, "--set", "nope=1"]), 3)
    assert "unknown key" in bad_config["error"] and "valid" in bad_config["hint"]
    bad_pin = _failure(cli.invoke(app, ["collect", "x", *work, "--input", "garbage"]), 2)
    assert "STAGE@VERSION" in bad_pin["error"]


def test_missing_upstream_gives_a_json_document(tmp_path):
    payload = _failure(cli.invoke(app, ["curate", "--workdir", str(tmp_path / "w"), "--json"]), 5)
    assert "no collect artifact" in payload["error"] and "slmconvert collect" in payload["hint"]


@pytest.mark.parametrize("args", [["status", "--bogus"], ["no-such-command"], ["status", "--workdir"]])
def test_usage_errors_give_a_json_document(args):
    payload = _failure(cli.invoke(app, [*args[:1], "--json", *args[1:]]), 2)
    assert "--help" in payload["hint"]


def test_usage_errors_without_json_print_nothing_on_stdout():
    result = cli.invoke(app, ["status", "--bogus"])
    assert result.exit_code == 2 and result.stdout == ""


@pytest.mark.parametrize(("raised", "code", "text"), [
    (RuntimeError("boom"), 1, "RuntimeError: boom"),
    (KeyboardInterrupt(), 130, "interrupted"),
])
def test_unexpected_errors_and_interrupts_give_a_json_document(tmp_path, toy, monkeypatch, raised, code, text):
    def run(ctx):
        raise raised

    monkeypatch.setattr(toy_stage, "run", run)
    payload = _failure(cli.invoke(app, ["collect", "x", "--workdir", str(tmp_path / "w"), "--json"]), code)
    assert text in payload["error"]


@pytest.mark.parametrize(("number", "words"), [
    (errno.ENOSPC, "no space left on device writing"),
    (errno.EDQUOT, "disk quota exceeded"),
    (errno.EROFS, "read-only file system"),
    (errno.EACCES, "permission denied"),
])
def test_a_full_or_readonly_disk_is_the_environment_not_a_bug(tmp_path, toy, monkeypatch, number, words):
    def full(path, text):
        raise OSError(number, os.strerror(number), str(path))

    monkeypatch.setattr(runner, "atomic_write_text", full)
    work = tmp_path / "w"
    payload = _failure(cli.invoke(app, ["collect", "x", "--workdir", str(work), "--json"]), EnvironmentProblem.exit_code)
    assert payload["error"].startswith(words) and "summary.json" in payload["error"]
    assert "--workdir" in payload["hint"] and "report" not in payload["hint"]
    assert not any(p.name.startswith(".tmp-") for p in (work / "collect").iterdir()), "no half-written version"
    human = cli.invoke(app, ["collect", "x", "--workdir", str(work)])
    assert human.exit_code == EnvironmentProblem.exit_code and "unexpected" not in human.output
    assert words in human.output and "Traceback" not in human.output


def test_an_oserror_wrapped_by_a_library_is_still_recognised(tmp_path, toy, monkeypatch):
    def wrapped(ctx):
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise RuntimeError("writer failed") from exc

    monkeypatch.setattr(toy_stage, "run", wrapped)
    payload = _failure(cli.invoke(app, ["collect", "x", "--workdir", str(tmp_path / "w"), "--json"]), 7)
    assert payload["error"].startswith("no space left on device")


def test_other_oserrors_stay_unexpected(tmp_path, toy, monkeypatch):
    def broken(ctx):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(toy_stage, "run", broken)
    payload = _failure(cli.invoke(app, ["collect", "x", "--workdir", str(tmp_path / "w"), "--json"]), 1)
    assert "report it" in payload["hint"]


def test_quiet_failure_is_one_line_for_every_command(tmp_path):
    result = cli.invoke(app, ["curate", "--workdir", str(tmp_path / "w"), "--quiet"])
    assert result.exit_code == 5 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("slmconvert curate: no collect artifact")


def test_success_json_says_ok(tmp_path):
    payload = json.loads(cli.invoke(app, ["status", "--workdir", str(tmp_path / "w"), "--json"]).stdout)
    assert payload["ok"] is True


def test_strict_collect_prints_only_the_failure_document(tmp_path):
    from tests.foundation.test_safe_output import _call

    logs = tmp_path / "logs.jsonl"
    logs.write_text(json.dumps(_call("w", "gpt-4o-mini")) + "\n{broken\n")
    result = cli.invoke(app, ["collect", str(logs), "--strict", "--json", "--workdir", str(tmp_path / "w")])
    payload = _failure(result, 4)  # json.loads of the whole stdout: exactly one document
    assert "--strict" in payload["error"] and "rejects.jsonl" in payload["hint"]

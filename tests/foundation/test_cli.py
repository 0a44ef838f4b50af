from __future__ import annotations

import json

from typer.testing import CliRunner

from slmconvert.cli.app import COMMANDS, app
from tests.foundation import toy_stage

cli = CliRunner()


def _leaf_commands(group, prefix=()):
    """Every runnable command path, descending into sub-command groups such as `models`."""
    import typer.main

    click_group = typer.main.get_command(group) if not hasattr(group, "commands") else group
    for name, cmd in click_group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _leaf_commands(cmd, prefix + (name,))
        else:
            yield prefix + (name,), cmd


def test_every_command_has_help_and_common_options():
    leaves = dict(_leaf_commands(app))
    assert {name for _, name, _ in COMMANDS} <= {path[0] for path in leaves}
    for path, cmd in leaves.items():
        result = cli.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert (cmd.help or "").strip(), f"{' '.join(path)} has no help text"
        assert "--workdir" in result.output, path
    collect_help = cli.invoke(app, ["collect", "--help"]).output
    assert "Exit 4 when any input line" in collect_help, "a command's own option help is shown"


def test_status_json_on_empty_workspace(tmp_path):
    result = cli.invoke(app, ["status", "--workdir", str(tmp_path / "w"), "--json"])
    assert result.exit_code == 0
    state = json.loads(result.stdout)
    assert state["stages"]["collect"] == {"latest": None, "versions": []}


def test_stage_command_json_and_skip(tmp_path, toy, monkeypatch):
    monkeypatch.setattr(toy_stage, "run", _text_from_paths(toy_stage.run))
    args = ["collect", "hello", "--workdir", str(tmp_path / "w"), "--json"]
    first = cli.invoke(app, args)
    assert first.exit_code == 0, first.output
    payload = json.loads(first.stdout)
    assert payload["skipped"] is False and payload["metrics"] == {"chars": 5}
    second = json.loads(cli.invoke(app, args).stdout)
    assert second["skipped"] is True and second["version"] == payload["version"]
    forced = json.loads(cli.invoke(app, args + ["--force", "--set", "repeat=2"]).stdout)
    assert forced["metrics"] == {"chars": 10}


def _text_from_paths(run):
    def wrapped(ctx):
        ctx.extra = {"text": "".join(ctx.extra["paths"])}
        return run(ctx)

    return wrapped


def test_errors_map_to_exit_codes(tmp_path, toy):
    bad = cli.invoke(app, ["collect", "x", "--workdir", str(tmp_path / "w"), "--set", "nope=1"])
    assert bad.exit_code == 3 and "unknown key" in bad.output and "Traceback" not in bad.output
    usage = cli.invoke(app, ["collect", "x", "--input", "garbage", "--workdir", str(tmp_path / "w")])
    assert usage.exit_code == 2
    missing = cli.invoke(app, ["collect", "x", "--input", "collect@v1", "--workdir", str(tmp_path / "w")])
    assert missing.exit_code == 0  # collect has no upstream: a pin on it is not consulted


def test_unexpected_errors_hide_traceback_unless_verbose(tmp_path, toy, monkeypatch):
    monkeypatch.setattr(toy_stage, "run", lambda ctx: 1 / 0)
    quiet = cli.invoke(app, ["collect", "x", "--workdir", str(tmp_path / "w")])
    assert quiet.exit_code == 1 and "ZeroDivisionError" in quiet.output and "Traceback" not in quiet.output
    loud = cli.invoke(app, ["collect", "x", "--workdir", str(tmp_path / "w"), "--verbose"])
    assert loud.exit_code == 1 and "Traceback" in loud.output

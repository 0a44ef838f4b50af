"""Strings from logs reach the terminal literally: no Rich markup applied, no escape bytes."""

from __future__ import annotations

import json

from rich.console import Console
from typer.testing import CliRunner

from slmconvert.cli.app import app
from slmconvert.cli.safe import plain_text, safe_text, safe_tree

HOSTILE = "[bold red]x[/] \x1b[2J\x07\u202eevil"


def _printed(text: str) -> str:
    console = Console(record=True, width=200, file=open("/dev/null", "w"))  # noqa: SIM115 - closed with the test
    console.print(text)
    return console.export_text()


def test_safe_text_prints_literally_without_control_bytes():
    shown = _printed(safe_text(HOSTILE))
    assert "[bold red]x[/]" in shown and "\\x1b[2J" in shown and "\\x07" in shown and "\\u202e" in shown
    assert not any(ord(c) < 0x20 and c != "\n" for c in shown) and "\u202e" not in shown


def test_plain_text_and_tree():
    assert plain_text("a\nb\tc") == "a\\x0ab\\x09c"
    assert plain_text("a\nb", keep_newlines=True) == "a\nb"
    tree = safe_tree({"[b]k[/b]": ["\x1b", 3, None], "n": 1.5})
    assert tree == {"\\[b]k\\[/b]": ["\\x1b", 3, None], "n": 1.5}


def _call(workload: str, model: str) -> dict:
    messages = [{"role": "user", "content": "What is 2+2?"}]
    return {"timestamp": 1760000000, "workload_id": workload,
            "request": {"model": model, "messages": messages},
            "response": {"id": "r1", "created": 1760000000, "model": model,
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": "4"},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 10, "completion_tokens": 1}}}


def test_hostile_log_fields_print_literally(tmp_path):
    logs = tmp_path / "[blink]logs.jsonl"
    logs.write_text(json.dumps(_call(HOSTILE, "[red]gpt-4o[/red]\x1b]0;title\x07")) + "\n")
    result = CliRunner().invoke(app, ["collect", str(logs), "--workdir", str(tmp_path / "w")])
    assert result.exit_code == 0, result.output
    shown = result.stderr
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    # collect prints no value read from a log (privacy: nothing raw before curate), so neither can inject markup
    assert "[bold red]x" not in shown and "gpt-4o" not in shown and "bold red" not in shown


def test_hostile_cluster_label_in_the_cluster_table():
    from slmconvert.stages import cluster

    row = {"id": 0, "label": HOSTILE, "size": 5, "share_calls": 1.0, "share_tokens": 1.0, "share_cost": 1.0,
           "output_type": "text", "candidate": False, "why_not": ["[red]too few calls[/red] (5)"]}
    console = Console(record=True, width=250, file=open("/dev/null", "w"))  # noqa: SIM115
    cluster.render(safe_tree({"calls": 5, "clusters_table": [row]}), console)
    shown = console.export_text()
    assert "[bold red]x[/]" in shown and "[red]too few calls[/red]" in shown
    assert "\x1b" not in shown and "\x07" not in shown

"""`slmconvert models list|prepare` and the `select` command's options, via CliRunner."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from slmconvert.cli.app import app


def test_models_list_json_shows_builtins_and_cache_state(monkeypatch, tmp_path):
    monkeypatch.setenv("SLMCONVERT_CACHE_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    models = {m["name"]: m for m in json.loads(result.stdout)["models"]}
    smol = models["smollm2-135m-instruct"]
    assert smol["cached"] is False and smol["available"] is True and smol["license"] == "apache-2.0"
    assert models["gemma-3-270m"]["context_length"] == 32768


def test_models_list_table(monkeypatch, tmp_path):
    monkeypatch.setenv("SLMCONVERT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["models", "list"])
    assert result.exit_code == 0 and "gemma-3-270m" in result.stdout


def test_models_prepare_local_dir_and_unknown_name(tiny_model_dir):
    ok = CliRunner().invoke(app, ["models", "prepare", str(tiny_model_dir), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["models"][0]["architecture"] == "LlamaForCausalLM"
    bad = CliRunner().invoke(app, ["models", "prepare", "./no/such/model"])
    assert bad.exit_code == 3 and "does not exist" in bad.output


def test_select_help_documents_candidate():
    result = CliRunner().invoke(app, ["select", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "--candidate" in result.stdout and "Hugging Face id" in result.stdout

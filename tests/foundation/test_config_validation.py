"""Bad configuration is refused up front with exit 3 and a clear message, never a crash later."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from slmconvert.cli.app import app
from slmconvert.params import SEED_MAX

cli = CliRunner()


def _config_error(args: list[str]) -> dict:
    result = cli.invoke(app, ["config", "--effective", "--json", *args])
    assert result.exit_code == 3, result.output
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and "Traceback" not in result.output
    return payload


@pytest.mark.parametrize("stage", ["cluster", "select", "finetune", "iterate"])
@pytest.mark.parametrize("seed", [-1, SEED_MAX + 1])
def test_seeds_out_of_range_are_config_errors(stage, seed):
    payload = _config_error(["--set", f"{stage}.seed={seed}"])
    assert f"{stage}.seed" in payload["error"]


@pytest.mark.parametrize("stage", ["cluster", "select", "finetune", "iterate"])
def test_seed_bounds_are_accepted(stage):
    for seed in (0, SEED_MAX):
        result = cli.invoke(app, ["config", "--effective", "--json", "--set", f"{stage}.seed={seed}"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)[stage]["seed"] == seed


def test_binary_config_file(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(bytes(range(256)) * 4)
    payload = _config_error(["--config", str(path)])
    assert "not a text file" in payload["error"] and str(path) in payload["error"]


def test_config_file_with_nul_bytes(tmp_path):
    path = tmp_path / "nul.yaml"
    path.write_bytes(b"cluster:\n  seed: 1\x00\n")
    assert "NUL" in _config_error(["--config", str(path)])["error"]


def test_config_directory_is_not_called_missing(tmp_path):
    payload = _config_error(["--config", str(tmp_path)])
    assert "is a directory" in payload["error"] and "does not exist" not in payload["error"]


def test_missing_config_file(tmp_path):
    assert "does not exist" in _config_error(["--config", str(tmp_path / "none.yaml")])["error"]


def test_utf8_config_with_bom_is_read(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes("\ufeffcluster:\n  seed: 7\n".encode())
    result = cli.invoke(app, ["config", "--effective", "--json", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["cluster"]["seed"] == 7


def test_unknown_promotion_metric_is_refused():
    payload = _config_error(["--set", "iterate.promotion_metric=rouge"])
    assert "unknown metric 'rouge'" in payload["error"] and "rouge_l" in payload["error"]
    ok = cli.invoke(app, ["config", "--effective", "--json", "--set", "iterate.promotion_metric=rouge_l"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["iterate"]["promotion_metric"] == "rouge_l"

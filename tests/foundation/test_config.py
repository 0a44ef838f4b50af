from __future__ import annotations

import pytest
from pydantic import Field

from slmconvert import config as config_module
from slmconvert.config import apply_sets, load_config_file, resolve_params
from slmconvert.errors import ConfigError
from slmconvert.params import StageParams


class FakeParams(StageParams):
    size: int = Field(10, description="A size.")
    name: str = Field("a", description="A name.")
    prices: dict[str, float] = Field(default_factory=dict, description="Prices.")


@pytest.fixture(autouse=True)
def fake_params(monkeypatch):
    monkeypatch.setattr(config_module, "params_class", lambda stage: FakeParams)


def test_precedence_defaults_config_set_flags(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("curate:\n  size: 20\n  name: from-config\n")
    assert resolve_params("curate").size == 10
    assert resolve_params("curate", cfg).size == 20
    p = resolve_params("curate", cfg, ["curate.size=30"])
    assert (p.size, p.name) == (30, "from-config")
    p = resolve_params("curate", cfg, ["size=30", "curate.name=set"], flags={"size": 40})
    assert (p.size, p.name) == (40, "set")


def test_set_values_are_typed_and_nested():
    config: dict = {}
    apply_sets(config, ["curate.prices.gpt-4o=2.5", "curate.size=7"], default_stage=None)
    assert config == {"curate": {"prices": {"gpt-4o": 2.5}, "size": 7}}


def test_unknown_keys_are_errors_listing_valid_ones(tmp_path):
    with pytest.raises(ConfigError) as info:
        resolve_params("curate", sets=["curate.sizee=3"])
    assert "unknown key curate.sizee" in str(info.value) and "size" in info.value.hint
    assert info.value.exit_code == 3
    cfg = tmp_path / "c.yaml"
    cfg.write_text("curtae:\n  size: 1\n")
    with pytest.raises(ConfigError, match="unknown section"):
        load_config_file(cfg)


def test_bad_values_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="curate.size"):
        resolve_params("curate", sets=["size=notanumber"])
    cfg = tmp_path / "c.yaml"
    cfg.write_text("curate: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config_file(cfg)
    with pytest.raises(ConfigError, match="key=value"):
        resolve_params("curate", sets=["novalue"])

from __future__ import annotations

from pathlib import Path

import yaml

from slmconvert.config import defaults_yaml, resolve_all
from slmconvert.workspace import STAGES

DEFAULTS = Path(__file__).resolve().parents[2] / "pipelines" / "default.yaml"


def test_default_yaml_matches_the_params_models():
    assert DEFAULTS.read_text() == defaults_yaml(), (
        "pipelines/default.yaml is stale: regenerate it with `slmconvert config > pipelines/default.yaml`"
    )


def test_every_shipped_pipeline_config_is_valid():
    for path in sorted(DEFAULTS.parent.glob("*.yaml")):
        assert set(yaml.safe_load(path.read_text())) <= set(STAGES), path
        resolve_all(path)  # raises ConfigError on any unknown key or bad value

"""Fixtures of the foundation tests."""

from __future__ import annotations

import pytest

from slmconvert.stages import runner
from tests.foundation import toy_stage


@pytest.fixture
def toy(monkeypatch):
    """Every stage is the toy stage (no ML), so CLI plumbing is tested in milliseconds."""
    monkeypatch.setattr(runner, "load_stage", lambda name: toy_stage)
    from slmconvert import config

    monkeypatch.setattr(config, "params_class", lambda stage: toy_stage.ToyParams)
    return toy_stage

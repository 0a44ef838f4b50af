"""Fixtures for evaluation tests: a tiny model built in-process (loads in milliseconds)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_loaded(tmp_path_factory):
    import torch

    from slmconvert.models import load_model
    from slmconvert.models.tiny import create_tiny_model

    torch.set_num_threads(1)
    path = create_tiny_model(tmp_path_factory.mktemp("tiny") / "model")
    return load_model(str(path), device="cpu")

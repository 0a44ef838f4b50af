"""Fixtures for model tests: a tiny trained tokenizer and tiny model built in-process."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from slmconvert.models.tiny import create_tiny_model

    return create_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from slmconvert.models.tiny import train_tokenizer

    return train_tokenizer()

"""Shared test setup: no test touches $HOME or the network; the model cache is shared per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def session_cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """One model cache for the whole run, so converted weights are built once."""
    return tmp_path_factory.mktemp("slmconvert-cache")


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path, monkeypatch, session_cache_dir):
    """Point HOME, the workspace default and the model cache at temporary directories."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("SLMCONVERT_WORKDIR", str(tmp_path / "work"))
    monkeypatch.setenv("SLMCONVERT_CACHE_DIR", str(session_cache_dir))
    yield

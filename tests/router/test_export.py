"""Export: vLLM launch commands (one server per base model) and the bundle layout."""

from __future__ import annotations

import shlex

import pytest

from slmconvert.errors import UsageError
from slmconvert.router.config import ClusterRoute, RouterConfig, relative_to_router
from slmconvert.router.export import export_bundle, serving_id, vllm_commands
from slmconvert.util.jsonio import atomic_write_json
from slmconvert.workspace import Artifact


def test_vllm_commands_one_server_per_base_model():
    commands = vllm_commands({
        "HuggingFaceTB/SmolLM2-135M-Instruct": [("cluster-1", "./adapters/cluster-1", 8),
                                                ("cluster-4", "./adapters/cluster-4", 32)],
        "google/gemma-3-270m": [("cluster-2", "./adapters/cluster-2", 16)],
    })
    assert len(commands) == 2
    first = shlex.split(commands[0])
    assert first[:3] == ["vllm", "serve", "HuggingFaceTB/SmolLM2-135M-Instruct"]
    assert "--enable-lora" in first and first[first.index("--port") + 1] == "8000"
    assert first[first.index("--max-lora-rank") + 1] == "32" and first[first.index("--max-loras") + 1] == "2"
    modules = first[first.index("--lora-modules") + 1:]
    assert modules == ["cluster-1=./adapters/cluster-1", "cluster-4=./adapters/cluster-4"]
    assert "--port 8001" in commands[1]


def test_builtin_aliases_serve_their_hugging_face_id(tmp_path):
    assert serving_id("smollm2-135m-instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert serving_id("Qwen/Qwen3-1.7B") == "Qwen/Qwen3-1.7B"
    local = tmp_path / "m"
    local.mkdir()
    (local / "config.json").write_text("{}")
    assert serving_id(str(local)) == str(local.resolve())


def test_bundle_rewrites_adapter_paths(tmp_path):
    version = tmp_path / "work" / "iterate" / "v1"
    adapter = tmp_path / "work" / "finetune" / "f1" / "3" / "adapter"
    adapter.mkdir(parents=True)
    atomic_write_json(adapter / "adapter_config.json", {"r": 8})
    (adapter / "adapter_model.safetensors").write_bytes(b"w")
    router = version / "router"
    (router / "seed").mkdir(parents=True)
    (router / "seed" / "config.json").write_text("{}")
    routes = [ClusterRoute(3, "lookup", True, "promoted", model="HuggingFaceTB/SmolLM2-135M-Instruct",
                           adapter=relative_to_router(router, adapter)),
              ClusterRoute(5, "draft", False, "open-ended", model="google/gemma-3-270m", adapter=relative_to_router(router, adapter))]
    RouterConfig(routes).save(router)
    artifact = Artifact("iterate", "v1", version, {})
    out = tmp_path / "bundle"
    summary = export_bundle(artifact, out)
    assert [a["name"] for a in summary["adapters"]] == ["cluster-3"]
    saved = RouterConfig.load(out / "router")
    assert saved.route_for(3).adapter == "../adapters/cluster-3" and saved.route_for(5).adapter is None
    assert (out / "adapters" / "cluster-3" / "adapter_model.safetensors").is_file()
    assert "--lora-modules cluster-3=./adapters/cluster-3" in (out / "serve.sh").read_text()
    with pytest.raises(UsageError):
        export_bundle(artifact, out)
    assert export_bundle(artifact, out, include_unpromoted=True, overwrite=True)["adapters"][1]["name"] == "cluster-5"

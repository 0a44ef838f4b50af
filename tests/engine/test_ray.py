"""engine=ray gives the local engine's outputs: curate's scrubbing and cluster's embedding on a local
Ray cluster started here (2 CPUs), also when a worker dies mid-stage."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from slmconvert.cluster.embed import embed_unique  # noqa: E402
from slmconvert.cluster.synthetic import synthetic_calls as cluster_calls  # noqa: E402
from slmconvert.curate.params import CurateParams  # noqa: E402
from slmconvert.curate.pipeline import JSON_COLUMNS, Curator, ScrubBatch  # noqa: E402
from slmconvert.curate.synthetic import synthetic_calls as curate_calls  # noqa: E402
from slmconvert.engine.base import Engine, EngineSpec  # noqa: E402
from slmconvert.models.embedder import SentenceEmbedder, packaged_model_dir  # noqa: E402
from slmconvert.util.tables import TableWriter, iter_table, write_table  # noqa: E402
from slmconvert.workspace import Workspace  # noqa: E402
from tests.finetune.conftest import tiny_model, workspace  # noqa: E402, F401  (fixtures)
from tests.select.conftest import tiny_models, upstream  # noqa: E402, F401  (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
KEY = bytes(range(32))


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """A 2-CPU Ray started for this module; the classes below travel by value to its workers."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


def die_once(marker: Path) -> None:
    """Kill this worker process the first time any worker gets here (a lost node, mid-stage)."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    os._exit(1)


class DyingScrubBatch(ScrubBatch):
    marker: Path | None = None

    def __call__(self, records):
        die_once(self.marker)
        return super().__call__(records)


class DyingEmbedder(SentenceEmbedder):
    def __init__(self, marker: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self.marker = marker

    def encode(self, texts):
        die_once(self.marker)
        return super().encode(texts)


def curate_file(calls: Path, out: Path, engine: str, batch_fn: type = ScrubBatch) -> tuple[list, str, dict]:
    params = CurateParams(engine=engine, chunk_records=8, span_store=False)
    curator = Curator(params, KEY)
    curator.batch_fn = batch_fn
    with TableWriter(out, json_columns=JSON_COLUMNS) as writer:
        for row in curator.curate(iter_table(calls), total=40, source=calls):
            writer.write(row)
    return list(iter_table(out)), hashlib.sha256(out.read_bytes()).hexdigest(), curator.summary()


@pytest.fixture(scope="module")
def calls(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("collect") / "calls.parquet"
    write_table(path, curate_calls(14, seed=3)[:40])
    return path


@pytest.fixture(scope="module")
def local_curated(calls, tmp_path_factory):
    return curate_file(calls, tmp_path_factory.mktemp("local") / "curated.parquet", "local")


def test_curate_on_ray_equals_local(calls, local_curated, tmp_path):
    rows, digest, summary = curate_file(calls, tmp_path / "curated.parquet", "ray")
    assert len(rows) == 40 and rows == local_curated[0]
    assert digest == local_curated[1]
    assert summary["entities_total"] == local_curated[2]["entities_total"] > 0
    assert summary["analyzer"]["units"] == local_curated[2]["analyzer"]["units"]  # workers' counters summed


def test_curate_survives_a_killed_worker(calls, local_curated, tmp_path):
    DyingScrubBatch.marker = tmp_path / "killed"
    rows, digest, _ = curate_file(calls, tmp_path / "curated.parquet", "ray", DyingScrubBatch)
    assert DyingScrubBatch.marker.exists()  # a worker really died
    assert digest == local_curated[1] and rows == local_curated[0]


def embed_texts() -> list[str]:
    records = cluster_calls(40, seed=5)
    return sorted({m["content"] for r in records for m in r["messages"] if m.get("content")})


@pytest.mark.skipif(packaged_model_dir() is None, reason="packaged all-MiniLM-L6-v2 not installed")
def test_embedding_on_ray_equals_local_also_when_a_worker_dies(tmp_path):
    texts = embed_texts()
    assert len(texts) > 40
    local, _ = embed_unique(texts, SentenceEmbedder(), engine=Engine())
    engine = Engine(EngineSpec("ray", workers=2))
    remote, _ = embed_unique(texts, SentenceEmbedder(), engine=engine)
    np.testing.assert_allclose(remote, local, rtol=0, atol=1e-6)
    marker = tmp_path / "killed"
    survived, _ = embed_unique(texts, DyingEmbedder(marker), engine=engine)
    assert marker.exists()
    np.testing.assert_allclose(survived, local, rtol=0, atol=1e-6)


def sample_slice(tmp_path: Path, n: int = 60) -> Path:
    """The first n lines of the shipped flywheel sample logs."""
    import gzip

    root = Path(__file__).resolve().parents[2] / "sample_logs"
    lines = gzip.open(root / "flywheel_support.jsonl.gz", "rt").read().splitlines()[:n]
    path = tmp_path / "logs" / "support.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + "\n")
    return path


def output_digests(workdir: Path, stage: str, version: str) -> dict[str, str]:
    import json

    manifest = json.loads((workdir / stage / version / "manifest.json").read_text())
    return {o["path"]: o["sha256"] for o in manifest["outputs"] if o["path"].endswith(".parquet")}


def test_cli_engine_ray_writes_the_same_artifacts_as_local(tmp_path):
    """curate and cluster on a slice of the sample logs: --engine ray and --engine local, same files."""
    import json

    from typer.testing import CliRunner

    from slmconvert.cli.app import app

    workdir = tmp_path / "ws"
    runner = CliRunner()

    def invoke(*args: str) -> dict:
        result = runner.invoke(app, [*args, "--workdir", str(workdir), "--json", "--quiet"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    invoke("collect", str(sample_slice(tmp_path)))
    local = invoke("curate", "--engine", "local")
    remote = invoke("curate", "--engine", "ray")
    assert remote["version"] != local["version"] and remote["metrics"]["records"] == 60
    assert output_digests(workdir, "curate", remote["version"]) == output_digests(workdir, "curate", local["version"])

    cache = Workspace(workdir).cache_dir("embeddings")
    clustered = {}
    for engine in ("ray", "local"):
        shutil.rmtree(cache, ignore_errors=True)  # every text embedded by this engine, none from the cache
        run = invoke("cluster", "--engine", engine, "--input", f"curate@{local['version']}")
        assert run["summary"]["embedding_cache_hits"] == 0
        clustered[engine] = output_digests(workdir, "cluster", run["version"])
    assert clustered["ray"] == clustered["local"] and clustered["ray"]


def train_fake(job: int) -> dict:
    """Stands in for training one cluster: reports where it ran."""
    return {"cluster": job, "pid": os.getpid()}


class Doubling:
    """A batch function that notes each time a worker builds it, and may kill its worker once."""

    def __init__(self, built: Path, marker: Path | None = None) -> None:
        (built / f"{os.getpid()}-{len(list(built.iterdir()))}-{id(self)}").touch()
        self.marker = marker

    def __call__(self, batch):
        if self.marker is not None:
            die_once(self.marker)
        return [x * 2 for x in batch]


def test_a_kept_pool_builds_its_batch_function_once_per_worker(tmp_path):
    """Engine.pool: maps after the first reuse the workers (and what they built), results in order;
    a worker killed mid-map is restarted and its batch retried."""
    built = tmp_path / "built"
    built.mkdir()
    pool = Engine(EngineSpec("ray", workers=2)).pool(Doubling, (built,))
    assert [x for batch in pool.map(list(range(10)), 3) for x in batch] == [2 * x for x in range(10)]
    assert [x for batch in pool.map(list(range(5)), 2) for x in batch] == [0, 2, 4, 6, 8]
    assert len(list(built.iterdir())) == 2  # one build per worker for both maps
    pool.close()
    dying = tmp_path / "dying"
    dying.mkdir()
    pool = Engine(EngineSpec("ray", workers=2)).pool(Doubling, (dying, tmp_path / "died"))
    assert [x for batch in pool.map(list(range(12)), 2) for x in batch] == [2 * x for x in range(12)]
    assert (tmp_path / "died").exists() and len(list(dying.iterdir())) == 3  # the killed worker was rebuilt
    pool.close()


def test_clusters_train_in_parallel_tasks_in_job_order():
    from slmconvert.finetune.distributed import train_clusters_in_parallel

    results = train_clusters_in_parallel(train_fake, [3, 1, 2])
    assert [r["cluster"] for r in results] == [3, 1, 2]
    assert all(r["pid"] != os.getpid() for r in results)


@pytest.fixture(scope="module")
def tiny_with_adapter(tmp_path_factory):
    """A tiny base model and a random (so answer-changing) LoRA adapter, on disk for the workers."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from slmconvert.models.tiny import create_tiny_model

    root = tmp_path_factory.mktemp("tiny-generation")
    model_dir = create_tiny_model(root / "model")
    lora = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir), lora).save_pretrained(root / "adapter")
    return str(model_dir), root / "adapter"


def test_evaluation_generation_on_ray_equals_local(tiny_with_adapter):
    """iterate's generator with engine=ray: every answer, token count and log-probability is the one
    this process gives, in order, from worker processes, with progress per returned batch."""
    from slmconvert.iterate.params import IterateParams
    from slmconvert.models.prompt import PromptFormat
    from slmconvert.router.engine_generator import EngineGenerator, evaluation_generator
    from slmconvert.router.generator import PeftGenerator
    from tests.router.fakes import call

    model, adapter = tiny_with_adapter
    records = [call(f"c{i:02d}", order=f"A-{7 ** i}") for i in range(10)]  # prompts of different lengths
    params = IterateParams(engine="ray", ray_workers=2, batch_size=3)
    local = evaluation_generator(params.model_copy(update={"engine": "local"}), "cpu")
    remote = evaluation_generator(params, "cpu")
    assert isinstance(local, PeftGenerator) and isinstance(remote, EngineGenerator)
    assert remote.cache_tag == local.cache_tag  # cached answers stay interchangeable
    expected = local.generate(model, adapter, PromptFormat(), records, 12)
    advanced: list[int] = []
    answers = remote.generate(model, adapter, PromptFormat(), records, 12, advanced.append)
    assert [a.text for a in answers] == [e.text for e in expected] and len(answers) == 10
    assert [a.new_tokens for a in answers] == [e.new_tokens for e in expected]
    for a, e in zip(answers, expected):  # equal up to the rounding of the batch a call was padded into (bf16)
        np.testing.assert_allclose(a.logprobs, e.logprobs, rtol=0, atol=1e-2)
    assert sum(advanced) == 10 and len(advanced) >= 2  # per batch Ray returns (3 calls each, some coalesced)
    assert {a.batch_id.split(":")[0] for a in answers} - {str(os.getpid())} == \
        {a.batch_id.split(":")[0] for a in answers}  # answered by the workers, not this process
    again = remote.generate(model, adapter, PromptFormat(), records[:4], 12)  # a later chunk of the same cluster
    assert [a.text for a in again] == [e.text for e in expected[:4]]
    assert workers(answers) | workers(again) == workers(answers) and len(workers(answers)) <= 2  # the kept ones
    base = remote.generate(model, None, PromptFormat(), records[:4], 12)  # the base model, no adapter
    assert [b.text for b in base] == [e.text for e in local.generate(model, None, PromptFormat(), records[:4], 12)]
    assert not workers(base) & workers(answers)  # new workers for the base model; the adapter's were let go
    remote.close()


def workers(answers) -> set[str]:
    """The worker processes that answered."""
    return {a.batch_id.split(":")[0] for a in answers}


def test_select_zero_shot_on_ray_equals_local(upstream, tiny_models):  # noqa: F811  (the imported fixtures)
    """select's zero-shot measurements with engine=ray: the same answers, scores and choices as local."""
    from slmconvert.select.choose import read_selection
    from slmconvert.select.params import SelectParams
    from slmconvert.stages.runner import execute

    candidates = [tiny_models["small"], tiny_models["large"]]
    fast = {"sample_size": 4, "batch_size": 3, "max_new_tokens": 12, "text_cosine": False, "few_shot": 1,
            "measure_single": True}

    def selected(**engine) -> dict:
        outcome = execute("select", upstream, SelectParams(**fast, **engine), extra={"candidates": candidates},
                          quiet=True)
        return read_selection(outcome.artifact)

    local, remote = selected(engine="local"), selected(engine="ray", ray_workers=2)

    def measured(selection: dict) -> list:
        return [(c["cluster_id"], r["model"], r["primary"], [row["prediction"] for row in r["rows"]])
                for c in selection["clusters"] for r in c["results"]]

    assert measured(remote) == measured(local) and len(measured(local)) == 4
    # the candidates were loaded by the workers, not by this process
    assert all("load_seconds" in e for e in local["candidates"])
    assert not any("load_seconds" in e for e in remote["candidates"])
    assert all(r["timing"]["calls"] == 4 and r["timing"]["wall_seconds"] > 0
               for c in remote["clusters"] for r in c["results"])
    assert [c["chosen"]["model"] for c in remote["clusters"]] == [c["chosen"]["model"] for c in local["clusters"]]


def test_finetune_trains_clusters_in_parallel_ray_tasks(workspace, tiny_model, monkeypatch):  # noqa: F811
    """finetune with --engine ray: each planned cluster trains in its own Ray task, with the plan and
    the results (losses, adapters, outputs) of training them here one after the other."""
    import json

    from typer.testing import CliRunner

    from slmconvert.cli.app import app
    from slmconvert.finetune import distributed

    in_tasks: list[list[int]] = []
    real = distributed.train_clusters_in_parallel

    def spy(train_one, jobs, **kwargs):  # tasks run in other processes: see the test above
        in_tasks.append([task.job.cluster_id for task in jobs])
        return real(train_one, jobs, **kwargs)

    monkeypatch.setattr(distributed, "train_clusters_in_parallel", spy)

    fast = ["--set", "finetune.max_steps=4", "--set", "finetune.learning_rate=0.01", "--set", "finetune.precision=fp32",
            "--set", "finetune.validation_examples=3", "--set", "finetune.max_new_tokens=24",
            "--set", "finetune.reuse_cache=false", "--set", "iterate.promotion_target=0.0"]

    def finetune(engine: str) -> dict:
        result = CliRunner().invoke(app, ["finetune", "--workdir", str(workspace.root), "--json", "--quiet",
                                          "--engine", engine, *fast])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    local = finetune("local")
    assert in_tasks == []
    remote = finetune("ray")
    assert in_tasks == [[0, 1]]  # both planned clusters, at once
    assert remote["summary"]["engine"] == "ray" and local["summary"]["engine"] == "local"
    assert [c["cluster_id"] for c in remote["summary"]["clusters"]] == [0, 1]
    for ran, here in zip(remote["summary"]["clusters"], local["summary"]["clusters"]):
        assert ran["steps"] == here["steps"] == 4 and not ran["reused_from_cache"]
        assert ran["train_loss"] == pytest.approx(here["train_loss"], rel=1e-3)
    for cid in ("0", "1"):
        directory = workspace.root / "finetune" / remote["version"] / cid
        assert (directory / "adapter" / "adapter_model.safetensors").is_file() and (directory / "metrics.json").is_file()

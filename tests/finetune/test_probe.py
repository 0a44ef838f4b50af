"""The throughput probe on a tiny model: what it charges for loading."""

import time

from slmconvert.finetune.budget import make_probe_plan
from slmconvert.finetune.params import FinetuneParams
from slmconvert.finetune.probe import measure


def test_the_load_it_reports_leaves_out_the_one_time_conversion(tiny_model, monkeypatch):
    """The plan charges every cluster the probe's load seconds; converting a GGUF into the model cache
    happens once per machine and must not be among them (it priced a 0.5 s load at 19 s)."""
    import slmconvert.models.loading as loading

    real, converted = loading.model_path, []

    def converting_once(name):
        if not converted:
            converted.append(name)
            time.sleep(1.0)  # the first call builds the cache entry
        return real(name)

    monkeypatch.setattr(loading, "model_path", converting_once)
    speed = measure(str(tiny_model), make_probe_plan(FinetuneParams(device="cpu"), "cpu", 60_000), batch=2)
    assert converted
    assert speed.load_seconds < 1.0
    assert 0.0 < speed.row_step_seconds * 16 < speed.probe_seconds  # a run's tail: one row's step, measured


def test_it_measures_what_a_pass_from_the_frozen_layers_kept_states_costs(tmp_path):
    """With LoRA on the top quarter of the layers, a replayed step runs a quarter of them: it costs
    clearly less than a full one; with LoRA on every layer nothing is replayed (1.0)."""
    from slmconvert.models.tiny import create_tiny_model

    path = str(create_tiny_model(tmp_path / "deep", num_layers=8, hidden_size=128))
    quarter = measure(path, make_probe_plan(FinetuneParams(device="cpu", lora_layers=0.25), "cpu", None), batch=2)
    assert 0.0 < quarter.replay_cost < 0.8
    every = measure(path, make_probe_plan(FinetuneParams(device="cpu", lora_layers=1.0), "cpu", None), batch=2)
    assert every.replay_cost == 1.0
